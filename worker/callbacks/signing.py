"""Signing of replyUrl callbacks (Stripe-like), and the receiver's verification recipe.

With ``callbacks.signing_secret`` set, every POST carries::

    X-Pixverse-Timestamp: <unix seconds when the attempt was sent>
    X-Pixverse-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>

``body`` is the exact bytes of the request body (UTF-8 JSON). The timestamp is part of the
signed text, so a captured request cannot be replayed later than the receiver's tolerance;
``X-Pixverse-Delivery`` (stable across retries) lets the receiver drop duplicates. The
signature header may carry several comma-separated ``v1=`` values in the future (secret
rotation); a receiver accepts the request when any of them matches.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300

RECIPE = '''\
import hashlib, hmac, time

def verify_pixverse(secret: str, headers, body: bytes, tolerance: int = 300) -> bool:
    """headers: the request headers; body: the raw request body bytes, before any JSON parsing."""
    ts = headers.get("X-Pixverse-Timestamp", "")
    sig = headers.get("X-Pixverse-Signature", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > tolerance:
        return False  # missing, malformed or stale timestamp: possibly a replay
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest("v1=" + mac, part.strip()) for part in sig.split(","))
'''
"""Receiver-side verification, Python standard library only (for the README).

Use it on the raw body, then deduplicate on ``X-Pixverse-Delivery`` (a retry of a delivery
the receiver already processed carries the same id), and answer 2xx quickly.
"""


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def sign(secret: str, timestamp: int | str, body: str | bytes) -> str:
    """The ``X-Pixverse-Signature`` header value: ``v1=<hex HMAC-SHA256(secret, "<ts>.<body>")>``."""
    message = str(timestamp).encode("ascii") + b"." + _as_bytes(body)
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify(
    secret: str,
    header_ts: str | None,
    header_sig: str | None,
    body: str | bytes,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> bool:
    """True when ``header_sig`` signs ``body`` at ``header_ts`` and the timestamp is fresh."""
    if not header_ts or not header_sig or not header_ts.strip().isdigit():
        return False
    timestamp = int(header_ts.strip())
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, part.strip()) for part in header_sig.split(","))
