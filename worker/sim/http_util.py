"""JSON responses the way Discord sends them.

discord.py-self parses a body as JSON only when ``Content-Type`` is exactly
``application/json``; aiohttp's ``json_response`` appends ``; charset=utf-8`` and login then
fails (field notes), so every JSON answer goes through here.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def json_response(data: Any, status: int = 200) -> web.Response:
    resp = web.Response(body=json.dumps(data, separators=(",", ":")).encode(), status=status)
    # Set the header directly: `content_type=` would let aiohttp add a charset.
    resp.headers["Content-Type"] = "application/json"
    return resp


def error(status: int, code: int = 0, message: str | None = None) -> web.Response:
    text = message or {
        401: "401: Unauthorized",
        403: "403: Forbidden",
        404: "404: Not Found",
        405: "405: Method Not Allowed",
        500: "500: Internal Server Error",
        502: "502: Bad Gateway",
        503: "503: Service Unavailable",
    }.get(status, str(status))
    return json_response({"message": text, "code": code}, status)
