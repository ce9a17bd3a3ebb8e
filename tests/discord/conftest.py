"""Fixtures for the Discord driver tests: the real sim, real discord.py-self clients, a recording sink."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from worker.config import DiscordSettings, PixverseSettings
from worker.db.models import Job
from worker.discord.driver import DiscordDriver
from worker.discord.session import AccountSession
from worker.driver import AccountView
from worker.metrics import Metrics
from worker.sim.server import SimDiscord
from worker.sim.world import SimAccount

_jobids = itertools.count(1)


@dataclass
class Seen:
    kind: str  # message | interaction | ready
    at: float
    event: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    jobid: str = ""
    interaction_id: str = ""
    nonce: str | None = None
    channel: str = ""
    user_id: str = ""


class RecordingSink:
    """A ReplySink that writes down every call, in order."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.fail_messages = False

    async def on_message(self, account: AccountView, user_id: str, event: str, data: dict[str, Any]) -> None:
        self.seen.append(
            Seen(
                "message", time.monotonic(), event=event, data=data, channel=account.channel, user_id=user_id
            )
        )
        if self.fail_messages:
            raise RuntimeError("sink failure (test)")

    async def on_ready(self, account: AccountView, user_id: str, session: AccountSession) -> None:
        self.seen.append(Seen("ready", time.monotonic(), channel=account.channel, user_id=user_id))

    async def on_interaction(self, jobid: str, interaction_id: str, nonce: str | None) -> None:
        self.seen.append(
            Seen("interaction", time.monotonic(), jobid=jobid, interaction_id=interaction_id, nonce=nonce)
        )

    def of(self, kind: str, channel: str | None = None) -> list[Seen]:
        return [s for s in self.seen if s.kind == kind and (channel is None or s.channel == channel)]


async def wait_until(predicate: Callable[[], bool], seconds: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def view(acct: SimAccount, **changes: Any) -> AccountView:
    base = AccountView(channel=str(acct.channel_id), server=str(acct.guild_id), token=acct.token, max_jobs=10)
    if not changes:
        return base
    from dataclasses import replace

    return replace(base, **changes)


def make_job(account: AccountView, **fields: Any) -> Job:
    fields.setdefault("prompt", "a cat surfing a wave")
    fields.setdefault("style", "Realistic")
    return Job(
        jobid=f"job-{next(_jobids)}",
        status="pending",
        channel=account.channel,
        server=account.server,
        **fields,
    )


@pytest.fixture
async def sim() -> AsyncIterator[SimDiscord]:
    async with SimDiscord() as s:
        yield s


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def make_driver(
    sim: SimDiscord, sink: RecordingSink, metrics: Metrics
) -> AsyncIterator[Callable[..., DiscordDriver]]:
    drivers: list[DiscordDriver] = []

    def factory(pixverse: PixverseSettings | None = None, **settings: Any) -> DiscordDriver:
        opts: dict[str, Any] = {
            "rest_base": sim.rest_base,
            "gateway_base": sim.gateway_base,
            "interaction_gap_seconds": 1.0,
            "error_backoff_initial_seconds": 0.05,
            "error_backoff_max_seconds": 0.2,
            "ready_timeout_seconds": 15.0,
        }
        opts.update(settings)
        driver = DiscordDriver(
            discord=DiscordSettings(**opts),
            pixverse=pixverse or PixverseSettings(),
            sink=sink,
            metrics=metrics,
        )
        drivers.append(driver)
        return driver

    yield factory
    for d in drivers:
        await d.stop()
