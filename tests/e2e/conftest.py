"""End-to-end harness: the real daemon (HTTP API, real discord.py-self sessions, SQLite) against
the simulated Discord, with a real local webhook receiver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from worker.config import Config
from worker.daemon import Daemon
from worker.sim import SimAccount, SimBotSettings, SimDiscord
from worker.sim.receiver import WebhookReceiver

API_TOKEN = "e2e-api-token-0123456789"
FINAL = ("completed", "failed", "moderated", "cancelled")


class Receiver(WebhookReceiver):
    """The webhook downstream: records every POST and answers ``status`` (a test can break it)."""

    def __init__(self) -> None:
        super().__init__(self._answer)
        self.status = 200

    async def _answer(self, headers: dict[str, str], body: bytes) -> web.StreamResponse:
        return web.json_response({"ok": True}, status=self.status)


def make_config(
    sim: SimDiscord, accounts: list[SimAccount], db_url: str, *, max_jobs: int = 2, **sections: dict[str, Any]
) -> Config:
    data: dict[str, Any] = sim.daemon_config(accounts, max_jobs=max_jobs)
    data["discord"].update(
        interaction_gap_seconds=0.05,
        error_backoff_initial_seconds=0.5,
        error_backoff_max_seconds=2,
        ready_timeout_seconds=15,
    )
    data.update(
        api={"host": "127.0.0.1", "port": 0, "tokens": [API_TOKEN], "create_wait_seconds": 10},
        database={"url": db_url},
        pixverse={"job_timeout_seconds": 60, "sweep_interval_seconds": 0.2},
        callbacks={"initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.5},
    )
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return Config.model_validate(data)


class Harness:
    def __init__(self, sim: SimDiscord, tmp_path: Path) -> None:
        self.sim = sim
        self.tmp_path = tmp_path
        self.db_url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
        self.daemon: Daemon | None = None
        self.http: aiohttp.ClientSession | None = None
        self.receiver = Receiver()

    async def start(self, accounts: list[SimAccount], *, wait_ready: bool = True, **config: Any) -> Daemon:
        if not self.receiver.url:
            await self.receiver.start()
        self.config = make_config(self.sim, accounts, self.db_url, **config)
        self.daemon = Daemon(self.config)
        await self.daemon.start()
        if self.http is None:
            self.http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_TOKEN}"})
        if wait_ready:
            assert await self.daemon.driver.wait_ready(timeout=30), self.daemon.driver.statuses()
        return self.daemon

    async def stop_daemon(self) -> None:
        if self.daemon is not None:
            await self.daemon.stop()
            self.daemon = None

    @property
    def base(self) -> str:
        assert self.daemon is not None
        return f"http://127.0.0.1:{self.daemon.port}/v1/pixverse"

    async def create(self, **fields: Any) -> tuple[int, dict[str, Any]]:
        assert self.http is not None
        fields.setdefault("style", "Realistic")
        async with self.http.post(f"{self.base}/create", json=fields) as resp:
            return resp.status, await resp.json()

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        assert self.http is not None
        async with self.http.get(f"{self.base}/{path}", params=params) as resp:
            return resp.status, await resp.json()

    async def job(self, jobid: str) -> dict[str, Any]:
        _, body = await self.get("jobs/", jobid=jobid)
        return body

    async def wait_job(self, jobid: str, statuses: tuple[str, ...] = FINAL, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = await self.job(jobid)
            if job.get("status") in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {jobid} stayed {job.get('status')}: {job}")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.stop_daemon()
        if self.http is not None:
            await self.http.close()
        await self.receiver.stop()


@pytest.fixture
async def sim() -> AsyncIterator[SimDiscord]:
    async with SimDiscord(bot=SimBotSettings(ack_delay=0.02, result_delay=0.3, seed=1)) as sim:
        yield sim


@pytest.fixture
async def harness(sim: SimDiscord, tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(sim, tmp_path)
    try:
        yield h
    finally:
        await h.close()
