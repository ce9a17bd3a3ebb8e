"""The jobs repository: the only code that writes a job's status.

``transition`` performs every move: it checks the move is allowed (atomically, as a
conditional UPDATE), stamps ``updated``, writes the callback delivery in the same database
transaction, logs one line with the job id, and tells the listeners (metrics, waiters,
the callback worker) after the commit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from worker.db.models import CallbackDelivery, Job
from worker.errors import IllegalTransition
from worker.jobs.serialize import job_to_json
from worker.jobs.status import ACTIVE, TERMINAL, JobStatus, can_move
from worker.timeutil import utcnow

log = logging.getLogger(__name__)

TransitionListener = Callable[[Job, JobStatus | None, JobStatus], None]

_IMMUTABLE = frozenset({"id", "jobid", "status", "created", "updated"})


class JobStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, progress_callbacks: bool = False) -> None:
        self._sessions = sessions
        self.progress_callbacks = progress_callbacks
        self._listeners: list[TransitionListener] = []
        # Capacity is counted from the stored jobs; the lock makes count+insert atomic per channel.
        self._capacity_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    def add_listener(self, listener: TransitionListener) -> None:
        self._listeners.append(listener)

    # -- reads ---------------------------------------------------------------------------

    async def get(self, jobid: str) -> Job | None:
        async with self._sessions() as session:
            return (await session.execute(select(Job).where(Job.jobid == jobid))).scalar_one_or_none()

    async def get_with_delivery(self, jobid: str) -> tuple[Job | None, CallbackDelivery | None]:
        """The job and its latest callback delivery, read in one session (the GET jobs path)."""
        async with self._sessions() as session:
            job = (await session.execute(select(Job).where(Job.jobid == jobid))).scalar_one_or_none()
            if job is None:
                return None, None
            delivery = (
                await session.execute(
                    select(CallbackDelivery)
                    .where(CallbackDelivery.jobid == jobid)
                    .order_by(CallbackDelivery.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        return job, delivery

    async def active(self, channel: str | None = None) -> list[Job]:
        query = select(Job).where(Job.status.in_([s.value for s in ACTIVE])).order_by(Job.id)
        if channel is not None:
            query = query.where(Job.channel == channel)
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars())

    async def active_counts(self) -> dict[str, int]:
        query = (
            select(Job.channel, func.count())
            .where(Job.status.in_([s.value for s in ACTIVE]))
            .group_by(Job.channel)
        )
        async with self._sessions() as session:
            return {channel: count for channel, count in (await session.execute(query)).all()}

    async def count_by_status(self) -> dict[str, int]:
        async with self._sessions() as session:
            rows = (await session.execute(select(Job.status, func.count()).group_by(Job.status))).all()
        return {status: count for status, count in rows}

    # -- writes --------------------------------------------------------------------------

    async def create(self, job: Job, *, max_jobs: int | None = None) -> list[str] | None:
        """Store a new job in status ``created``.

        With ``max_jobs``, the job is stored only if its channel has a free slot; otherwise
        nothing is written and the ids of the jobs executing there are returned.
        """
        job.status = JobStatus.CREATED.value
        job.created = job.updated = utcnow()
        async with self._capacity_locks[job.channel]:
            async with self._sessions.begin() as session:
                if max_jobs is not None:
                    executing = await self._executing_ids(session, job.channel)
                    if len(executing) >= max_jobs:
                        return executing
                session.add(job)
        log.info("job %s created account=%s", job.jobid, job.channel)
        self._notify(job, None, JobStatus.CREATED)
        return None

    async def update(self, jobid: str, **fields: Any) -> None:
        """Write fields that are not the status (interaction id, ack message, ...)."""
        if bad := _IMMUTABLE.intersection(fields):
            raise ValueError(f"JobStore.update cannot write {sorted(bad)}")
        async with self._sessions.begin() as session:
            await session.execute(update(Job).where(Job.jobid == jobid).values(**fields))

    async def transition(self, jobid: str, target: JobStatus, **fields: Any) -> Job:
        """Move ``jobid`` to ``target``; raises ``IllegalTransition`` when the move is not allowed."""
        if bad := _IMMUTABLE.intersection(fields):
            raise ValueError(f"transition cannot write {sorted(bad)}")
        async with self._sessions.begin() as session:
            # The write transaction holds the database's write lock from BEGIN (SQLite: BEGIN
            # IMMEDIATE; elsewhere the row lock), so the status read here cannot change before
            # the UPDATE that the flush emits.
            job = (
                await session.execute(select(Job).where(Job.jobid == jobid).with_for_update())
            ).scalar_one_or_none()
            if job is None:
                raise KeyError(jobid)
            previous = job.status
            if not can_move(JobStatus(previous), target):
                raise IllegalTransition(jobid, previous, target.value)
            job.status = target.value
            job.updated = utcnow()
            for name, value in fields.items():
                setattr(job, name, value)
            await self._enqueue_callback(session, job, target)
        log.info(
            "job %s %s -> %s account=%s%s",
            jobid,
            previous,
            target.value,
            job.channel,
            f" error={job.error!r}" if target in (JobStatus.FAILED, JobStatus.MODERATED) and job.error else "",
        )
        self._notify(job, JobStatus(previous), target)
        return job

    # -- internals -----------------------------------------------------------------------

    async def _executing_ids(self, session: AsyncSession, channel: str) -> list[str]:
        query = (
            select(Job.jobid)
            .where(Job.channel == channel, Job.status.in_([s.value for s in ACTIVE]))
            .order_by(Job.id)
        )
        return list((await session.execute(query)).scalars())

    async def _enqueue_callback(self, session: AsyncSession, job: Job, target: JobStatus) -> None:
        if not job.reply_url:
            return
        final = target in TERMINAL
        if not final and not self.progress_callbacks:
            return
        if final:
            # A progress post must never arrive after the final one.
            await session.execute(
                update(CallbackDelivery)
                .where(CallbackDelivery.jobid == job.jobid, CallbackDelivery.state == "pending")
                .values(state="superseded")
            )
        session.add(
            CallbackDelivery(
                delivery_id=uuid.uuid4().hex,
                jobid=job.jobid,
                job_status=target.value,
                url=job.reply_url,
                body=json.dumps(job_to_json(job), ensure_ascii=False, separators=(",", ":")),
                state="pending",
                created=utcnow(),
                next_attempt_at=utcnow(),
            )
        )

    def _notify(self, job: Job, previous: JobStatus | None, target: JobStatus) -> None:
        for listener in self._listeners:
            try:
                listener(job, previous, target)
            except Exception:
                log.exception("transition listener %r failed for job %s", listener, job.jobid)
