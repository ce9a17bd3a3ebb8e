"""Concurrent writers on one SQLite file queue on the busy timeout instead of failing."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import select, update

from worker.db.engine import make_engine, make_sessionmaker
from worker.db.jobs import JobStore
from worker.db.migrate import upgrade
from worker.db.models import Job
from worker.jobs.status import JobStatus


def _job(jobid: str, channel: str) -> Job:
    return Job(jobid=jobid, prompt="p", style="Anime", channel=channel, reply_url="http://127.0.0.1:9/h")


async def test_a_write_committed_between_our_read_and_our_write_does_not_fail_us(sessions) -> None:
    """The soak's "database is locked": transaction A reads, B commits a write, A writes."""
    store = JobStore(sessions)
    await store.create(_job("a", "1000000000000000001"))
    await store.create(_job("b", "1000000000000000002"))
    async with sessions.begin() as tx:
        await tx.execute(select(Job.status).where(Job.jobid == "a"))
        other = asyncio.create_task(store.update("b", content="written by another transaction"))
        # Give the other writer its chance to commit in between (it cannot while we hold the lock).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(other), 0.5)
        await tx.execute(update(Job).where(Job.jobid == "a").values(content="written by us"))
    await other
    assert (await store.get("a")).content == "written by us"
    assert (await store.get("b")).content == "written by another transaction"


async def test_read_then_write_transactions_do_not_fail_with_database_locked(sessions) -> None:
    store = JobStore(sessions)
    for i in range(20):
        await store.create(_job(f"j{i}", f"10000000000000000{i:02d}"))
    # Each of these reads first, then writes: the pattern SQLite refuses to upgrade when
    # another connection committed in between, unless the write lock is taken at BEGIN.
    outcomes = await asyncio.gather(
        *(store.create(_job(f"k{i}", f"20000000000000000{i:02d}"), max_jobs=5) for i in range(20)),
        *(store.transition(f"j{i}", JobStatus.COMPLETED) for i in range(20)),
        return_exceptions=True,
    )
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    counts = await store.count_by_status()
    assert counts == {"created": 20, "completed": 20}


async def test_reads_stay_deferred_and_do_not_block_a_writer(sessions) -> None:
    store = JobStore(sessions)
    await store.create(_job("j1", "1000000000000000001"))
    async with sessions() as reader:
        await reader.execute(select(Job))  # a read transaction stays open...
        await store.transition("j1", JobStatus.CANCELLED)  # ...and a writer still gets through
        assert (await store.get("j1")).status == "cancelled"


async def test_many_writers_with_a_short_busy_timeout_all_get_through(tmp_path) -> None:
    """Our own writers queue in the process: none of them depends on SQLite's busy handler."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}", busy_timeout_ms=1)
    try:
        await upgrade(engine)
        store = JobStore(make_sessionmaker(engine))
        for i in range(40):
            await store.create(_job(f"j{i}", f"10000000000000000{i:02d}"))
        outcomes = await asyncio.gather(
            *(store.transition(f"j{i}", JobStatus.STARTED, content="x" * 1000) for i in range(40)),
            *(store.update(f"j{i}", message_id=str(i)) for i in range(40)),
            *(store.create(_job(f"k{i}", f"20000000000000000{i:02d}"), max_jobs=1) for i in range(40)),
            return_exceptions=True,
        )
        assert [repr(o) for o in outcomes if isinstance(o, BaseException)] == []
    finally:
        await engine.dispose()
