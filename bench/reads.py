"""Benchmark 4: ``GET jobs/?jobid=`` throughput with many jobs stored.

The daemon (no accounts, so nothing else runs) serves a database filled by ``bench.fill``; the
baseline is a bare aiohttp handler answering a fixed JSON body: the very bytes the daemon
returned for one stored job. Both are driven by the same load generator (``bench.loadgen``,
aiohttp, N concurrent workers), each server and the generator in processes of their own.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path

import aiohttp

from bench import fill
from bench.common import API_TOKEN, Child, Row

JOBS_PATH = "/v1/pixverse/jobs/"


async def load(url: str, ids_path: Path, concurrency: int, seconds: float) -> dict[str, float]:
    gen = Child("bench.loadgen", url, str(ids_path), str(concurrency), str(seconds))
    try:
        return await gen.start(timeout=seconds + 60)
    finally:
        await gen.stop()


async def run(stored: int, concurrency: int, seconds: float) -> tuple[list[Row], dict[str, float]]:
    notes: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-reads-") as tmp:
        db = Path(tmp) / "reads.db"
        notes[f"fill {stored:,} jobs"] = await asyncio.to_thread(fill.prepare, str(db), stored)
        rng = random.Random(4)
        ids_path = Path(tmp) / "ids.txt"
        ids_path.write_text("\n".join(fill.jobid(rng.randrange(stored)) for _ in range(10_000)) + "\n")

        daemon = Child("bench.servers", "daemon", str(db))
        port = (await daemon.start())["port"]
        try:
            url = f"http://127.0.0.1:{port}{JOBS_PATH}"
            headers = {"Authorization": f"Bearer {API_TOKEN}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                async with http.get(url, params={"jobid": fill.jobid(stored // 2)}) as resp:
                    assert resp.status == 200, resp.status
                    body = await resp.read()
            d = await load(url, ids_path, concurrency, seconds)
        finally:
            await daemon.stop()
        body_path = Path(tmp) / "body.json"
        body_path.write_bytes(body)
        notes["job body bytes"] = len(body)

        fixed = Child("bench.servers", "fixed", str(body_path))
        port = (await fixed.start())["port"]
        try:
            b = await load(f"http://127.0.0.1:{port}{JOBS_PATH}", ids_path, concurrency, seconds)
        finally:
            await fixed.stop()
    assert d["errors"] == 0 and b["errors"] == 0, (d, b)
    label = f"bare aiohttp handler, fixed {len(body)} B JSON"
    figure = f"GET jobs/?jobid=, {stored:,} jobs stored, {concurrency} workers"
    return [
        Row("4 reads", f"{figure}: requests/s", "req/s", d["rps"], b["rps"], label, "≥ 0.5× bare"),
        Row("4 reads", f"{figure}: latency p50", "ms", d["p50_ms"], b["p50_ms"], label),
        Row("4 reads", f"{figure}: latency p99", "ms", d["p99_ms"], b["p99_ms"], label),
    ], notes
