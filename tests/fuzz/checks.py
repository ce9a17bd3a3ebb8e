"""What every answer of the API must look like, whatever was sent."""

from __future__ import annotations

import json
import re
from typing import Any

# The texts the create validation may answer with: the seed's six, then the daemon's own for
# fields the seed leaves unchecked (maxJobs, replyUrl, ids, non-text JSON values).
CREATE_400 = [
    re.compile(p, re.S)
    for p in (
        r"prompt, discord, server or channel value is missing",
        r"prompt, negative_prompt, replyRef or replyUrl is too long",
        r"style is missing or empty",
        r"style .* not supported, must be one of Realistic, Anime, 3D Animation",
        r"aspect_ratio .* not supported, must be one of 16:9, 9:16, 1:1, 4:3, 3:4",
        r"character .* not supported, must be one of eula, ganyu, hutao, .*yaemiko",
        r"maxJobs .* is not valid, must be between 1 and 10",
        r"replyUrl .* is not a valid http\(s\) URL",
        r"(server|channel) .* is not valid Discord (server|channel) id",
        r"\w+ must be a string",
    )
]


def is_create_400(text: str) -> bool:
    return any(p.fullmatch(text) for p in CREATE_400)


def _is_account_map(body: Any) -> bool:
    return isinstance(body, dict) and bool(body) and all(isinstance(v, dict) and "maxJobs" in v for v in body.values())


def check_answer(status: int, content_type: str, body: bytes, *, what: str = "", path: str = "") -> Any:
    """No 5xx, no traceback, JSON with ``code`` == status (204: empty). Returns the decoded body.

    ``GET /metrics`` is the one non-JSON answer: the Prometheus text format."""
    assert status < 500, f"{what}: {status} {body[:500]!r}"
    assert b"Traceback" not in body and b'File "' not in body, f"{what}: traceback in body {body[:500]!r}"
    if path == "/metrics" and status == 200:
        assert content_type.startswith("text/plain"), f"{what}: {content_type}"
        return body.decode("utf-8")
    if status == 204:
        assert body == b"", what
        return None
    assert content_type.split(";")[0].strip() == "application/json", f"{what}: {content_type} {body[:200]!r}"
    decoded = json.loads(body)
    if status >= 400:
        assert isinstance(decoded, dict), f"{what}: {decoded!r}"
        assert decoded.get("code") == status, f"{what}: {status} {decoded!r}"
        assert isinstance(decoded.get("error"), str) and decoded["error"], f"{what}: {decoded!r}"
    elif isinstance(decoded, dict) and not _is_account_map(decoded) and "openapi" not in decoded:
        # The executing-jobs list and the account map are bare collections, as the hosted API has them.
        assert decoded.get("code") == status, f"{what}: {status} {decoded!r}"
    return decoded
