"""``kill -9`` of the real daemon process, then a new process on the same database.

The daemon runs as a SUBPROCESS (``pixverse-worker --config <yaml> run``) against the sim and the
webhook receiver running in the test process. SIGKILL gives it no chance to flush, close or
hand anything over: whatever survives is what was committed to SQLite.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from worker.sim import SimAccount, SimDiscord

from .conftest import API_TOKEN, FlakyReceiver, free_port, wait_until

pytestmark = pytest.mark.slow

EXECUTABLE = Path(sys.executable).parent / "pixverse-worker"


class DaemonProcess:
    """One ``pixverse-worker run`` process at a time on a fixed config (port, database)."""

    def __init__(self, sim: SimDiscord, accounts: list[SimAccount], tmp_path: Path) -> None:
        self.port = free_port()
        self.config_path = tmp_path / "config.yaml"
        self.log_path = tmp_path / "daemon.log"
        config = sim.daemon_config(accounts)
        config["discord"].update(
            interaction_gap_seconds=0.05,
            error_backoff_initial_seconds=0.5,
            error_backoff_max_seconds=2,
            ready_timeout_seconds=15,
        )
        config.update(
            api={"host": "127.0.0.1", "port": self.port, "tokens": [API_TOKEN], "create_wait_seconds": 10},
            database={"url": f"sqlite+aiosqlite:///{tmp_path / 'killed.db'}"},
            pixverse={"job_timeout_seconds": 60, "sweep_interval_seconds": 0.2},
            callbacks={
                "initial_backoff_seconds": 0.05,
                "max_backoff_seconds": 0.2,
                "timeout_seconds": 2,
                "shutdown_grace_seconds": 0,
            },
            logging={"level": "INFO"},
        )
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.proc: asyncio.subprocess.Process | None = None
        self.http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_TOKEN}"})
        self.base = f"http://127.0.0.1:{self.port}/v1/pixverse"
        self.starts = 0

    async def start(self) -> None:
        assert self.proc is None
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== start {self.starts} =====\n".encode())
        log.flush()
        self.proc = await asyncio.create_subprocess_exec(
            str(EXECUTABLE),
            "--config",
            str(self.config_path),
            "run",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()

        async def ready() -> bool:
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                async with self.http.get(f"http://127.0.0.1:{self.port}/readyz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await wait_until(ready, timeout=30, what="the daemon subprocess to be ready")

    async def kill9(self) -> None:
        """SIGKILL the process we started (by its own pid) and reap it."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        assert await asyncio.wait_for(self.proc.wait(), 10) == -signal.SIGKILL
        self.proc = None

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None
        await self.http.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def create(self, **fields: Any) -> tuple[int, dict[str, Any]]:
        fields.setdefault("style", "Realistic")
        async with self.http.post(f"{self.base}/create", json=fields) as resp:
            return resp.status, await resp.json()

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.base}/{path}", params=params) as resp:
            return resp.status, await resp.json()

    async def wait_job(self, jobid: str, statuses: tuple[str, ...], timeout: float = 30) -> dict[str, Any]:
        async def reached() -> dict[str, Any] | None:
            _, job = await self.get("jobs/", jobid=jobid)
            return job if job.get("status") in statuses else None

        try:
            return await wait_until(reached, timeout=timeout, what=f"job {jobid} to be {statuses}")
        except AssertionError:
            raise AssertionError(f"{await self.get('jobs/', jobid=jobid)}\n{self.log_tail()}") from None


@pytest.fixture
async def sim() -> AsyncIterator[SimDiscord]:
    from worker.sim import SimBotSettings

    async with SimDiscord(bot=SimBotSettings(ack_delay=0.02, result_delay=0.3, seed=3)) as sim:
        yield sim


@pytest.fixture
async def receiver() -> AsyncIterator[FlakyReceiver]:
    r = FlakyReceiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


def _result_posted(sim: SimDiscord, account: SimAccount, prompt: str) -> bool:
    return any(
        prompt in (m.get("content") or "") and m.get("attachments") for m in sim.world.messages(account.channel_id)
    )


async def test_kill_9_between_ack_and_result_then_restart_completes(
    sim: SimDiscord, receiver: FlakyReceiver, tmp_path: Path
) -> None:
    [account] = sim.world.add_accounts(1)
    daemon = DaemonProcess(sim, [account], tmp_path)
    try:
        await daemon.start()
        sim.bot.settings.result_delay = 1.5
        status, body = await daemon.create(prompt="killed mid job", replyUrl=receiver.url, replyRef="k9")
        assert status == 200 and body["status"] == "started", body
        jobid = body["jobid"]
        await daemon.kill9()

        # The bot finishes while no daemon runs.
        async def posted() -> bool:
            return _result_posted(sim, account, "killed mid job")

        await wait_until(posted, timeout=10, what="the bot's result")
        assert receiver.calls == []

        await daemon.start()
        job = await daemon.wait_job(jobid, ("completed", "failed", "moderated", "cancelled"))
        assert job["status"] == "completed", job
        assert len(job["attachments"]) == 4 and job["replyRef"] == "k9"
        await receiver.wait_delivered(1)
        [(headers, payload)] = receiver.delivered
        assert payload["jobid"] == jobid and payload["status"] == "completed"
        assert payload["attachments"] == job["attachments"] and headers["X-Pixverse-Delivery"]

        # The restarted daemon takes new work.
        sim.bot.settings.result_delay = 0.3
        status, body = await daemon.create(prompt="after the restart")
        assert status == 200, body
        assert (await daemon.wait_job(body["jobid"], ("completed",)))["status"] == "completed"
    finally:
        await daemon.stop()


async def test_kill_9_with_callback_pending_redelivers_same_delivery_id(
    sim: SimDiscord, receiver: FlakyReceiver, tmp_path: Path
) -> None:
    [account] = sim.world.add_accounts(1)
    daemon = DaemonProcess(sim, [account], tmp_path)
    try:
        await daemon.start()
        receiver.status = 500  # the receiver is broken when the result comes
        status, body = await daemon.create(prompt="callback pending", replyUrl=receiver.url)
        assert status == 200, body
        jobid = body["jobid"]
        job = await daemon.wait_job(jobid, ("completed",))

        async def failed_twice() -> bool:
            return len(receiver.calls) >= 2

        await wait_until(failed_twice, timeout=15, what="two failed delivery attempts")
        await daemon.kill9()
        failed_ids = {h["X-Pixverse-Delivery"] for h, _, s in receiver.calls}
        failed_calls = len(receiver.calls)
        assert len(failed_ids) == 1 and {s for _, _, s in receiver.calls} == {500}

        receiver.status = 200  # fixed while the daemon was dead
        await daemon.start()
        await receiver.wait_delivered(1, timeout=20)
        await asyncio.sleep(0.5)
        [(headers, payload)] = receiver.delivered
        assert headers["X-Pixverse-Delivery"] in failed_ids  # the SAME delivery, not a new one
        assert payload["jobid"] == jobid and payload["status"] == "completed"
        assert payload["attachments"] == job["attachments"]

        _, listed = await daemon.get("callbacks", state="all")
        [d] = listed["deliveries"]
        assert d["deliveryId"] in failed_ids and d["state"] == "delivered"
        # The failed attempts before the kill are on record (all but, at most, the one the kill
        # interrupted between the receiver's answer and the commit), plus the successful one.
        assert d["attempts"] >= failed_calls
        _, job = await daemon.get("jobs/", jobid=jobid)
        assert job["status"] == "completed" and job["callback"]["state"] == "delivered"
    finally:
        await daemon.stop()
