"""Engine and session factory.

SQLite has one writer at a time. Left to SQLite, our own concurrent write transactions compete
through its busy handler, which is not a queue: under load one of them can wait past the busy
timeout and fail with "database is locked" (the soak run lost a create that way). So every
``sessions.begin()`` block — the project's only way to write — first takes an in-process
asyncio lock: our writers queue fairly in the event loop and never depend on the busy
timeout, which is left for other processes (the CLI). Write transactions also BEGIN IMMEDIATE,
so a read-then-write never needs a lock upgrade; reads begin DEFERRED, and with WAL they
never wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

_BEGIN_OPTION = "sqlite_begin"


def make_engine(url: str, *, busy_timeout_ms: int = 5000) -> AsyncEngine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000}
    engine = create_async_engine(url, **kwargs)
    if sqlite:
        memory = parsed.database in (None, "", ":memory:")

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # We emit BEGIN ourselves (below); the driver must not.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class Sessions(async_sessionmaker[AsyncSession]):
    """``sessions()`` for reads; ``sessions.begin()`` for writes, holding the write lock from BEGIN."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, expire_on_commit=False)
        # Not reentrant: a write transaction must never open another one.
        self._write_lock = asyncio.Lock()
        if engine.dialect.name == "sqlite":
            writer = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            self._writer: async_sessionmaker[AsyncSession] = async_sessionmaker(writer, expire_on_commit=False)
        else:
            self._writer = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        async with self._write_lock, self._writer.begin() as session:
            yield session


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return Sessions(engine)
