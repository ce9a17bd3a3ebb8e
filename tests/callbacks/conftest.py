"""The outbox under test: a real migrated SQLite file, real JobStore rows, real HTTP receivers."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from worker.callbacks.outbox import CallbackOutbox
from worker.config import CallbackSettings, Config
from worker.db.engine import make_engine, make_sessionmaker
from worker.db.jobs import JobStore
from worker.db.migrate import upgrade
from worker.db.models import CallbackAttempt, CallbackDelivery, Job
from worker.jobs.status import JobStatus
from worker.metrics import Metrics

CHANNEL = "1168473004498501652"
_ids = itertools.count(1)


@dataclass
class Arrival:
    at: float  # time.time() when the request arrived
    headers: dict[str, str]
    body: bytes


Behaviour = Callable[[web.Request, int], Awaitable[web.StreamResponse]]


def respond(*statuses: int, headers: dict[str, str] | None = None) -> Behaviour:
    """Answer the n-th request with statuses[n] (the last one repeats)."""

    async def behaviour(request: web.Request, n: int) -> web.StreamResponse:
        status = statuses[min(n, len(statuses) - 1)]
        return web.Response(status=status, text="ok" if status < 300 else "nope", headers=headers)

    return behaviour


@dataclass
class Receiver:
    """A webhook receiver on a real socket; ``behaviour`` decides each answer."""

    host: str = "127.0.0.1"
    port: int = 0
    behaviour: Behaviour = field(default_factory=lambda: respond(200))
    arrivals: list[Arrival] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        n = len(self.arrivals)
        self.arrivals.append(Arrival(time.time(), dict(request.headers), await request.read()))
        self.arrived.set()
        return await self.behaviour(request, n)


@dataclass
class Env:
    tmp: Path
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    store: JobStore
    metrics: Metrics
    outboxes: list[CallbackOutbox] = field(default_factory=list)
    receivers: list[Receiver] = field(default_factory=list)

    def settings(self, **overrides: Any) -> CallbackSettings:
        values: dict[str, Any] = {
            "timeout_seconds": 5.0,
            "initial_backoff_seconds": 0.02,
            "max_backoff_seconds": 0.05,
            "max_age_seconds": 600,
            "shutdown_grace_seconds": 0.5,
            **overrides,
        }
        return CallbackSettings.model_validate(values)

    def config(self) -> Config:
        return Config.model_validate({"database": {"url": self.url}})

    async def outbox(
        self, *, start: bool = True, poll_interval: float = 0.2, **overrides: Any
    ) -> CallbackOutbox:
        outbox = CallbackOutbox(
            sessions=self.sessions,
            settings=self.settings(**overrides),
            metrics=self.metrics,
            poll_interval=poll_interval,
        )
        self.store.add_listener(outbox.listener)
        self.outboxes.append(outbox)
        if start:
            await outbox.start()
        return outbox

    async def receiver(self, behaviour: Behaviour | None = None, *, host: str = "127.0.0.1") -> Receiver:
        receiver = Receiver(host=host, behaviour=behaviour or respond(200))
        self.receivers.append(receiver)
        return await receiver.start()

    async def job(self, url: str, *, final: JobStatus | None = JobStatus.COMPLETED, **fields: Any) -> str:
        jobid = f"job-{next(_ids)}"
        await self.store.create(Job(jobid=jobid, channel=CHANNEL, prompt="a cat", reply_url=url, **fields))
        if final is not None:
            await self.store.transition(jobid, final, content="done")
        return jobid

    async def deliveries(self, jobid: str | None = None) -> list[CallbackDelivery]:
        query = select(CallbackDelivery).order_by(CallbackDelivery.id)
        if jobid is not None:
            query = query.where(CallbackDelivery.jobid == jobid)
        async with self.sessions() as session:
            return list((await session.execute(query)).scalars())

    async def delivery(self, jobid: str) -> CallbackDelivery:
        rows = await self.deliveries(jobid)
        assert rows, f"no delivery for {jobid}"
        return rows[-1]

    async def attempts(self, delivery_id: str) -> list[CallbackAttempt]:
        query = (
            select(CallbackAttempt)
            .where(CallbackAttempt.delivery_id == delivery_id)
            .order_by(CallbackAttempt.id)
        )
        async with self.sessions() as session:
            return list((await session.execute(query)).scalars())

    async def wait_state(self, jobid: str, state: str, within: float = 15.0) -> CallbackDelivery:
        async def check() -> CallbackDelivery | None:
            d = await self.delivery(jobid)
            return d if d.state == state else None

        return await eventually(check, within, f"delivery of {jobid} never became {state}")


async def eventually(
    check: Callable[[], Awaitable[Any]], within: float = 15.0, message: str = "condition not met"
) -> Any:
    """Poll ``check`` until it returns something truthy; a generous bound, not a speed check."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(message)
        await asyncio.sleep(0.02)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}"
    engine = make_engine(url)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    e = Env(tmp_path, url, engine, sessions, JobStore(sessions), Metrics())
    try:
        yield e
    finally:
        for outbox in e.outboxes:
            await outbox.stop(0)
        for receiver in e.receivers:
            await receiver.stop()
        await engine.dispose()
