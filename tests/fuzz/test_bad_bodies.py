"""Explicit bad input against the live daemon: every unreadable body gets its documented 4xx.

Run on each endpoint that reads a body (create, account POST, callbacks/redeliver), so a new
body-reading endpoint that forgets ``read_fields`` shows up here.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fuzz.checks import check_answer
from tests.fuzz.live import AUTH, LiveDaemon
from worker.api.validation import TOO_LONG

BOUNDARY = "----fuzzBoundary7MA4YWxkTrZu0gW"
MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDaemon]:
    daemon = LiveDaemon(Path(tmp_path_factory.mktemp("bodies")), accounts=1, api={"max_body_bytes": MAX_BODY}).start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def paths(live: LiveDaemon) -> dict[str, str]:
    channel = str(live.accounts[0].channel_id)
    return {
        "create": "/v1/pixverse/create",
        "account": f"/v1/pixverse/account/{channel[:-1]}9",
        "redeliver": "/v1/pixverse/callbacks/redeliver",
    }


def post(live: LiveDaemon, path: str, body: bytes, content_type: str | None) -> tuple[int, dict[str, Any]]:
    headers = dict(AUTH)
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = requests.post(live.base_url + path, data=body, headers=headers, timeout=30)
    decoded = check_answer(response.status_code, response.headers.get("Content-Type", ""), response.content, what=path)
    return response.status_code, decoded


def part(name: str, value: bytes) -> bytes:
    return f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
GOOD_MULTIPART = part("prompt", b"a cat") + part("style", b"Realistic") + f"--{BOUNDARY}--\r\n".encode()

# (id, body, content type, expected status, expected error: exact text or a prefix ending in "…")
BAD_BODIES: list[tuple[str, bytes, str | None, int, str]] = [
    ("json-malformed", b'{"prompt": "a cat", ', "application/json", 400, "Malformed JSON body: …"),
    ("json-trailing-garbage", b'{"prompt": "a"} x', "application/json", 400, "Malformed JSON body: …"),
    ("json-array", b'["prompt", "a cat"]', "application/json", 400, "Request body must be a JSON object"),
    ("json-string", b'"a cat"', "application/json", 400, "Request body must be a JSON object"),
    ("json-number", b"42", "application/json", 400, "Request body must be a JSON object"),
    ("json-null", b"null", "application/json", 400, "Request body must be a JSON object"),
    ("json-empty", b"", "application/json", 400, "Request body is empty, expected a JSON object"),
    ("json-not-utf8", b'{"prompt": "\xff\xfe cat"}', "application/json", 400, "Request body is not valid UTF-8"),
    (
        "json-latin1-charset",
        b'{"prompt": "caf\xe9"}',
        "application/json; charset=latin-1",
        400,
        "Request body is not valid UTF-8",
    ),
    ("json-huge-int", b'{"maxJobs": ' + b"9" * 5000 + b"}", "application/json", 400, "Malformed JSON body: …"),
    (
        "json-deep-nesting",
        b'{"prompt": ' + b"[" * 100_00 + b"]" * 100_00 + b"}",
        "application/json",
        400,
        "Malformed JSON body: nested too deeply",
    ),
    ("text-plain", b"prompt=a cat", "text/plain", 400, "Unsupported Content-Type text/plain, …"),
    ("xml", b"<prompt>a</prompt>", "application/xml", 400, "Unsupported Content-Type application/xml, …"),
    (
        "multipart-no-boundary",
        GOOD_MULTIPART,
        "multipart/form-data",
        400,
        "Malformed multipart/form-data body: the Content-Type has no boundary",
    ),
    (
        "multipart-wrong-boundary",
        GOOD_MULTIPART,
        "multipart/form-data; boundary=other",
        400,
        "Malformed multipart/form-data body",
    ),
    ("multipart-empty-boundary", GOOD_MULTIPART, "multipart/form-data; boundary=", 400, "…"),
    (
        "multipart-truncated",
        GOOD_MULTIPART[: len(GOOD_MULTIPART) // 2],
        MULTIPART,
        400,
        "Malformed multipart/form-data body",
    ),
    ("multipart-no-final-boundary", part("prompt", b"a cat"), MULTIPART, 400, "Malformed multipart/form-data body"),
    ("multipart-garbage", b"\x00\x01\x02 not multipart at all", MULTIPART, 400, "Malformed multipart/form-data body"),
    (
        "multipart-not-utf8",
        part("prompt", b"caf\xe9 \xff") + part("style", b"Realistic") + f"--{BOUNDARY}--\r\n".encode(),
        MULTIPART,
        400,
        "Request body is not valid UTF-8",
    ),
    (
        "multipart-file-not-utf8",
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="prompt"; filename="p.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\n".encode()
        + b"\xff\xfe\r\n"
        + f"--{BOUNDARY}--\r\n".encode(),
        MULTIPART,
        400,
        "Request body is not valid UTF-8",
    ),
    (
        "urlencoded-not-utf8",
        b"prompt=caf%E9&style=Realistic",
        "application/x-www-form-urlencoded",
        400,
        "Request body is not valid UTF-8",
    ),
    (
        "urlencoded-raw-not-utf8",
        b"prompt=caf\xe9&style=Realistic",
        "application/x-www-form-urlencoded",
        400,
        "Request body is not valid UTF-8",
    ),
    ("urlencoded-bad-charset", b"prompt=a", "application/x-www-form-urlencoded; charset=nope-42", 400, "…"),
]


def matches(error: str, expected: str) -> bool:
    if expected.endswith("…"):
        return error.startswith(expected[:-1])
    return error == expected


@pytest.mark.parametrize("endpoint", ["create", "account", "redeliver"])
@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_BODIES],
)
def test_unreadable_bodies_get_their_documented_4xx(
    live: LiveDaemon,
    paths: dict[str, str],
    endpoint: str,
    body: bytes,
    content_type: str | None,
    status: int,
    error: str,
) -> None:
    if endpoint == "redeliver" and not body:
        error = "deliveryId or all=true is required"  # its body is optional: empty means no fields
    got_status, got = post(live, paths[endpoint], body, content_type)
    assert got_status == status, got
    assert matches(got["error"], error), got


def test_the_good_multipart_body_is_accepted(live: LiveDaemon) -> None:
    """The control case of the multipart variants above."""
    status, body = post(live, "/v1/pixverse/create", GOOD_MULTIPART, MULTIPART)
    assert status == 200 and body["prompt"] == "a cat", body


@pytest.mark.parametrize("kind", ["json", "multipart", "urlencoded"])
@pytest.mark.parametrize("name", ["prompt", "negative_prompt"])
def test_513_characters_is_the_documented_too_long(live: LiveDaemon, kind: str, name: str) -> None:
    fields = {"prompt": "a cat", "style": "Realistic", name: "é" * 513}
    if kind == "json":
        status, body = post(live, "/v1/pixverse/create", json.dumps(fields).encode(), "application/json")
    elif kind == "multipart":
        raw = b"".join(part(k, v.encode()) for k, v in fields.items()) + f"--{BOUNDARY}--\r\n".encode()
        status, body = post(live, "/v1/pixverse/create", raw, MULTIPART)
    else:
        from urllib.parse import urlencode

        status, body = post(
            live, "/v1/pixverse/create", urlencode(fields).encode(), "application/x-www-form-urlencoded"
        )
    assert (status, body["error"]) == (400, TOO_LONG)


@pytest.mark.parametrize("name", ["replyUrl", "replyRef"])
def test_1025_characters_is_the_documented_too_long(live: LiveDaemon, name: str) -> None:
    value = "https://example.com/" + "x" * 1005 if name == "replyUrl" else "x" * 1025
    fields = {"prompt": "a cat", "style": "Realistic", name: value}
    status, body = post(live, "/v1/pixverse/create", json.dumps(fields).encode(), "application/json")
    assert (status, body["error"]) == (400, TOO_LONG)


@pytest.mark.parametrize("endpoint", ["create", "account", "redeliver"])
@pytest.mark.parametrize("content_type", ["application/json", MULTIPART, "application/x-www-form-urlencoded"])
def test_oversize_bodies_are_413(live: LiveDaemon, paths: dict[str, str], endpoint: str, content_type: str) -> None:
    big = b'{"prompt": "' + b"x" * (MAX_BODY + 10) + b'"}'
    status, body = post(live, paths[endpoint], big, content_type)
    assert status == 413, body
    assert body["error"] == f"Request body too large, limit is {MAX_BODY} bytes"


@pytest.mark.parametrize("endpoint", ["create", "account", "redeliver"])
@pytest.mark.parametrize("content_type", ["application/json", MULTIPART, "application/x-www-form-urlencoded"])
def test_oversize_chunked_bodies_are_413(
    live: LiveDaemon, paths: dict[str, str], endpoint: str, content_type: str
) -> None:
    """No Content-Length to refuse up front: the limit holds while reading."""
    if content_type == MULTIPART:
        payload = part("prompt", b"x" * (MAX_BODY + 10)) + f"--{BOUNDARY}--\r\n".encode()
    else:
        payload = b'{"prompt": "' + b"x" * (MAX_BODY + 10) + b'"}'
    conn = http.client.HTTPConnection("127.0.0.1", int(live.base_url.rsplit(":", 1)[1]), timeout=30)
    try:
        conn.putrequest("POST", paths[endpoint])
        for name, value in {**AUTH, "Content-Type": content_type, "Transfer-Encoding": "chunked"}.items():
            conn.putheader(name, value)
        conn.endheaders()
        step = 8192
        try:
            for i in range(0, len(payload), step):
                chunk = payload[i : i + step]
                conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before the whole body is sent
        response = conn.getresponse()
        body = response.read()
        decoded = check_answer(response.status, response.getheader("Content-Type", ""), body, what="chunked")
        assert response.status == 413, decoded
    finally:
        conn.close()
