"""Follow the PixVerse bot's replies to the jobs they belong to.

The Discord sessions hand every raw message of an account's channel to ``ReplyTracker``
(it implements the sessions' ``ReplySink``). Each message is snapshotted, classified by the
configured matchers, matched to an in-flight job by the correlator, and applied through
``JobStore.transition``. A message nothing claims is stored for the operator, never dropped.

Messages of one channel are handled one at a time, so two results can never both be given
to the same job. After every READY the channel's history since its oldest in-flight job is
replayed through the same path: results that arrived while the daemon was down are applied.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from worker.db.jobs import JobStore
from worker.db.models import Job
from worker.driver import AccountView
from worker.errors import IllegalTransition, SessionClosed
from worker.jobs.bot_messages import BotMessageStore
from worker.jobs.correlate import TrackedJob, match_job
from worker.jobs.service import NO_SUBSCRIPTION_TEXT
from worker.jobs.status import ACTIVE, TERMINAL, JobStatus
from worker.metrics import Metrics
from worker.pixverse.events import BotEvent, BotEventKind
from worker.pixverse.matchers import ReplyMatchers
from worker.pixverse.parser import classify
from worker.pixverse.snapshot import snapshot_from_payload
from worker.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1420070400000
_SEEN_LIMIT = 20_000
# Late replies are looked for among jobs that ended this recently.
_LATE_WINDOW = timedelta(hours=24)
# History replay starts a little before the job was stored, for clock skew.
_HISTORY_SLACK = timedelta(seconds=30)
# A database that stays busy (locked by another writer past busy_timeout) must not make the
# tracker drop a bot message: the message is retried after these pauses (about a minute).
_DB_RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
# A failed history read (Discord 5xx, network) is tried again after these pauses: a result
# posted while the session was down is ONLY in the history.
_HISTORY_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


class HistorySource(Protocol):
    async def fetch_history(self, after_id: str | None, limit: int = 500) -> list[dict[str, Any]]: ...


def snowflake_at(moment: datetime) -> str:
    ms = int(as_utc(moment).timestamp() * 1000)
    return str(max(ms - DISCORD_EPOCH_MS, 0) << 22)


class ReplyTracker:
    def __init__(
        self,
        *,
        store: JobStore,
        bot_messages: BotMessageStore,
        matchers: Callable[[], ReplyMatchers],
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.bot_messages = bot_messages
        self._matchers = matchers
        self.metrics = metrics
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._retries: set[asyncio.Task[None]] = set()

    # -- ReplySink ---------------------------------------------------------------------------

    async def on_message(self, account: AccountView, user_id: str, event: str, data: dict[str, Any]) -> None:
        async with self._locks[account.channel]:
            await _retry_busy(f"message {data.get('id')}", lambda: self._handle(account, user_id, event, data))

    async def on_interaction(self, jobid: str, interaction_id: str, nonce: str | None) -> None:
        await _retry_busy(
            f"interaction {interaction_id}",
            lambda: self.store.update(jobid, interaction_id=interaction_id, nonce=nonce),
        )

    async def on_ready(self, account: AccountView, user_id: str, session: HistorySource) -> None:
        """Reconcile the account's in-flight jobs with what the channel says now."""
        # Idempotent (messages already handled are skipped), so a busy database retries it whole.
        await _retry_busy(
            f"reconciliation of {account.channel}", lambda: self._reconcile(account, user_id, session)
        )

    async def _reconcile(
        self, account: AccountView, user_id: str, session: HistorySource, attempt: int = 0
    ) -> None:
        jobs = await self.store.active(account.channel)
        missing_user = [j.jobid for j in jobs if not j.discord_user_id]
        for jobid in missing_user:
            await self.store.update(jobid, discord_user_id=user_id)
        if not jobs:
            return
        after = snowflake_at(min(as_utc(j.created) for j in jobs) - _HISTORY_SLACK)
        try:
            history = await session.fetch_history(after)
        except SessionClosed:
            # The session closed or is between connections: its next READY reconciles again.
            log.info("account %s: session gone before its history was read", account.channel)
            return
        except Exception as exc:
            if attempt >= len(_HISTORY_RETRY_DELAYS):
                log.error(
                    "account %s: reading the channel history failed %d times, giving up: %s",
                    account.channel,
                    attempt + 1,
                    exc,
                )
                return
            delay = _HISTORY_RETRY_DELAYS[attempt]
            log.warning(
                "account %s: reading the channel history failed (%s); retrying in %.1f s",
                account.channel,
                exc,
                delay,
            )
            task = asyncio.create_task(self._reconcile_later(delay, account, user_id, session, attempt + 1))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
            return
        log.info(
            "account %s: reconciling %d in-flight jobs with %d messages of history",
            account.channel,
            len(jobs),
            len(history),
        )
        async with self._locks[account.channel]:
            for data in history:
                edited = bool(data.get("edited_timestamp"))
                await self._handle(account, user_id, "MESSAGE_UPDATE" if edited else "MESSAGE_CREATE", data)

    async def _reconcile_later(
        self, delay: float, account: AccountView, user_id: str, session: HistorySource, attempt: int
    ) -> None:
        await asyncio.sleep(delay)
        try:
            await _retry_busy(
                f"reconciliation of {account.channel}",
                lambda: self._reconcile(account, user_id, session, attempt),
            )
        except Exception:
            log.exception("account %s: reconciliation failed", account.channel)

    # -- the pipeline ------------------------------------------------------------------------

    async def _handle(self, account: AccountView, user_id: str, event: str, data: dict[str, Any]) -> None:
        try:
            snap = snapshot_from_payload(data, is_edit=event == "MESSAGE_UPDATE")
            if not snap.author_is_bot or not self._first_time(snap.id, data):
                return
        except Exception:
            log.exception("account %s: a bot message could not be handled", account.channel)
            await self._keep(event, data, "unparsable", None, None)
            return
        try:
            matchers = self._matchers()
            bot_event = classify(snap, matchers)
            active = {j.jobid: j for j in await self.store.active(account.channel)}
            jobs = [self._tracked(j, user_id) for j in active.values()]
            found = match_job(bot_event, jobs, videos_per_result=matchers.videos_per_result)
            if bot_event.kind is BotEventKind.UNKNOWN:
                await self._keep(event, data, "unclassified", bot_event, found.jobid if found else None)
                return
            if found is None:
                await self._unmatched(account, user_id, event, data, bot_event, matchers)
                return
            log.debug("message %s is %s of job %s (by %s)", snap.id, bot_event.kind, found.jobid, found.rule)
            await self._apply(active[found.jobid], bot_event, matchers, event, data)
        except OperationalError:
            # The database is busy, not the message odd: forget it so the retry handles it.
            self._seen.pop(self._seen_key(snap.id, data), None)
            raise
        except Exception:
            # One odd message must never stop the account's stream; keep it for the operator.
            log.exception("account %s: a bot message could not be handled", account.channel)
            try:
                await self._keep(event, data, "unparsable", None, None)
            except OperationalError:
                self._seen.pop(self._seen_key(snap.id, data), None)
                raise

    async def _apply(
        self, job: Job, ev: BotEvent, matchers: ReplyMatchers, event: str, data: dict[str, Any]
    ) -> None:
        # ``job`` was read under this channel's lock, so no other reply changed it since.
        snap = ev.snapshot
        jobid = job.jobid
        try:
            if ev.kind is BotEventKind.ACK:
                if job.status != JobStatus.CREATED.value:
                    await self.store.update(jobid, message_id=job.message_id or snap.id)
                    return
                self._observe_reply(job)
                await self.store.transition(
                    jobid,
                    JobStatus.STARTED,
                    message_id=snap.id,
                    content=ev.text,
                    timestamp=snap.timestamp,
                    code=200,
                    interaction_id=job.interaction_id or snap.interaction_id,
                )
            elif ev.kind is BotEventKind.PROGRESS:
                if job.status == JobStatus.PROGRESS.value and job.progress == ev.percent:
                    return
                if job.status == JobStatus.CREATED.value:
                    self._observe_reply(job)
                await self.store.transition(
                    jobid,
                    JobStatus.PROGRESS,
                    progress=ev.percent,
                    content=ev.text,
                    message_id=job.message_id or snap.id,
                    timestamp=job.timestamp or snap.timestamp,
                )
            elif ev.kind is BotEventKind.RESULT:
                await self._result(job, ev, matchers)
            elif ev.kind is BotEventKind.MODERATED:
                self._observe_reply(job)
                await self.store.transition(
                    jobid,
                    JobStatus.MODERATED,
                    error=ev.text,
                    code=422,
                    message_id=snap.id,
                    content=ev.text,
                    timestamp=snap.timestamp,
                )
            elif ev.kind in (BotEventKind.NO_SUBSCRIPTION, BotEventKind.THROTTLED, BotEventKind.FAILED):
                self._observe_reply(job)
                error, details, code = {
                    BotEventKind.NO_SUBSCRIPTION: (NO_SUBSCRIPTION_TEXT, ev.text, 402),
                    BotEventKind.THROTTLED: (ev.text, None, 429),
                    BotEventKind.FAILED: (ev.text, None, 500),
                }[ev.kind]
                await self.store.transition(
                    jobid,
                    JobStatus.FAILED,
                    error=error,
                    error_details=details,
                    code=code,
                    message_id=job.message_id or snap.id,
                    content=ev.text,
                    timestamp=job.timestamp or snap.timestamp,
                )
        except IllegalTransition:
            # The job ended meanwhile (cancelled, timed out): the reply is kept, not applied.
            await self._keep(event, data, "late", ev, jobid)

    async def _result(self, job: Job, ev: BotEvent, matchers: ReplyMatchers) -> None:
        snap = ev.snapshot
        collected = list(job.attachments or [])
        known = {v.get("url") for v in collected}
        collected += [v for v in ev.videos if v.get("url") not in known]
        message_ids = list(dict.fromkeys([*(job.result_message_ids or []), snap.id]))
        buttons = list(ev.buttons) or list(job.buttons or [])
        if len(collected) < matchers.videos_per_result:
            # Part of a split result: keep what came and wait for the rest.
            await self.store.update(
                job.jobid, attachments=collected, result_message_ids=message_ids, buttons=buttons or None
            )
            return
        if job.sent_at is not None:
            self.metrics.result_latency.observe((utcnow() - as_utc(job.sent_at)).total_seconds())
        embeds = [e for e in snap.embeds] or None
        await self.store.transition(
            job.jobid,
            JobStatus.COMPLETED,
            attachments=collected,
            buttons=buttons,
            embeds=embeds,
            result_message_ids=message_ids,
            message_id=snap.id,
            content=ev.text,
            timestamp=snap.timestamp,
            progress=100,
            code=200,
        )

    async def _unmatched(
        self,
        account: AccountView,
        user_id: str,
        event: str,
        data: dict[str, Any],
        ev: BotEvent,
        matchers: ReplyMatchers,
    ) -> None:
        recent = await self._recently_ended(account.channel)
        found = match_job(ev, [self._tracked(j, user_id) for j in recent], videos_per_result=10**6)
        if found is not None:
            job = next(j for j in recent if j.jobid == found.jobid)
            already = {job.message_id, *(job.result_message_ids or [])}
            if ev.snapshot.id in already:
                return  # an edit of a message already applied (e.g. embeds filled in)
            await self._keep(event, data, "late", ev, found.jobid)
            return
        await self._keep(event, data, "unmatched", ev, None)

    # -- helpers -----------------------------------------------------------------------------

    def _tracked(self, job: Job, user_id: str) -> TrackedJob:
        return TrackedJob(
            jobid=job.jobid,
            channel_id=job.channel,
            user_id=job.discord_user_id or user_id,
            prompt=job.prompt or "",
            style=job.style or "",
            negative_prompt=job.negative_prompt,
            aspect_ratio=job.aspect_ratio,
            character=job.character,
            interaction_id=job.interaction_id,
            nonce=job.nonce,
            ack_message_id=job.message_id if job.status in {s.value for s in ACTIVE} else None,
            seq=job.id,
            videos_collected=len(job.attachments or []),
            result_message_ids=frozenset(job.result_message_ids or []),
        )

    async def _recently_ended(self, channel: str) -> list[Job]:
        since = utcnow() - _LATE_WINDOW
        query = (
            select(Job)
            .where(
                Job.channel == channel,
                Job.status.in_([s.value for s in TERMINAL]),
                Job.updated >= since,
            )
            .order_by(Job.id.desc())
            .limit(50)
        )
        async with self.store.sessions() as session:
            return list(reversed((await session.execute(query)).scalars().all()))

    def _first_time(self, message_id: str | None, data: dict[str, Any]) -> bool:
        """False for an exact repeat of a message we already handled (duplicated events)."""
        key = self._seen_key(message_id, data)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True

    @staticmethod
    def _seen_key(message_id: str | None, data: dict[str, Any]) -> str:
        digest = hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
        return f"{message_id}:{digest}"

    def _observe_reply(self, job: Job) -> None:
        if job.sent_at is not None:
            self.metrics.bot_reply_latency.observe((utcnow() - as_utc(job.sent_at)).total_seconds())

    async def _keep(
        self, event: str, data: dict[str, Any], reason: str, ev: BotEvent | None, jobid: str | None
    ) -> None:
        self.metrics.unclassified.labels(reason).inc()
        await self.bot_messages.add(
            event=event,
            reason=reason,
            data=data,
            kind=ev.kind.value if ev else None,
            jobid=jobid,
        )


async def _retry_busy(what: str, fn: Callable[[], Awaitable[None]]) -> None:
    """Run ``fn``; while the database is busy (OperationalError), wait and run it again."""
    for delay in (*_DB_RETRY_DELAYS, None):
        try:
            await fn()
            return
        except OperationalError as exc:
            if delay is None:
                log.error("%s: database still busy, giving up: %s", what, exc.orig)
                raise
            log.warning("%s: database busy (%s); retrying in %.2f s", what, exc.orig, delay)
            await asyncio.sleep(delay)
