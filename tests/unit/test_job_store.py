"""The job lifecycle on a real migrated SQLite file: one writer of status, outbox in the same commit."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from worker.db.jobs import JobStore
from worker.db.models import CallbackDelivery, Job
from worker.errors import IllegalTransition
from worker.jobs.status import ACTIVE, TERMINAL, JobStatus, can_move

CHANNEL = "1168473004498501652"


def _job(jobid: str, reply_url: str | None = "http://127.0.0.1:9/hook") -> Job:
    return Job(jobid=jobid, prompt="a cat", style="Realistic", channel=CHANNEL, reply_url=reply_url, reply_ref="r1")


async def _deliveries(sessions: async_sessionmaker[AsyncSession]) -> list[CallbackDelivery]:
    async with sessions() as session:
        return list((await session.execute(select(CallbackDelivery).order_by(CallbackDelivery.id))).scalars())


def test_terminal_statuses_have_no_way_out() -> None:
    for status in TERMINAL:
        assert not any(can_move(status, target) for target in JobStatus)
    assert ACTIVE.isdisjoint(TERMINAL)
    assert ACTIVE | TERMINAL == set(JobStatus)


async def test_transition_writes_status_and_callback_in_one_commit(sessions) -> None:
    store = JobStore(sessions)
    seen: list[tuple[str, str | None, str]] = []
    store.add_listener(lambda job, prev, target: seen.append((job.jobid, prev, target)))
    await store.create(_job("j1"))
    await store.transition("j1", JobStatus.STARTED, message_id="m1", content="We are making videos.", code=200)
    assert await _deliveries(sessions) == []  # non-final: no callback unless progress callbacks are on
    job = await store.transition("j1", JobStatus.COMPLETED, attachments=[{"url": "u"}] * 4, code=200)
    assert job.status == "completed"
    [delivery] = await _deliveries(sessions)
    body = json.loads(delivery.body)
    assert (delivery.jobid, delivery.state, delivery.job_status) == ("j1", "pending", "completed")
    assert body["status"] == "completed" and body["replyRef"] == "r1" and len(body["attachments"]) == 4
    assert seen == [("j1", None, "created"), ("j1", "created", "started"), ("j1", "started", "completed")]


async def test_illegal_moves_are_refused_and_change_nothing(sessions) -> None:
    store = JobStore(sessions)
    await store.create(_job("j1"))
    await store.transition("j1", JobStatus.CANCELLED)
    with pytest.raises(IllegalTransition):
        await store.transition("j1", JobStatus.COMPLETED)
    job = await store.get("j1")
    assert job is not None and job.status == "cancelled"
    assert [d.job_status for d in await _deliveries(sessions)] == ["cancelled"]


async def test_concurrent_final_transitions_only_one_wins(sessions) -> None:
    store = JobStore(sessions)
    await store.create(_job("j1"))
    results = await asyncio.gather(
        store.transition("j1", JobStatus.COMPLETED),
        store.transition("j1", JobStatus.CANCELLED),
        store.transition("j1", JobStatus.FAILED, error="timeout"),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert len(await _deliveries(sessions)) == 1


async def test_progress_callbacks_are_superseded_by_the_final_one(sessions) -> None:
    store = JobStore(sessions, progress_callbacks=True)
    await store.create(_job("j1"))
    await store.transition("j1", JobStatus.STARTED)
    await store.transition("j1", JobStatus.PROGRESS, progress=50)
    await store.transition("j1", JobStatus.COMPLETED)
    states = [(d.job_status, d.state) for d in await _deliveries(sessions)]
    assert states == [("started", "superseded"), ("progress", "superseded"), ("completed", "pending")]


async def test_capacity_is_counted_from_stored_jobs_and_cannot_leak(sessions) -> None:
    store = JobStore(sessions)
    outcomes = await asyncio.gather(*(store.create(_job(f"j{i}"), max_jobs=2) for i in range(5)))
    accepted = [o for o in outcomes if o is None]
    refused = [o for o in outcomes if o is not None]
    assert len(accepted) == 2 and len(refused) == 3
    assert all(sorted(r) == ["j0", "j1"] or len(r) == 2 for r in refused)
    await store.transition("j0", JobStatus.FAILED, error="x")
    assert await store.create(_job("j9"), max_jobs=2) is None
    assert (await store.active_counts()) == {CHANNEL: 2}


async def test_no_callback_without_reply_url(sessions) -> None:
    store = JobStore(sessions)
    await store.create(_job("j1", reply_url=None))
    await store.transition("j1", JobStatus.MODERATED, error="Apologies!", code=422)
    assert await _deliveries(sessions) == []
