"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from worker.db.migrate import current_revision, head_revision
from worker.db.models import Base


async def test_migrated_database_matches_the_models(engine) -> None:
    def diff(connection):
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []
    assert await current_revision(engine) == head_revision()


async def test_lookups_are_indexed(engine) -> None:
    def indexes(connection):
        inspector = inspect(connection)
        return {tuple(i["column_names"]) for i in inspector.get_indexes("jobs")} | {
            tuple(c["column_names"]) for c in inspector.get_unique_constraints("jobs")
        }

    async with engine.connect() as conn:
        found = await conn.run_sync(indexes)
    assert ("jobid",) in found
    assert ("status", "channel") in found


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(engine) -> None:
    async with engine.connect() as conn:
        mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
        timeout = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    assert mode == "wal" and timeout == 5000
