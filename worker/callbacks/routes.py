"""Operator endpoints of the outbox; auth and error mapping come from the API middleware.

``GET /v1/pixverse/callbacks?state=failed|pending|delivered|superseded|all&limit=100``
    -> ``{"deliveries": [...], "code": 200}``, newest first (default state: failed).
``POST /v1/pixverse/callbacks/redeliver`` with ``deliveryId=<id>`` or ``all=true`` (JSON,
    form or query string) -> ``{"redelivered": N, "code": 200}``; 404 for an unknown id.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from worker.api.bodies import read_fields
from worker.api.responses import json_response
from worker.callbacks.outbox import STATES, CallbackOutbox
from worker.errors import ApiError

MAX_LIMIT = 1000
_STATE_CHOICES = (*STATES, "all")
_TRUE = ("1", "true", "yes", "on")


def register_routes(app: web.Application, outbox: CallbackOutbox) -> None:
    async def list_handler(request: web.Request) -> web.Response:
        state = request.query.get("state", "failed").strip() or "failed"
        if state not in _STATE_CHOICES:
            raise ApiError(400, f"state {state} not supported, must be one of {', '.join(_STATE_CHOICES)}")
        limit = _limit(request.query.get("limit"))
        deliveries = await outbox.list_deliveries(state, limit)
        return json_response({"deliveries": deliveries, "code": 200})

    async def redeliver_handler(request: web.Request) -> web.Response:
        fields = {**request.query, **(await _fields(request))}
        delivery_id = str(fields.get("deliveryId") or "").strip()
        everything = str(fields.get("all", "")).strip().lower() in _TRUE or fields.get("all") is True
        if delivery_id:
            if await outbox.get_delivery(delivery_id) is None:
                raise ApiError(404, f"Unable to locate delivery {delivery_id}")
            count = await outbox.redeliver(delivery_id)
        elif everything:
            count = await outbox.redeliver(all_failed=True)
        else:
            raise ApiError(400, "deliveryId or all=true is required")
        return json_response({"redelivered": count, "code": 200})

    app.router.add_get("/v1/pixverse/callbacks", list_handler)
    app.router.add_post("/v1/pixverse/callbacks/redeliver", redeliver_handler)


def _limit(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return 100
    if not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, f"limit {raw} not supported, must be between 1 and {MAX_LIMIT}")
    return int(raw)


async def _fields(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    return await read_fields(request)
