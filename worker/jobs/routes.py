"""Operator endpoint for the bot messages the daemon kept aside."""

from __future__ import annotations

from aiohttp import web

from worker.errors import ApiError
from worker.jobs.bot_messages import REASONS, BotMessageStore

MESSAGES_KEY = web.AppKey("bot_messages", BotMessageStore)


def register_routes(app: web.Application, store: BotMessageStore) -> None:
    app[MESSAGES_KEY] = store
    app.router.add_get("/v1/pixverse/messages", list_messages)
    app.router.add_get("/v1/pixverse/messages/", list_messages)


async def list_messages(request: web.Request) -> web.Response:
    """``GET /v1/pixverse/messages?reason=unclassified&limit=100``: newest first."""
    reason = request.query.get("reason") or None
    if reason is not None and reason not in REASONS:
        raise ApiError(400, f"reason {reason} not supported, must be one of {', '.join(REASONS)}")
    raw_limit = request.query.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise ApiError(400, f"limit {raw_limit} is not valid, must be between 1 and 1000")
    store = request.app[MESSAGES_KEY]
    messages = await store.list(reason=reason, limit=int(raw_limit))
    return web.json_response({"messages": messages, "counts": await store.counts(), "code": 200})
