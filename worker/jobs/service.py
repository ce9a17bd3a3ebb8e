"""The create flow: choose the account, take a slot, send the command, answer the caller.

The HTTP layer validates; this module decides. The bot's replies reach a job through
``JobStore.transition`` (called by the reply tracker); ``create`` waits a bounded time
for the first of them and maps the job's state to the hosted API's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from datetime import timedelta
from typing import Any

from worker.callbacks.outbox import callback_state_json
from worker.config import MAX_CONCURRENT_JOBS, Config
from worker.db.jobs import JobStore
from worker.db.models import Job
from worker.driver import AccountView, Driver, SessionState
from worker.errors import (
    ApiError,
    DiscordRateLimited,
    DiscordUnavailable,
    IllegalTransition,
    InteractionRejected,
)
from worker.jobs.accounts import AccountRegistry
from worker.jobs.requests import CreateRequest
from worker.jobs.serialize import job_to_json, mask_token
from worker.jobs.status import ACTIVE, TERMINAL, JobStatus
from worker.metrics import Metrics
from worker.timeutil import utcnow

log = logging.getLogger(__name__)

RATE_LIMITED_TEXT = "Discord /interactions failed with HTTP status 429"
NO_SUBSCRIPTION_TEXT = "Account has no subscription or subscription expired"


def new_jobid(channel: str) -> str:
    return f"j{int(time.time() * 1000)}-{uuid.uuid4().hex[:12]}-c{channel}-bot:pixverse"


class JobService:
    def __init__(
        self,
        *,
        store: JobStore,
        accounts: AccountRegistry,
        driver: Driver,
        config: Config,
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.driver = driver
        self.config = config
        self.metrics = metrics
        self.intake_open = True
        self._waiters: dict[str, asyncio.Event] = {}
        self._latest: dict[str, Job] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        # Sends still waiting for the interaction's outcome after their create answered.
        self._sends: set[asyncio.Task[bool]] = set()
        store.add_listener(self._on_transition)

    # -- create ----------------------------------------------------------------------------

    async def create(self, req: CreateRequest) -> tuple[int, dict[str, Any]]:
        started = time.perf_counter()
        self._in_flight += 1
        try:
            return await self._create(req)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()
            self.metrics.create_latency.observe(time.perf_counter() - started)

    async def drain(self, timeout: float) -> int:
        """Close intake and wait (bounded) for the creates in flight; returns how many are left."""
        self.intake_open = False
        if self._in_flight:
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout)
        return self._in_flight

    async def _create(self, req: CreateRequest) -> tuple[int, dict[str, Any]]:
        if not self.intake_open:
            raise ApiError(503, "Service is shutting down")
        account = await self._choose_account(req)
        max_jobs = req.max_jobs or account.max_jobs or MAX_CONCURRENT_JOBS
        reply_url = req.reply_url or account.reply_url or self.config.callbacks.default_reply_url
        status = self.driver.status(account.channel)
        job = Job(
            jobid=new_jobid(account.channel),
            verb="pixverse-create",
            prompt=req.prompt,
            style=req.style,
            negative_prompt=req.negative_prompt,
            aspect_ratio=req.aspect_ratio,
            character=req.character,
            channel=account.channel,
            server=account.server,
            discord_masked=mask_token(account.token),
            discord_user_id=status.user_id if status else None,
            max_jobs=max_jobs,
            reply_url=reply_url,
            reply_ref=req.reply_ref,
            # Handed to the account's send queue now; the reply latency is measured from here.
            sent_at=utcnow(),
        )
        executing = await self.store.create(job, max_jobs=max_jobs)
        if executing is not None:
            raise ApiError(
                429, f"Maximum of {max_jobs} jobs executing in parallel supported", executingJobs=executing
            )
        waiter = self._waiters[job.jobid] = asyncio.Event()
        try:
            # The bot's first reply can land while the send still waits for the interaction's
            # outcome (INTERACTION_SUCCESS lost with a connection: up to 12 s): answer as soon as
            # the job moved, and let the send finish in the background.
            send = asyncio.create_task(self._send(job, account), name=f"send-{job.jobid}")
            self._sends.add(send)
            send.add_done_callback(self._sends.discard)
            replied = asyncio.create_task(waiter.wait())
            try:
                await asyncio.wait({send, replied}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                replied.cancel()
            if not send.done():
                return await self._answer(job.jobid)
            if not send.result():
                return await self._answer(job.jobid)
            try:
                await asyncio.wait_for(waiter.wait(), self.config.api.create_wait_seconds)
            except TimeoutError:
                await self._fail(
                    job.jobid,
                    f"The PixVerse bot did not answer within {self.config.api.create_wait_seconds:g} s",
                    code=504,
                )
            return await self._answer(job.jobid)
        finally:
            self._waiters.pop(job.jobid, None)
            self._latest.pop(job.jobid, None)

    async def _send(self, job: Job, account: AccountView) -> bool:
        """Hand the job to Discord; on a refusal the job fails here. True when sent."""
        try:
            await self.driver.submit(job, account)
            return True
        except DiscordRateLimited as exc:
            self.metrics.discord_429.inc()
            await self._fail(job.jobid, RATE_LIMITED_TEXT, code=429, details=exc.body)
        except InteractionRejected as exc:
            await self._fail(job.jobid, str(exc), code=502, details=exc.body)
        except DiscordUnavailable as exc:
            await self._fail(job.jobid, f"Discord account {job.channel} is not available: {exc}", code=503)
        except Exception as exc:
            log.exception("job %s: sending the command failed", job.jobid)
            await self._fail(job.jobid, f"Sending the command to Discord failed: {type(exc).__name__}", code=502)
        return False

    async def _answer(self, jobid: str) -> tuple[int, dict[str, Any]]:
        # The job as its last transition left it (the listener kept it); read it only if none.
        job = self._latest.pop(jobid, None) or await self.store.get(jobid)
        assert job is not None
        body = job_to_json(job)
        if job.status == JobStatus.CREATED.value:
            # The bot answered nothing we recognised yet; the job goes on and the sweep ends it.
            return 200, body
        code = body["code"]
        if job.status == JobStatus.FAILED.value and code == 429 and job.error == RATE_LIMITED_TEXT:
            # The seed's shape for Discord's 429: error, errorDetails, code.
            return 429, body
        return code, body

    async def _choose_account(self, req: CreateRequest) -> AccountView:
        if req.discord and req.server and req.channel:
            return await self._adhoc_account(req)
        if req.channel:
            account = self.accounts.get(req.channel)
            if account is None or account.source == "adhoc":
                raise ApiError(404, f"Configuration for channel {req.channel} not found")
            self._check_usable(account)
            return account
        return await self._random_account(req)

    def _check_usable(self, account: AccountView) -> None:
        if not account.enabled:
            raise ApiError(503, f"Account {account.channel} is disabled")
        status = self.driver.status(account.channel)
        if status is None or status.state is not SessionState.READY:
            state = status.state.value if status else "stopped"
            reason = f": {status.reason}" if status and status.reason else ""
            raise ApiError(503, f"Account {account.channel} is not available ({state}{reason})")

    async def _random_account(self, req: CreateRequest) -> AccountView:
        candidates = [
            a
            for a in self.accounts.listed()
            if a.enabled and (s := self.driver.status(a.channel)) is not None and s.available
        ]
        if not candidates:
            raise ApiError(503, "No Discord account is available")
        counts = await self.store.active_counts()
        free = [a for a in candidates if counts.get(a.channel, 0) < (req.max_jobs or a.max_jobs)]
        if not free:
            executing = [j.jobid for j in await self.store.active() if j.channel in {a.channel for a in candidates}]
            limit = req.max_jobs or max(a.max_jobs for a in candidates)
            raise ApiError(429, f"Maximum of {limit} jobs executing in parallel supported", executingJobs=executing)
        return random.choice(free)

    async def _adhoc_account(self, req: CreateRequest) -> AccountView:
        assert req.discord and req.server and req.channel
        known = self.accounts.get(req.channel)
        if known is not None and known.source != "adhoc":
            if known.token != req.discord:
                raise ApiError(400, f"Channel {req.channel} is configured with a different discord value")
            self._check_usable(known)
            return known
        account = AccountView(
            channel=req.channel,
            server=req.server,
            token=req.discord,
            max_jobs=req.max_jobs or (known.max_jobs if known else MAX_CONCURRENT_JOBS),
            reply_url=req.reply_url,
            source="adhoc",
        )
        if known != account:
            # Stored so that its jobs can be tracked again after a restart.
            await self.accounts.put(account)
        status = await self.driver.ensure_session(account)
        if not status.available:
            raise ApiError(
                400,
                f"Discord session for channel {req.channel} could not be opened ({status.state.value}"
                + (f": {status.reason})" if status.reason else ")"),
            )
        return account

    # -- other calls -------------------------------------------------------------------------

    async def cancel(self, jobid: str) -> dict[str, Any]:
        job = await self.store.get(jobid)
        if job is None:
            raise ApiError(404, f"Unable to locate job {jobid}")
        try:
            await self.store.transition(jobid, JobStatus.CANCELLED, code=200)
        except IllegalTransition as exc:
            raise ApiError(400, f"Job {jobid} is {exc.current} and cannot be cancelled") from None
        return {"jobid": jobid, "status": JobStatus.CANCELLED.value, "code": 200}

    async def job_body(self, jobid: str) -> tuple[int, dict[str, Any]]:
        """The job as ``GET jobs/?jobid=`` shows it, with the state of its latest callback."""
        job, delivery = await self.store.get_with_delivery(jobid)
        if job is None:
            raise ApiError(404, f"Unable to locate job {jobid}")
        body = job_to_json(job, callback=callback_state_json(delivery) if delivery is not None else None)
        return body["code"], body

    async def executing(self) -> list[dict[str, Any]]:
        return [job_to_json(job) for job in await self.store.active()]

    def account_body(self, view: AccountView) -> dict[str, Any]:
        status = self.driver.status(view.channel)
        body: dict[str, Any] = {
            "discord": mask_token(view.token),
            "server": view.server,
            "channel": view.channel,
            "maxJobs": view.max_jobs,
            "replyUrl": view.reply_url,
            "enabled": view.enabled,
            "source": view.source,
            "state": (status.state.value if status else SessionState.STOPPED.value)
            if view.enabled
            else SessionState.DISABLED.value,
            "error": status.reason if status and status.state is SessionState.ERROR else None,
        }
        return {k: v for k, v in body.items() if v is not None}

    async def sweep_timeouts(self) -> int:
        """Fail the jobs that have had no result for too long; returns how many."""
        limit = self.config.pixverse.job_timeout_seconds
        deadline = utcnow() - timedelta(seconds=limit)
        count = 0
        for job in await self.store.active():
            created = job.created if job.created.tzinfo else job.created.replace(tzinfo=deadline.tzinfo)
            if created < deadline:
                if await self._fail(job.jobid, f"No result from the PixVerse bot within {limit:g} s", code=504):
                    count += 1
        return count

    async def fail_errored_accounts(self) -> int:
        """Fail the in-flight jobs of accounts whose session is in error (bad token, ban)."""
        count = 0
        for job in await self.store.active():
            status = self.driver.status(job.channel)
            if status is not None and status.state is SessionState.ERROR:
                reason = status.reason or "session error"
                if await self._fail(job.jobid, f"Discord account {job.channel} is in error: {reason}", code=503):
                    count += 1
        return count

    # -- internals ---------------------------------------------------------------------------

    async def _fail(self, jobid: str, error: str, *, code: int, details: str | None = None) -> bool:
        try:
            await self.store.transition(jobid, JobStatus.FAILED, error=error, error_details=details, code=code)
            return True
        except IllegalTransition:
            return False

    def _on_transition(self, job: Job, previous: JobStatus | None, target: JobStatus) -> None:
        self.metrics.job_transitions.labels(target.value).inc()
        if target is not JobStatus.CREATED and (waiter := self._waiters.get(job.jobid)):
            self._latest[job.jobid] = job
            waiter.set()


__all__ = ["ACTIVE", "NO_SUBSCRIPTION_TEXT", "TERMINAL", "JobService", "new_jobid"]
