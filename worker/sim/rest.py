"""Discord's REST API under ``/api/v9``, as much of it as discord.py-self and the daemon use.

One catch-all handler matches the path against a small route table, so that every request is
counted, fault rules (``sim.faults.rest_error``) apply to any route, and anything unknown gets
Discord's JSON 404 instead of aiohttp's HTML one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import payloads
from .http_util import error, json_response
from .media import sample_video

if TYPE_CHECKING:
    from .bot import SimBot
    from .events import SimEvents
    from .faults import Faults
    from .interactions import InteractionEndpoint
    from .world import SimUser, World

log = logging.getLogger(__name__)

Handler = Callable[[web.Request, "SimUser", dict[str, str]], Awaitable[web.StreamResponse]]

API_PREFIX = "/api/v9"


class RestApi:
    def __init__(
        self, world: World, bot: SimBot, faults: Faults, events: SimEvents, interactions: InteractionEndpoint
    ) -> None:
        self.world = world
        self.bot = bot
        self.faults = faults
        self.events = events
        self.interactions = interactions
        self.routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self._add("GET", r"/users/@me", self.get_me)
        self._add("GET", r"/users/@me/settings-proto/(?P<type>\d+)", self.settings_proto)
        self._add("GET", r"/users/@me/guilds", self.my_guilds)
        self._add("GET", r"/guilds/(?P<guild_id>\d+)/application-command-index", self.command_index)
        self._add("GET", r"/guilds/(?P<guild_id>\d+)", self.get_guild)
        self._add("GET", r"/channels/(?P<channel_id>\d+)", self.get_channel)
        self._add("GET", r"/channels/(?P<channel_id>\d+)/messages", self.get_messages)
        self._add("POST", r"/channels/(?P<channel_id>\d+)/messages", self.post_message)
        self._add("GET", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)", self.get_message)
        self._add("POST", r"/channels/(?P<channel_id>\d+)/messages/(?P<message_id>\d+)/ack", self.no_content)
        self._add("POST", r"/interactions", self.post_interaction)
        self._add("POST", r"/science", self.no_content)
        self._add("POST", r"/metrics(/v2)?", self.no_content)
        self._add("GET", r"/experiments", self.experiments)

    def _add(self, method: str, pattern: str, handler: Handler) -> None:
        template = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
        self.routes.append((method, re.compile(f"^{pattern}$"), template, handler))

    def setup(self, app: web.Application) -> None:
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self.dispatch)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self.cdn)
        app.router.add_get("/media-proxy/attachments/{channel_id}/{attachment_id}/{filename}", self.cdn)

    # -- dispatch --------------------------------------------------------------------------

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"].rstrip("/")
        try:
            return await self._dispatch(request, path)
        except web.HTTPException:
            raise
        except Exception:
            # Odd client input must never take the sim down: log it and answer like Discord would.
            log.exception("rest: %s %s failed", request.method, path)
            return error(500)

    async def _dispatch(self, request: web.Request, path: str) -> web.StreamResponse:
        match: tuple[str, Handler | None, dict[str, str]] | None = None
        for method, regex, pattern, handler in self.routes:
            m = regex.match(path)
            if m is not None:
                if method == request.method:
                    match = (pattern, handler, m.groupdict())
                    break
                match = match or (pattern, None, {})
        key = f"{request.method} {match[0] if match else path}"
        self.events.rest_requests[key] += 1

        rule = self.faults.match_rest(request.method, path)
        if rule is not None:
            log.info("fault: %s %s -> %s", request.method, path, rule.status)
            if rule.status == 429:
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": rule.retry_after,
                    "global": rule.is_global,
                }
                resp = json_response(body, 429)
                resp.headers["Retry-After"] = str(max(1, round(rule.retry_after)))
                # Discord's own 429s come through its proxy (`Via`); without it the library
                # assumes a Cloudflare ban and logs more loudly.
                resp.headers["Via"] = "1.1 google"
                return resp
            return error(rule.status)

        token = request.headers.get("Authorization")
        user = self.world.user_for_token(token)
        if user is None:
            return error(401)
        if match is None:
            self.events.unknown_routes[key] += 1
            log.debug("rest: unknown route %s", key)
            return error(404)
        if match[1] is None:
            return error(405)
        return await match[1](request, user, match[2])

    # -- handlers --------------------------------------------------------------------------

    async def get_me(self, request: web.Request, user: SimUser, _: dict[str, str]) -> web.StreamResponse:
        return json_response(payloads.self_user(user))

    async def settings_proto(
        self, request: web.Request, user: SimUser, _: dict[str, str]
    ) -> web.StreamResponse:
        return json_response({"settings": ""})

    async def experiments(self, request: web.Request, user: SimUser, _: dict[str, str]) -> web.StreamResponse:
        return json_response({"fingerprint": "", "assignments": [], "guild_experiments": []})

    async def no_content(self, request: web.Request, user: SimUser, _: dict[str, str]) -> web.StreamResponse:
        return web.Response(status=204)

    async def my_guilds(self, request: web.Request, user: SimUser, _: dict[str, str]) -> web.StreamResponse:
        g = self.world.guild
        return json_response(
            [
                {
                    "id": str(g.id),
                    "name": g.name,
                    "icon": None,
                    "owner": g.owner_id == user.id,
                    "permissions": payloads.EVERYONE_PERMISSIONS,
                    "features": [],
                }
            ]
        )

    async def get_guild(self, request: web.Request, user: SimUser, p: dict[str, str]) -> web.StreamResponse:
        g = self.world.guild
        if int(p["guild_id"]) != g.id or user.id not in g.members:
            return error(404, 10004, "Unknown Guild")
        data = payloads.guild(g, user.id)
        props = data.pop("properties")
        data.update(props)
        return json_response(data)

    async def command_index(
        self, request: web.Request, user: SimUser, p: dict[str, str]
    ) -> web.StreamResponse:
        g = self.world.guild
        if int(p["guild_id"]) != g.id or user.id not in g.members:
            return error(404, 10004, "Unknown Guild")
        bot = self.world.bot_user
        application = {
            "id": str(bot.id),
            "name": "PixVerse",
            "description": "AI video generation",
            "icon": bot.avatar,
            "bot": payloads.user(bot),
            "flags": 0,
        }
        return json_response(self.world.commands.index(application))

    def _visible_channel(self, user: SimUser, channel_id: str) -> int | None:
        cid = int(channel_id)
        return cid if self.world.can_see(user.id, cid) else None

    async def get_channel(self, request: web.Request, user: SimUser, p: dict[str, str]) -> web.StreamResponse:
        cid = self._visible_channel(user, p["channel_id"])
        ch = self.world.channel(cid) if cid else None
        if ch is None:
            return error(404, 10003, "Unknown Channel")
        return json_response(payloads.channel(ch))

    async def get_messages(
        self, request: web.Request, user: SimUser, p: dict[str, str]
    ) -> web.StreamResponse:
        cid = self._visible_channel(user, p["channel_id"])
        if cid is None:
            return error(404, 10003, "Unknown Channel")
        q = request.query
        try:
            limit = int(q.get("limit", 50))
            before = int(q["before"]) if q.get("before") else None
            after = int(q["after"]) if q.get("after") else None
            around = int(q["around"]) if q.get("around") else None
        except ValueError:
            return json_response(
                {
                    "code": 50035,
                    "message": "Invalid Form Body",
                    "errors": {
                        "limit": {"_errors": [{"code": "NUMBER_TYPE_COERCE", "message": "Value is not int."}]}
                    },
                },
                400,
            )
        return json_response(self.world.history(cid, limit=limit, before=before, after=after, around=around))

    async def get_message(self, request: web.Request, user: SimUser, p: dict[str, str]) -> web.StreamResponse:
        cid = self._visible_channel(user, p["channel_id"])
        msg = self.world.message(int(p["message_id"]))
        if cid is None or msg is None or int(msg["channel_id"]) != cid:
            return error(404, 10008, "Unknown Message")
        return json_response(msg)

    async def post_message(
        self, request: web.Request, user: SimUser, p: dict[str, str]
    ) -> web.StreamResponse:
        cid = self._visible_channel(user, p["channel_id"])
        if cid is None:
            return error(404, 10003, "Unknown Channel")
        try:
            body: Any = await request.json() if request.content_type == "application/json" else {}
        except ValueError:
            body = {}
        content = str(body.get("content") or "") if isinstance(body, dict) else ""
        extra = {"nonce": body.get("nonce")} if isinstance(body, dict) and body.get("nonce") else None
        return json_response(self.world.create_message(cid, user, content, extra=extra))

    async def post_interaction(
        self, request: web.Request, user: SimUser, _: dict[str, str]
    ) -> web.StreamResponse:
        return await self.interactions.handle(request, user)

    # -- CDN -------------------------------------------------------------------------------

    async def cdn(self, request: web.Request) -> web.StreamResponse:
        self.events.rest_requests["GET /attachments"] += 1
        rule = self.faults.match_rest("GET", request.path)
        if rule is not None:
            return error(rule.status)
        if not request.match_info["filename"].endswith(".mp4"):
            return error(404)
        return web.Response(body=sample_video(), headers={"Content-Type": "video/mp4"})
