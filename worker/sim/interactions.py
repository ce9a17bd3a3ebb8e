"""``POST /interactions``: Discord's side of invoking a slash command or pressing a button.

Discord validates the request (auth, session, command id/version/options or message/custom_id),
answers 204, and only THEN sends INTERACTION_CREATE ``{id, nonce}`` to the invoking session
(2.1.0 registers its wait after the POST returns, so an event that beats the 204 is missed).
The body comes as multipart with a ``payload_json`` part (commands) or as plain JSON (buttons).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .bot import InteractionContext
from .commands import CommandError, invalid_form_body
from .events import InteractionRecord
from .http_util import json_response

if TYPE_CHECKING:
    from .bot import SimBot
    from .events import SimEvents
    from .gateway import GatewayHub
    from .world import SimUser, World

log = logging.getLogger(__name__)


class InteractionEndpoint:
    def __init__(self, world: World, hub: GatewayHub, bot: SimBot, events: SimEvents) -> None:
        self.world = world
        self.hub = hub
        self.bot = bot
        self.events = events
        self.event_delay = 0.05
        """Seconds between the 204 and INTERACTION_CREATE (real Discord: tens of ms or more)."""
        self.rate_limit_per_sec: float | None = None
        """Per-user interaction rate above which Discord answers 429; None: no limit."""
        self.rate_limit_retry_after = 1.0
        self._recent: dict[int, collections.deque[float]] = collections.defaultdict(collections.deque)

    async def handle(self, request: web.Request, user: SimUser) -> web.StreamResponse:
        try:
            payload = await self._read_payload(request)
        except ValueError as exc:
            return json_response(
                {"code": 50109, "message": f"The request body contains invalid JSON. ({exc})"}, 400
            )

        limited = self._rate_limited(user.id)
        if limited is not None:
            return limited

        try:
            ctx = self._validate(payload, user)
        except CommandError as exc:
            self._record(payload, user, None, exc_status(exc))
            return json_response(exc.body, exc_status(exc))

        self._record(payload, user, ctx, 204)
        response = web.Response(status=204)
        # Write the 204 out before any gateway event can be scheduled.
        await response.prepare(request)
        await response.write_eof()
        asyncio.get_running_loop().call_later(self.event_delay, self.bot.spawn, self.bot.handle(ctx))
        return response

    @staticmethod
    async def _read_payload(request: web.Request) -> dict[str, Any]:
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            raw = form.get("payload_json")
            if raw is None:
                raise ValueError("payload_json missing")
            text = raw if isinstance(raw, str) else raw.file.read().decode()  # type: ignore[union-attr]
        else:
            text = await request.text()
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data

    def _rate_limited(self, user_id: int) -> web.Response | None:
        limit = self.rate_limit_per_sec
        if not limit:
            return None
        now = time.monotonic()
        recent = self._recent[user_id]
        while recent and now - recent[0] > 1.0:
            recent.popleft()
        if len(recent) >= limit:
            retry_after = max(0.05, 1.0 - (now - recent[0])) if recent else self.rate_limit_retry_after
            body = {
                "message": "You are being rate limited.",
                "retry_after": round(retry_after, 3),
                "global": False,
            }
            resp = json_response(body, 429)
            resp.headers["Retry-After"] = str(max(1, round(retry_after)))
            resp.headers["X-RateLimit-Scope"] = "user"
            return resp
        recent.append(now)
        return None

    def _validate(self, payload: dict[str, Any], user: SimUser) -> InteractionContext:
        itype = payload.get("type")
        try:
            channel_id = int(payload.get("channel_id") or 0)
        except (TypeError, ValueError):
            channel_id = 0
        channel = self.world.channel(channel_id)
        if channel is None:
            raise CommandError({"message": "Unknown Channel", "code": 10003})
        if not self.world.can_see(user.id, channel_id):
            raise CommandError({"message": "Missing Access", "code": 50001})
        session_id = str(payload.get("session_id") or "")
        if self.hub.live_session(session_id, user.id) is None:
            raise invalid_form_body(
                {
                    "session_id": {
                        "_errors": [{"code": "SESSION_ID_INVALID", "message": "Invalid session id."}]
                    }
                }
            )
        if str(payload.get("application_id")) != str(self.world.bot_user.id):
            raise CommandError({"message": "Unknown Application", "code": 10002})
        data = payload.get("data")
        if not isinstance(data, dict):
            raise invalid_form_body(
                {"data": {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}}
            )
        nonce = payload.get("nonce")
        base = dict(
            interaction_id=self.world.snowflakes.next(),
            user=user,
            channel_id=channel_id,
            session_id=session_id,
            nonce=str(nonce) if nonce is not None else None,
        )
        if itype == 2:
            cmd, options = self.world.commands.validate(data)
            return InteractionContext(name=cmd.name, type=2, options=options, **base)  # type: ignore[arg-type]
        if itype == 3:
            return self._validate_component(payload, data, base)
        raise invalid_form_body(
            {
                "type": {
                    "_errors": [
                        {"code": "BASE_TYPE_CHOICES", "message": "Value must be one of {2, 3, 4, 5}."}
                    ]
                }
            }
        )

    def _validate_component(
        self, payload: dict[str, Any], data: dict[str, Any], base: dict[str, Any]
    ) -> InteractionContext:
        try:
            message_id = int(payload.get("message_id") or 0)
        except (TypeError, ValueError):
            message_id = 0
        message = self.world.message(message_id)
        if message is None or int(message["channel_id"]) != base["channel_id"]:
            raise CommandError({"message": "Unknown Message", "code": 10008})
        custom_id = data.get("custom_id")
        ids = {
            c.get("custom_id") for row in message.get("components") or [] for c in row.get("components", [])
        }
        if not isinstance(custom_id, str) or custom_id not in ids:
            raise invalid_form_body(
                {
                    "data": {
                        "custom_id": {
                            "_errors": [
                                {
                                    "code": "COMPONENT_VALIDATION_FAILED",
                                    "message": "Component validation failed",
                                }
                            ]
                        }
                    }
                }
            )
        return InteractionContext(name=custom_id, type=3, message_id=message_id, **base)

    def _record(
        self, payload: dict[str, Any], user: SimUser, ctx: InteractionContext | None, status: int
    ) -> None:
        raw_data = payload.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        self.events.interactions.append(
            InteractionRecord(
                interaction_id=ctx.interaction_id if ctx else 0,
                user_id=user.id,
                channel_id=ctx.channel_id if ctx else 0,
                type=int(payload.get("type") or 0) if str(payload.get("type", "")).isdigit() else 0,
                name=ctx.name if ctx else str(data.get("name") or data.get("custom_id") or ""),
                options=dict(ctx.options) if ctx else {},
                nonce=ctx.nonce if ctx else None,
                session_id=ctx.session_id if ctx else str(payload.get("session_id") or ""),
                status=status,
            )
        )


def exc_status(exc: CommandError) -> int:
    code = exc.body.get("code")
    if code == 50001:
        return 403
    if code in (10002, 10003, 10008, 10063):
        return 404
    return 400
