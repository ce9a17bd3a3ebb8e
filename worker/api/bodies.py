"""Request bodies: multipart/form-data, application/x-www-form-urlencoded and JSON read alike.

The result is a plain ``{name: value}`` mapping for ``validation``; every way a body can be
unreadable becomes ``ApiError(400)`` with a text that says what is wrong.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from worker.errors import ApiError

log = logging.getLogger(__name__)

JSON = "application/json"
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
ACCEPTED = (JSON, MULTIPART, URLENCODED)

NOT_UTF8 = "Request body is not valid UTF-8"
NOT_OBJECT = "Request body must be a JSON object"


async def read_fields(request: web.Request) -> dict[str, Any]:
    content_type = request.content_type
    if content_type == JSON or content_type.endswith("+json"):
        return _parse_json(await request.read())
    if content_type == URLENCODED:
        body = await request.read()
        if body.lstrip().startswith(b"{"):
            # ``curl -d '{...}'`` without -H sends JSON labelled as a form.
            return _parse_json(body)
        return _parse_urlencoded(body, request.charset)
    if content_type == MULTIPART:
        return await _read_multipart(request)
    body = await request.read()
    # No Content-Type (aiohttp reports it as octet-stream) or an explicit "just bytes": a client
    # that forgot the header; JSON is the likeliest.
    if content_type == "application/octet-stream":
        return _parse_json(body) if body.strip() else {}
    raise ApiError(400, f"Unsupported Content-Type {content_type}, use {', '.join(ACCEPTED)}")


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, NOT_UTF8) from None
    if not text.strip():
        raise ApiError(400, "Request body is empty, expected a JSON object")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ApiError(400, f"Malformed JSON body: {exc}") from None
    except RecursionError:
        # json.loads recurses per nesting level: ``[[[[...]]]]`` must not be a 500.
        raise ApiError(400, "Malformed JSON body: nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, NOT_OBJECT)
    return data


def _parse_urlencoded(body: bytes, charset: str | None) -> dict[str, Any]:
    # aiohttp's own parser replaces undecodable bytes; a mangled prompt must be refused instead.
    try:
        text = body.decode(charset or "utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset or "utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ApiError(400, NOT_UTF8) from None
    except (LookupError, ValueError):
        raise ApiError(400, f"Malformed {URLENCODED} body") from None
    fields: dict[str, Any] = {}
    for name, value in pairs:
        fields.setdefault(name, value)  # the first occurrence wins
    return fields


async def _read_multipart(request: web.Request) -> dict[str, Any]:
    if "boundary=" not in request.headers.get("Content-Type", "").lower():
        raise ApiError(400, "Malformed multipart/form-data body: the Content-Type has no boundary")
    try:
        form = await request.post()
    except web.HTTPException:
        raise  # 413 from client_max_size
    except UnicodeDecodeError:
        raise ApiError(400, NOT_UTF8) from None
    except Exception as exc:
        # aiohttp's parsers raise assorted errors (ValueError, AssertionError, ...) on bad input.
        log.debug("unreadable %s body: %r", request.content_type, exc)
        raise ApiError(400, f"Malformed {request.content_type} body") from None
    fields: dict[str, Any] = {}
    for name, value in form.items():
        if name in fields:
            continue  # the first occurrence wins
        if isinstance(value, web.FileField):
            # A text value sent as a file part (curl -F name=@file): use its content.
            try:
                value = value.file.read().decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, NOT_UTF8) from None
        fields[name] = value
    return fields
