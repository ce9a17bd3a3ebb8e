"""The real daemon (API, discord.py-self sessions, SQLite, outbox) against the sim, served from a
background thread's event loop, for synchronous clients such as schemathesis' ``case.call``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from tests.e2e.conftest import API_TOKEN, make_config
from worker.daemon import Daemon
from worker.sim import SimAccount, SimBotSettings, SimDiscord

T = TypeVar("T")

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


class LiveDaemon:
    def __init__(self, tmp_path: Path, *, accounts: int = 2, **config: Any) -> None:
        self.tmp_path = tmp_path
        self.n_accounts = accounts
        self.config_overrides = config
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-daemon", daemon=True)
        self.sim: SimDiscord | None = None
        self.daemon: Daemon | None = None
        self.accounts: list[SimAccount] = []

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return fn()

        return self.run(wrapper())

    def start(self) -> LiveDaemon:
        self.thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        self.sim = SimDiscord(bot=SimBotSettings(ack_delay=0.01, result_delay=0.05, seed=7))
        await self.sim.start()
        self.accounts = self.sim.world.add_accounts(self.n_accounts)
        db_url = f"sqlite+aiosqlite:///{self.tmp_path / 'live.db'}"
        sections: dict[str, Any] = {
            "api": {"create_wait_seconds": 3},
            "discord": {"ready_timeout_seconds": 3},
            **self.config_overrides,
        }
        config = make_config(self.sim, self.accounts, db_url, max_jobs=2, **sections)
        self.daemon = Daemon(config)
        await self.daemon.start()
        assert await self.daemon.driver.wait_ready(timeout=30), self.daemon.driver.statuses()

    @property
    def base_url(self) -> str:
        assert self.daemon is not None
        return f"http://127.0.0.1:{self.daemon.port}"

    def stop(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    async def _stop(self) -> None:
        if self.daemon is not None:
            await self.daemon.stop()
        if self.sim is not None:
            await self.sim.stop()
