"""Another process holds SQLite's write lock (``BEGIN IMMEDIATE`` on the same file) while a result
lands and creates arrive: nothing is lost, and no error leaks a traceback."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path

from worker.sim import SimDiscord

from .conftest import Harness, wait_until


class WriteLock:
    """Holds ``BEGIN IMMEDIATE`` on ``path`` from a thread for ``seconds``."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.path = path
        self.seconds = seconds
        self.held = threading.Event()
        self.released = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            self.held.set()
            time.sleep(self.seconds)
            conn.execute("COMMIT")
        finally:
            conn.close()
            self.released.set()

    async def __aenter__(self) -> WriteLock:
        self._thread.start()
        assert await asyncio.to_thread(self.held.wait, 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self._thread.join, 30)


def _no_traceback(body: object) -> None:
    text = json.dumps(body)
    assert "Traceback" not in text and "sqlite" not in text.lower() and "OperationalError" not in text


async def test_write_lock_shorter_than_busy_timeout_loses_nothing(
    harness: Harness, sim: SimDiscord, tmp_path: Path
) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 0.6
    await harness.start([account], max_jobs=4, database={"busy_timeout_ms": 5000})
    status, body = await harness.create(prompt="finishes under the lock", replyUrl=harness.receiver.url)
    assert status == 200, body
    first = body["jobid"]
    async with WriteLock(tmp_path / "e2e.db", 1.5) as lock:
        # Creates arrive while the lock is held; the first job's result lands under it too.
        creates = [
            asyncio.create_task(harness.create(prompt=f"under lock {i}", replyUrl=harness.receiver.url))
            for i in range(2)
        ]
        # Reads still work (WAL): the API answers while writes wait.
        status, job = await harness.get("jobs/", jobid=first)
        assert status == 200 and not lock.released.is_set()
        results = await asyncio.gather(*creates)
    for status, body in results:
        assert status == 200, body
        _no_traceback(body)
    for jobid in [first, *(b["jobid"] for _, b in results)]:
        job = await harness.wait_job(jobid)
        assert job["status"] == "completed" and len(job["attachments"]) == 4, job
    await harness.receiver.wait_for(3)


async def test_write_lock_longer_than_busy_timeout_loses_nothing(
    harness: Harness, sim: SimDiscord, tmp_path: Path
) -> None:
    """Writes give up (busy_timeout 200 ms) while the lock is held for 2 s: a create may be
    refused with a clean error, but the result that landed under the lock must not be lost."""
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 0.5
    await harness.start([account], max_jobs=4, database={"busy_timeout_ms": 200})
    status, body = await harness.create(prompt="finishes under a long lock", replyUrl=harness.receiver.url)
    assert status == 200, body
    first = body["jobid"]
    async with WriteLock(tmp_path / "e2e.db", 2.0):
        status, refused = await harness.create(prompt="refused under lock")
        assert status in (200, 503), refused
        if status == 503:
            assert refused == {"error": "Database is busy, try again in a moment", "code": 503}
        _no_traceback(refused)
        await asyncio.sleep(0.8)  # the result lands while the lock is still held
        assert any(
            m.get("attachments") and "finishes under a long lock" in m.get("content", "")
            for m in sim.world.messages(account.channel_id)
        )
    job = await harness.wait_job(first, timeout=20)
    assert job["status"] == "completed" and len(job["attachments"]) == 4, job
    await harness.receiver.wait_for(1)

    # The daemon is healthy afterwards.
    async def ok() -> bool:
        status, body = await harness.create(prompt="after the lock")
        return status == 200 and body

    body = await wait_until(ok, timeout=10, what="a create to succeed after the lock")
    assert (await harness.wait_job(body["jobid"]))["status"] == "completed"
