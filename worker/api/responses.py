"""JSON responses as the hosted API writes them: UTF-8, ``code`` = the HTTP status."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from aiohttp import web

_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def error_response(
    status: int, error: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    body = {"error": error, **{k: v for k, v in extra.items() if v is not None}, "code": status}
    return json_response(body, status=status, headers=headers)


def no_content() -> web.Response:
    # 204 must not carry a body: the one response that is not JSON.
    return web.Response(status=204)
