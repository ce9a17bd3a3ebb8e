"""Benchmark 5: the daemon's job-store paths at 10^4 and at 10^6 stored jobs.

The table is filled fast (``bench.fill``: real migrations, then executemany in batches), then
the real code is timed through a fresh daemon engine: ``JobStore.create`` with the capacity
check, ``JobStore.get`` of a random stored job, ``JobStore.active_counts``. The same database
grows from the small size to the large one, so the only difference is the number of rows.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path

from bench import fill
from bench.common import Row, ms, p50, percentile

CREATE_CHANNEL = "1299999999999999999"


class Target:
    """The daemon's real store on one prepared database."""

    def __init__(self, db_path: str, stored: int, tag: str) -> None:
        from worker.db.engine import make_engine, make_sessionmaker
        from worker.db.jobs import JobStore

        self.engine = make_engine(f"sqlite+aiosqlite:///{db_path}")
        self.store = JobStore(make_sessionmaker(self.engine))
        self.stored = stored
        self.tag = tag
        self.rng = random.Random(stored)
        self.created = 0
        self.times: dict[str, list[float]] = {"create": [], "get": [], "active_counts": []}

    async def create(self) -> float:
        from worker.db.models import Job
        from worker.jobs.status import JobStatus

        jobid = f"j-growth-{self.tag}-{self.created}"
        self.created += 1
        job = Job(
            jobid=jobid,
            verb="pixverse-create",
            prompt="a cat surfing",
            style="Realistic",
            channel=CREATE_CHANNEL,
            server="1100000000000000000",
            max_jobs=10,
        )
        started = time.perf_counter()
        assert await self.store.create(job, max_jobs=10) is None
        took = time.perf_counter() - started
        # Untimed: free the slot again, as a finished job would.
        await self.store.transition(jobid, JobStatus.CANCELLED)
        return took

    async def get(self) -> float:
        jobid = fill.jobid(self.rng.randrange(self.stored))
        started = time.perf_counter()
        job = await self.store.get(jobid)
        took = time.perf_counter() - started
        assert job is not None
        return took

    async def active_counts(self) -> float:
        started = time.perf_counter()
        counts = await self.store.active_counts()
        took = time.perf_counter() - started
        assert sum(counts.values()) == fill.ACTIVE_JOBS, counts
        return took

    async def block(self, n: int, record: bool = True) -> None:
        for op in ("create", "get", "active_counts"):
            for _ in range(n):
                took = await getattr(self, op)()
                if record:
                    self.times[op].append(took)

    async def close(self) -> None:
        await self.engine.dispose()


async def run(small: int, large: int, n: int, rounds: int = 10) -> tuple[list[Row], dict[str, float]]:
    """Two databases (``small`` and ``large`` rows), timed in alternating blocks so that drift
    (CPU frequency, caches, other load) falls on both alike."""
    fills: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp:
        dbs = {}
        for size in (small, large):
            dbs[size] = str(Path(tmp) / f"growth-{size}.db")
            await fill.migrate(dbs[size])
            fills[f"fill {size:,} jobs"] = await asyncio.to_thread(fill.fill, dbs[size], size)
        lo, hi = Target(dbs[small], small, "small"), Target(dbs[large], large, "large")
        try:
            for t in (lo, hi):
                await t.block(max(20, n // rounds), record=False)  # warm-up
            per_round = max(1, n // rounds)
            for _ in range(rounds):
                await lo.block(per_round)
                await hi.block(per_round)
        finally:
            await lo.close()
            await hi.close()
    at_small, at_large = lo.times, hi.times

    rows = []
    names = {
        "create": "JobStore.create with capacity check",
        "get": "JobStore.get (random stored job)",
        "active_counts": f"JobStore.active_counts ({fill.ACTIVE_JOBS} in flight)",
    }
    for key, label in names.items():
        for pname, pf in (("p50", p50), ("p99", lambda v: percentile(v, 99))):
            rows.append(
                Row(
                    "5 growth",
                    f"{label}, {pname}, {large:,} jobs",
                    "ms",
                    ms(pf(at_large[key])),
                    ms(pf(at_small[key])),
                    f"same, {small:,} jobs",
                    "flat (≈ 1×)" if pname == "p50" else "",
                )
            )
    return rows, fills
