"""Fixtures shared by every test package. Keep them small and generic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from worker.db.engine import make_engine, make_sessionmaker
from worker.db.migrate import upgrade


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A SQLite file in the test's temp dir (not yet migrated)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on ``db_url``, migrated with the real migrations."""
    engine = make_engine(db_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)
