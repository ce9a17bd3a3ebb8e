"""Pure pieces: classification, Retry-After, backoff, URL policy, signing and the recipe."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from worker.callbacks.outbox import backoff, classify, parse_retry_after
from worker.callbacks.signing import RECIPE, sign, verify
from worker.callbacks.targets import check_reply_url, forbidden_reason, host_key


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (301, "retry"),
        (308, "retry"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (408, "retry"),
        (410, "failed"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
    ],
)
def test_classify(status: int, outcome: str) -> None:
    assert classify(status) == outcome


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("", now=now) is None
    assert parse_retry_after(None, now=now) is None


def test_backoff_is_full_jitter_under_a_growing_capped_ceiling() -> None:
    rng = random.Random(7)
    for attempts, ceiling in [(1, 2.0), (2, 4.0), (5, 32.0), (20, 600.0), (10_000, 600.0)]:
        values = [backoff(attempts, 2.0, 600.0, rng) for _ in range(200)]
        assert all(0.0 <= v <= ceiling for v in values)
        assert max(values) > ceiling / 2  # spread over the range, not pinned to its bottom


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/hook", True),
        ("http://10.0.0.1:8080/x?y=1", True),
        ("https://user:pw@example.com/hook", True),
        ("ftp://example.com/hook", False),
        ("javascript:alert(1)", False),
        ("https:///nohost", False),
        ("example.com/hook", False),
        ("", False),
        ("https://example.com/" + "a" * 1100, False),
    ],
)
def test_check_reply_url(url: str, ok: bool) -> None:
    assert (check_reply_url(url) is None) is ok


def test_host_key_ignores_port_and_case() -> None:
    assert host_key("http://Example.COM:8080/a") == host_key("https://example.com/b") == "example.com"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "shared"),
        ("::ffff:127.0.0.1", "loopback"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_forbidden_reason(address: str, reason: str | None) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


def test_sign_and_verify() -> None:
    body = b'{"jobid":"j","status":"completed"}'
    signature = sign("s3cret", 1_700_000_000, body)
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature == f"v1={expected}"
    assert sign("s3cret", "1700000000", body.decode()) == signature
    assert verify("s3cret", "1700000000", signature, body, now=1_700_000_100)
    assert verify("s3cret", "1700000000", f"v1=deadbeef, {signature}", body, now=1_700_000_000)
    assert not verify("s3cret", "1700000000", signature, body, now=1_700_000_301)  # stale
    assert not verify("s3cret", "1700000001", signature, body, now=1_700_000_000)
    assert not verify("s3cret", "abc", signature, body)
    assert not verify("s3cret", None, signature, body)


def test_the_readme_recipe_accepts_our_signature_and_refuses_others() -> None:
    namespace: dict[str, object] = {}
    exec(RECIPE, namespace)
    verify_pixverse = namespace["verify_pixverse"]

    body = b'{"jobid":"j"}'
    ts = str(int(time.time()))
    headers = {"X-Pixverse-Timestamp": ts, "X-Pixverse-Signature": sign("k", ts, body)}
    assert verify_pixverse("k", headers, body)  # type: ignore[operator]
    assert not verify_pixverse("k", headers, body + b"x")  # type: ignore[operator]
    assert not verify_pixverse("other", headers, body)  # type: ignore[operator]
    assert not verify_pixverse("k", {**headers, "X-Pixverse-Timestamp": "1"}, body)  # type: ignore[operator]
    assert len(RECIPE.strip().splitlines()) <= 12
