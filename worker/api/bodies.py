"""Request bodies: multipart/form-data, application/x-www-form-urlencoded and JSON read alike.

The result is a plain ``{name: value}`` mapping for ``validation``; every way a body can be
unreadable becomes ``ApiError(400)`` with a text that says what is wrong.
"""

from __future__ import annotations

import json
import logging
from typing import Any

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
    if content_type in (MULTIPART, URLENCODED):
        return await _read_form(request)
    body = await request.read()
    # aiohttp reports a missing Content-Type as application/octet-stream.
    if "Content-Type" not in request.headers:
        return _parse_json(body) if body.strip() else {}
    raise ApiError(
        400,
        f"Unsupported Content-Type {content_type}, use {', '.join(ACCEPTED)}",
    )


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
    if not isinstance(data, dict):
        raise ApiError(400, NOT_OBJECT)
    return data


async def _read_form(request: web.Request) -> dict[str, Any]:
    if (
        request.content_type == MULTIPART
        and "boundary=" not in request.headers.get("Content-Type", "").lower()
    ):
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
