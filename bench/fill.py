"""Fast setup of large job tables: the real migrations, then SQLAlchemy Core executemany.

Rows look like the daemon's: completed jobs with four attachments and the buttons, and
``ACTIVE_JOBS`` still in flight, spread over ``CHANNELS`` channels. Ids are deterministic
(``bench-<n>``) so a benchmark can look any of them up.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine

BATCH = 20_000
CHANNELS = 100
#: The first ACTIVE_JOBS rows are still in flight ("started"): a fixed number whatever the table
#: size, since in-flight jobs are bounded by accounts x maxJobs, not by history.
ACTIVE_JOBS = 100
START = datetime(2024, 1, 1, tzinfo=UTC)


def jobid(n: int) -> str:
    return f"j{1700000000000 + n}-{n:012x}-c{channel(n)}-bot:pixverse"


def channel(n: int) -> str:
    return str(1200000000000000000 + n % CHANNELS)


COLUMNS = (
    "jobid",
    "verb",
    "status",
    "created",
    "updated",
    "prompt",
    "style",
    "negative_prompt",
    "aspect_ratio",
    "channel",
    "server",
    "discord_masked",
    "discord_user_id",
    "max_jobs",
    "reply_url",
    "reply_ref",
    "interaction_id",
    "nonce",
    "message_id",
    "content",
    "timestamp",
    "progress",
    "attachments",
    "buttons",
    "code",
)
INSERT = f"INSERT INTO jobs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
BUTTONS = json.dumps(["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "ReDo", "🔀"])
_ATTACHMENT = (
    '{"id": "13%017d", "filename": "video_%d_%d.mp4", "url": "https://cdn.discordapp.com/attachments/'
    '%s/%d/video_%d_%d.mp4?ex=66e1c9f0&is=66e07870&hm=3f2a9c", "size": 1048576, "content_type": "video/mp4"}'
)


def _stamp(n: int) -> str:
    # SQLAlchemy's SQLite DATETIME storage format (what the daemon writes), one row a second.
    return (START + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S.000000")


def rows(start: int, stop: int) -> list[tuple[Any, ...]]:
    """Rows as tuples in ``COLUMNS`` order, already in their stored form (fast to make)."""
    out = []
    for n in range(start, stop):
        created = _stamp(n)
        ch = channel(n)
        active = n < ACTIVE_JOBS
        attachments = (
            None if active else "[" + ", ".join(_ATTACHMENT % (n * 4 + i, n, i, ch, n, n, i) for i in range(1, 5)) + "]"
        )
        out.append(
            (
                jobid(n),
                "pixverse-create",
                "started" if active else "completed",
                created,
                created,
                f"a cat surfing a wave at sunset, cinematic, number {n}",
                "Realistic",
                "sand",
                "16:9",
                ch,
                "1100000000000000000",
                "MTI…secured…xyz",
                "1000000000000000001",
                10,
                "https://example.com/hook",
                f"ref-{n}",
                str(1400000000000000000 + n),
                str(1500000000000000000 + n),
                None if active else str(1600000000000000000 + n),
                None if active else f"<@1000000000000000001> (prompt: number {n} style: Realistic)",
                None if active else created,
                None if active else 100,
                attachments,
                None if active else BUTTONS,
                200,
            )
        )
    return out


async def migrate(db_path: str) -> None:
    from worker.db.engine import make_engine
    from worker.db.migrate import upgrade

    engine = make_engine(f"sqlite+aiosqlite:///{db_path}")
    await upgrade(engine)
    await engine.dispose()


def fill(db_path: str, total: int, start: int = 0) -> float:
    """Insert jobs ``start .. total-1`` (the schema must exist). Returns seconds taken."""
    started = time.perf_counter()
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=MEMORY")
        conn.exec_driver_sql("PRAGMA cache_size=-262144")
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        for lo in range(start, total, BATCH):
            conn.exec_driver_sql(INSERT, rows(lo, min(lo + BATCH, total)))  # executemany
            conn.commit()
    engine.dispose()
    return time.perf_counter() - started


def prepare(db_path: str, total: int) -> float:
    asyncio.run(migrate(db_path))
    return fill(db_path, total)
