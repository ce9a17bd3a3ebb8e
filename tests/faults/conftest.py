"""Fault suite fixtures: the e2e Harness (real daemon in-process, real discord.py-self sessions,
the sim, a real webhook receiver) plus what faults need: a receiver that can be down, refuse
connections or fail N times, a way to make the sim's bot post a result at a chosen moment,
and bounded polling."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

# The e2e harness and its fixtures (sim, harness) are the fault tests' ground too.
from tests.e2e.conftest import API_TOKEN, FINAL, Harness, Receiver, harness, make_config, sim
from worker.sim import SimAccount, SimDiscord
from worker.sim import texts as sim_texts

__all__ = [
    "API_TOKEN",
    "FINAL",
    "FlakyReceiver",
    "Harness",
    "Receiver",
    "finish_bot_job",
    "free_port",
    "harness",
    "make_config",
    "sim",
    "wait_until",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_until(
    predicate: Callable[[], Awaitable[Any]], *, timeout: float = 20, what: str = "condition"
) -> Any:
    """Poll an async predicate until it returns something truthy (returned), bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class FlakyReceiver:
    """A webhook receiver on a FIXED port, so it can be down (connection refused) and come back
    on the same URL. ``script`` holds the statuses of the next calls (then ``status``)."""

    port: int = field(default_factory=free_port)
    status: int = 200
    script: list[int] = field(default_factory=list)
    calls: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # monotonic arrival of each call
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def up(self) -> bool:
        return self.runner is not None

    async def start(self) -> None:
        if self.runner is not None:
            return
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True).start()
        self.runner = runner

    async def stop(self) -> None:
        runner, self.runner = self.runner, None
        if runner is not None:
            await runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        self.times.append(time.monotonic())
        status = self.script.pop(0) if self.script else self.status
        self.calls.append((dict(request.headers), await request.read(), status))
        return web.json_response({"ok": 200 <= status < 300}, status=status)

    @property
    def delivered(self) -> list[tuple[dict[str, str], dict[str, Any]]]:
        """The calls answered 2xx, decoded."""
        return [(h, json.loads(b)) for h, b, s in self.calls if 200 <= s < 300]

    async def wait_delivered(self, count: int = 1, timeout: float = 20) -> None:
        async def enough() -> bool:
            return len(self.delivered) >= count

        await wait_until(enough, timeout=timeout, what=f"{count} delivered callback(s)")


def finish_bot_job(sim: SimDiscord, account: SimAccount) -> dict[str, Any]:
    """Make the sim's bot post the result of ``account``'s pending /create NOW (the test picks the
    moment: during an outage, while the session is being invalidated...). Returns the message.

    Use with a long ``result_delay`` so that the bot's own timer does not also post one."""
    pending = [
        j for j in sim.bot.jobs.values() if j.user.id == account.user_id and not j.done and not j.result_ids
    ]
    assert pending, "the bot has no pending job for this account"
    job = pending[0]
    job.done = True
    sim.bot._post_result(job, sim_texts.result(account.user_id, job.options), count=4, reference_id=job.ack_id)
    [message_id] = job.result_ids
    message = sim.world.message(message_id)
    assert message is not None
    return message


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: kills and restarts real daemon subprocesses (runs in CI; deselect with -m 'not slow')"
    )
