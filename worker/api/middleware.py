"""The API's one middleware: bearer auth on ``/v1/``, errors as JSON, request metrics.

Every answer under ``/v1/`` is JSON carrying ``code`` (the HTTP status), whatever went wrong:
an ``ApiError`` raised anywhere below, aiohttp's own 404/405/413, or an unexpected exception
(logged with its traceback, answered as a bare 500).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from sqlalchemy.exc import OperationalError

from worker.api.constants import BASE
from worker.api.responses import error_response
from worker.errors import ApiError
from worker.metrics import Metrics

log = logging.getLogger(__name__)

UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not found"
INTERNAL = "Internal error"
DATABASE_BUSY = "Database is busy, try again in a moment"

#: Paths under /v1/ readable without a token: the API's description holds no secrets.
PUBLIC_PATHS = frozenset({f"{BASE}/openapi.json"})


def make_middleware(*, tokens: Sequence[str], max_body_bytes: int, metrics: Metrics) -> Middleware:
    encoded = [t.encode("utf-8") for t in tokens]

    def authorized(request: web.Request) -> bool:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        candidate = presented.strip().encode("utf-8", "surrogateescape")
        # Compare against every token so the time taken does not tell which one was close.
        matches = [hmac.compare_digest(candidate, token) for token in encoded]
        return any(matches)

    @web.middleware
    async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response: web.StreamResponse
        try:
            if _guarded(request.path) and not authorized(request):
                raise ApiError(401, UNAUTHORIZED)
            if request.content_length is not None and request.content_length > max_body_bytes:
                raise web.HTTPRequestEntityTooLarge(
                    max_size=max_body_bytes, actual_size=request.content_length
                )
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc.code, exc.error, **exc.extra)
        except web.HTTPException as exc:
            response = _from_http_exception(exc, max_body_bytes)
        except asyncio.CancelledError:
            raise
        except OperationalError as exc:
            if not _database_busy(exc):
                log.exception("database error in %s %s", request.method, request.path)
                response = error_response(500, INTERNAL)
            else:
                # Another writer held the database past the busy timeout: nothing was written,
                # the client may simply try again.
                log.warning("database busy during %s %s", request.method, request.path)
                response = error_response(503, DATABASE_BUSY)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.path)
            response = error_response(500, INTERNAL)
        metrics.http_requests.labels(_route_name(request), str(response.status)).inc()
        return response

    return api_middleware


def _guarded(path: str) -> bool:
    return path.startswith("/v1/") and path not in PUBLIC_PATHS


def _from_http_exception(exc: web.HTTPException, max_body_bytes: int) -> web.StreamResponse:
    status = exc.status
    if status < 400:
        return exc  # redirects and the like pass through as aiohttp built them
    headers: dict[str, str] = {}
    if status == 404:
        text = NOT_FOUND
    elif status == 405:
        text = "Method not allowed"
        if allow := exc.headers.get("Allow"):
            headers["Allow"] = allow
    elif status == 413:
        text = f"Request body too large, limit is {max_body_bytes} bytes"
    else:
        text = exc.reason
    return error_response(status, text, headers=headers)


def _route_name(request: web.Request) -> str:
    """The route template, so that ids in paths don't multiply the metric's series."""
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    return resource.canonical.rstrip("/") or "/"


def _database_busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return "locked" in text or "busy" in text
