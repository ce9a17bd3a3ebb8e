"""``/_sim/...``: control of a running sim from outside its process (demo, manual runs).

POST /_sim/faults          one fault, see ``Faults.apply`` (or a list of them)
POST /_sim/restart         stop and start on the same port, keeping the world
GET  /_sim/state           accounts, counters, jobs
POST /_sim/accounts        {"count": n} or {"username": ...} -> new accounts
PATCH /_sim/bot            bot settings, e.g. {"result_delay": 2.0, "throttle_limit": 2}
POST /_sim/commands/bump   re-register the commands (new version; the old one -> 50035)
GET  /_sim/messages/{id}   the messages of a channel, oldest first
POST /_sim/messages/{id}   post a bot message {"content": ..., "raw": {...}}
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .http_util import json_response

if TYPE_CHECKING:
    from .server import SimDiscord

log = logging.getLogger(__name__)


def account_dict(acct: Any) -> dict[str, Any]:
    return {
        "token": acct.token,
        "user_id": str(acct.user_id),
        "guild_id": str(acct.guild_id),
        "channel_id": str(acct.channel_id),
        "username": acct.username,
    }


class AdminApi:
    def __init__(self, sim: SimDiscord) -> None:
        self.sim = sim

    def setup(self, app: web.Application) -> None:
        app.router.add_post("/_sim/faults", self.faults)
        app.router.add_post("/_sim/restart", self.restart)
        app.router.add_get("/_sim/state", self.state)
        app.router.add_post("/_sim/accounts", self.accounts)
        app.router.add_patch("/_sim/bot", self.bot_settings)
        app.router.add_post("/_sim/commands/bump", self.bump)
        app.router.add_get("/_sim/messages/{channel_id}", self.messages)
        app.router.add_post("/_sim/messages/{channel_id}", self.post_message)

    @staticmethod
    async def _body(request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="invalid JSON") from None

    async def faults(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        specs = body if isinstance(body, list) else [body]
        try:
            results = [await self.sim.faults.apply(spec) for spec in specs]
        except (ValueError, KeyError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(results if isinstance(body, list) else results[0])

    async def restart(self, request: web.Request) -> web.Response:
        delay = float(request.query.get("down_for", "0"))
        # Answer first: restarting closes this very server.
        asyncio.get_running_loop().call_soon(lambda: self.sim.spawn_restart(delay))
        return json_response({"ok": True, "port": self.sim.port})

    async def state(self, request: web.Request) -> web.Response:
        sim = self.sim
        return json_response(
            {
                "rest_base": sim.rest_base,
                "gateway_base": sim.gateway_base,
                "accounts": [account_dict(a) for a in sim.accounts],
                "command_version": str(sim.world.commands.version),
                "sessions": [
                    {"session_id": s.session_id, "user_id": str(s.user.id), "live": s.live, "seq": s.seq}
                    for s in sim.hub.sessions.values()
                ],
                "jobs": {k: {"user_id": str(j.user.id), "done": j.done} for k, j in sim.bot.jobs.items()},
                "events": sim.events.snapshot(),
                "bot": _settings_dict(sim.bot.settings),
            }
        )

    async def accounts(self, request: web.Request) -> web.Response:
        body = await self._body(request) if request.can_read_body else {}
        if body.get("username"):
            accts = [self.sim.world.add_account(str(body["username"]))]
        else:
            accts = self.sim.world.add_accounts(int(body.get("count", 1)))
        return json_response([account_dict(a) for a in accts])

    async def bot_settings(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        settings = self.sim.bot.settings
        names = {f.name for f in dataclasses.fields(settings)}
        for key, value in body.items():
            if key not in names:
                return json_response({"error": f"unknown setting {key}"}, 400)
            current = getattr(settings, key)
            if isinstance(current, set):
                value = set(int(v) if key.endswith("_ids") else v for v in value)
            setattr(settings, key, value)
        return json_response(_settings_dict(settings))

    async def bump(self, request: web.Request) -> web.Response:
        return json_response({"version": str(self.sim.world.bump_command_version())})

    async def messages(self, request: web.Request) -> web.Response:
        return json_response(self.sim.world.messages(int(request.match_info["channel_id"])))

    async def post_message(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        msg = await self.sim.bot.post_message(
            int(request.match_info["channel_id"]), str(body.get("content", "")), raw=body.get("raw")
        )
        return json_response(msg)


def _settings_dict(settings: Any) -> dict[str, Any]:
    out = dataclasses.asdict(settings)
    return {k: sorted(v) if isinstance(v, set) else v for k, v in out.items()}
