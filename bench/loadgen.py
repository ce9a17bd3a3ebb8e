"""A pure-Python HTTP load generator: aiohttp client, N concurrent workers, fixed duration.

``python -m bench.loadgen URL JOBIDS_PATH CONCURRENCY SECONDS``

Each worker loops ``GET URL?jobid=<next id>`` (ids from the file, round robin) on one shared
keep-alive connection pool. Prints ``{"requests", "errors", "seconds", "rps", "p50_ms", "p99_ms"}``.
A short warm-up (0.5 s) is not counted.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time

import aiohttp

from bench.common import API_TOKEN, emit, percentile, raise_fd_limit

WARMUP_SECONDS = 0.5


async def main(url: str, ids_path: str, concurrency: int, seconds: float) -> None:
    with open(ids_path) as f:  # noqa: ASYNC230 - before any load
        ids = [line.strip() for line in f if line.strip()]
    cycle = itertools.cycle(ids)
    latencies: list[float] = []
    errors = 0
    counting = False
    stop_at = 0.0
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def worker() -> None:
            nonlocal errors
            while True:
                now = time.perf_counter()
                if counting and now >= stop_at:
                    return
                async with http.get(url, params={"jobid": next(cycle)}) as resp:
                    await resp.read()
                    ok = resp.status == 200
                if counting:
                    latencies.append(time.perf_counter() - now)
                    if not ok:
                        errors += 1

        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(WARMUP_SECONDS)
        started = time.perf_counter()
        stop_at = started + seconds
        counting = True
        await asyncio.gather(*tasks)
        took = time.perf_counter() - started
    emit(
        {
            "requests": len(latencies),
            "errors": errors,
            "seconds": took,
            "rps": len(latencies) / took,
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
        }
    )


if __name__ == "__main__":
    raise_fd_limit()
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
