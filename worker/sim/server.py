"""``SimDiscord``: the one object that owns the simulated Discord's lifecycle.

It builds the world, the gateway hub, the bot, the fault injector and the aiohttp app, and
serves REST (``/api/v9``), the CDN (``/attachments``), the gateway (``/``) and the admin API
(``/_sim``) on one port of 127.0.0.1. ``stop()`` is idempotent; ``restart()`` comes back on
the same port with the same world, so clients reconnect and RESUME as after a Discord outage.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from .admin import AdminApi
from .bot import SimBot, SimBotSettings
from .events import SimEvents
from .faults import Faults
from .gateway import GatewayHub
from .http_util import error
from .interactions import InteractionEndpoint
from .rest import RestApi
from .world import SimAccount, World

log = logging.getLogger(__name__)


class SimDiscord:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        bot: SimBotSettings | None = None,
        world: World | None = None,
        heartbeat_interval_ms: int = 41250,
        interaction_event_delay: float = 0.05,
    ) -> None:
        self.host = host
        self.port = port
        self.world = world or World()
        self.events = SimEvents()
        self.hub = GatewayHub(self.world, self.events, heartbeat_interval_ms=heartbeat_interval_ms)
        self.faults = Faults(self.world, self.hub)
        self.bot = SimBot(self.world, self.hub, self.faults, bot or SimBotSettings())
        self.interactions = InteractionEndpoint(self.world, self.hub, self.bot, self.events)
        self.interactions.event_delay = interaction_event_delay
        self.rest = RestApi(self.world, self.bot, self.faults, self.events, self.interactions)
        self._runner: web.AppRunner | None = None
        self._restart_task: asyncio.Task[None] | None = None

    # -- addresses -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def rest_base(self) -> str:
        return f"{self.base_url}/api/v9"

    @property
    def gateway_base(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    @property
    def running(self) -> bool:
        return self._runner is not None

    # -- knobs that belong to "Discord" rather than to the bot -----------------------------

    @property
    def rate_limit_interactions_per_sec(self) -> float | None:
        return self.interactions.rate_limit_per_sec

    @rate_limit_interactions_per_sec.setter
    def rate_limit_interactions_per_sec(self, value: float | None) -> None:
        self.interactions.rate_limit_per_sec = value

    @property
    def interaction_event_delay(self) -> float:
        return self.interactions.event_delay

    @interaction_event_delay.setter
    def interaction_event_delay(self, value: float) -> None:
        self.interactions.event_delay = value

    # -- lifecycle -------------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self.rest.setup(app)
        AdminApi(self).setup(app)
        app.router.add_get("/", self._gateway_or_404)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    async def _gateway_or_404(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return error(404)
        return await self.hub.handle(request)

    @staticmethod
    async def _not_found(request: web.Request) -> web.StreamResponse:
        return error(404)

    async def start(self) -> None:
        if self._runner is not None:
            return
        if self.port == 0:
            self.port = _free_port(self.host)
        runner = web.AppRunner(self._make_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.hub.resume_gateway_url = self.gateway_base
        self.bot.cdn_base = self.base_url
        log.info("sim discord listening on %s", self.base_url)

    async def _stop_server(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await self.hub.shutdown()
        await runner.cleanup()
        log.info("sim discord on port %s stopped", self.port)

    async def stop(self) -> None:
        """Stop serving and cancel the bot's work. Safe to call twice."""
        if self._restart_task is not None and self._restart_task is not asyncio.current_task():
            self._restart_task.cancel()
        await self._stop_server()
        await self.bot.cancel_all()

    async def restart(self, down_for: float = 0.0) -> None:
        """Stop and start again on the same port; world, sessions and in-flight jobs survive."""
        await self._stop_server()
        if down_for:
            await asyncio.sleep(down_for)
        await self.start()

    def spawn_restart(self, down_for: float = 0.0) -> None:
        self._restart_task = asyncio.create_task(self.restart(down_for))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- conveniences ----------------------------------------------------------------------

    @property
    def accounts(self) -> list[SimAccount]:
        """Every account created so far, through the sim or its world."""
        return self.world.accounts

    def add_account(self, username: str | None = None, *, channel_id: int | None = None) -> SimAccount:
        return self.world.add_account(username, channel_id=channel_id)

    def add_accounts(self, n: int) -> list[SimAccount]:
        return self.world.add_accounts(n)

    def daemon_config(self, accounts: Sequence[SimAccount], *, max_jobs: int = 2) -> dict[str, Any]:
        """The ``discord`` and ``accounts`` sections that point the daemon at this sim."""
        return {
            "discord": {"rest_base": self.rest_base, "gateway_base": self.gateway_base},
            "accounts": [
                {"discord": a.token, "server": str(a.guild_id), "channel": str(a.channel_id), "maxJobs": max_jobs}
                for a in accounts
            ],
        }


def _free_port(host: str) -> int:
    # Pick the port up front so restart() can bind the same one again.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
