"""Benchmark 6: callback deliveries per second, and with one receiver that hangs.

The receivers run in a child process (``bench.servers receiver``): one answering 204 at once on
127.0.0.1, one that never answers on 127.0.0.2 (another host, as the outbox counts hosts).
A backlog of pending deliveries is written straight into the outbox table, then the daemon's
real ``CallbackOutbox`` (default settings: 32 in flight, 4 per host, 10 s timeout) drains it.

* baseline for the plain figure: a bare aiohttp client POSTing the same bodies and headers to the
  same receiver with as many requests in flight as the outbox allows per host (4);
* baseline for the hanging figure: the same outbox without the hanging receiver (same run).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine

from bench import fill
from bench.common import Child, Row

BODY = json.dumps(
    {
        "jobid": fill.jobid(1),
        "verb": "pixverse-create",
        "status": "completed",
        "prompt": "a cat surfing a wave at sunset, cinematic",
        "style": "Realistic",
        "attachments": [{"url": f"https://cdn.discordapp.com/attachments/1/2/video_{i}.mp4"} for i in range(4)],
        "buttons": ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "ReDo", "🔀"],
        "code": 200,
    },
    separators=(",", ":"),
)


def write_backlog(db_path: str, urls: list[str]) -> None:
    """One pending delivery per url, due now, in the given order."""
    due = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = [
        (uuid.uuid4().hex, f"job-{i}", "completed", url, BODY, "pending", 0, due, due) for i, url in enumerate(urls)
    ]
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO callback_deliveries (delivery_id, jobid, job_status, url, body, state, attempts,"
            " created, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    engine.dispose()


async def received(http: aiohttp.ClientSession, base: str) -> int:
    async with http.get(f"{base}/count") as resp:
        return int((await resp.json())["count"])


async def wait_count(http: aiohttp.ClientSession, base: str, target: int, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while (n := await received(http, base)) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"receiver got {n} of {target}")
        await asyncio.sleep(0.02)
    return time.perf_counter()


async def outbox_rate(tmp: Path, tag: str, base: str, good: int, hang_url: str | None, hanging: int) -> float:
    from worker.callbacks.outbox import CallbackOutbox
    from worker.config import CallbackSettings
    from worker.db.engine import make_engine, make_sessionmaker
    from worker.metrics import Metrics

    db = str(tmp / f"callbacks-{tag}.db")
    await fill.migrate(db)
    # The hanging receiver's rows come first: they are due before the good ones.
    urls = [hang_url] * hanging if hang_url else []
    urls += [f"{base}/hook"] * good
    write_backlog(db, urls)
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    outbox = CallbackOutbox(sessions=make_sessionmaker(engine), settings=CallbackSettings(), metrics=Metrics())
    async with aiohttp.ClientSession() as http:
        before = await received(http, base)
        started = time.perf_counter()
        await outbox.start()
        try:
            done = await wait_count(http, base, before + good)
        finally:
            await outbox.stop(grace=0)
            await engine.dispose()
    return good / (done - started)


async def bare_rate(base: str, good: int, concurrency: int) -> float:
    todo = iter(range(good))
    url = f"{base}/hook"
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            for i in todo:
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": "bench",
                    "X-Pixverse-Delivery": uuid.uuid4().hex,
                    "X-Pixverse-Event": "completed",
                    "X-Pixverse-Jobid": f"job-{i}",
                }
                async with http.post(url, data=BODY.encode(), headers=headers) as resp:
                    assert resp.status == 204, resp.status

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return good / (time.perf_counter() - started)


async def run(good: int, hanging: int) -> list[Row]:
    from worker.config import CallbackSettings

    per_host = CallbackSettings().per_host_concurrency
    receiver = Child("bench.servers", "receiver")
    ports = await receiver.start()
    base = f"http://127.0.0.1:{ports['port']}"
    hang_url = f"http://127.0.0.2:{ports['hang_port']}/hook"
    try:
        with tempfile.TemporaryDirectory(prefix="bench-callbacks-") as tmp:
            bare = await bare_rate(base, good, per_host)
            plain = await outbox_rate(Path(tmp), "plain", base, good, None, 0)
            hung = await outbox_rate(Path(tmp), "hang", base, good, hang_url, hanging)
    finally:
        await receiver.stop()
    return [
        Row(
            "6 callbacks",
            f"deliveries/s, backlog of {good:,}, one receiver",
            "1/s",
            plain,
            bare,
            f"bare aiohttp POST loop, {per_host} in flight",
        ),
        Row(
            "6 callbacks",
            f"deliveries/s to it while {hanging} wait on a hanging receiver",
            "1/s",
            hung,
            plain,
            "same outbox, no hanging receiver",
            "≈ 1× (holds)",
        ),
    ]
