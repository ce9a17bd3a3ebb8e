"""The replyUrl outbox worker: delivers the ``callback_deliveries`` rows, never losing one.

``JobStore.transition`` writes a pending row (frozen body, stable ``delivery_id``) in the same
transaction as the job's final transition; this worker POSTs it until the receiver answers
2xx, the receiver refuses it for good, or ``max_age_seconds`` pass. The database is the
queue: nothing lives only in memory, so a restart resumes every pending delivery.

Scheduling. One supervised loop task picks work; each attempt runs in a task of its own.
* Hot path: ``JobStore`` listeners call ``wake(jobid)``; the loop then reads that job's
  pending rows by the jobid index and starts them at once, whatever backlog exists.
* Scan: on start, on a timer (the earliest ``next_attempt_at``, and at least every
  ``POLL_INTERVAL_SECONDS`` so rows made pending by the offline CLI are noticed - one
  indexed query when idle), and when a slot frees while work was waiting, the due rows are
  read in ``(next_attempt_at, id)`` pages. A row is skipped, not waited for, when its host
  already has ``per_host_concurrency`` attempts in flight or its job has one in flight; so a
  backlog for a dead or hanging host holds at most its per-host share of the global
  ``concurrency`` slots and never starves other hosts.
* Per job, one attempt at a time and an older non-final delivery is never sent once a later
  delivery of the job exists: a progress POST never arrives after the final one.

Outcomes. 2xx: delivered. 4xx other than 408 and 429: failed for good. 408, 429, 5xx,
connection errors, timeouts, unparsable responses: retried with exponential backoff and full
jitter (``uniform(0, min(max_backoff, initial * 2**(n-1)))``), at least ``Retry-After`` (seconds
or HTTP date, capped at ``RETRY_AFTER_CAP_SECONDS``) on 429 and 503, until the next attempt would
fall later than ``max_age_seconds`` after the delivery was created (or last redelivered):
then failed, ``last_error`` "gave up after N attempts over M s".
3xx: redirects are not followed (a POST body must not be re-sent somewhere else); a 3xx is
recorded with its Location and retried like a 5xx, since the receiver may fix its URL
routing, and a delivery is never dropped on a guess.
The response body is never read on 2xx, and at most ``ERROR_SNIPPET_BYTES`` otherwise; a
receiver that hangs, resets, sends garbage or a giant body costs one attempt, nothing more.

One outbox per database: two daemons on one database would both deliver (receivers dedupe
on ``X-Pixverse-Delivery`` anyway).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from worker import __version__
from worker.callbacks.signing import sign
from worker.callbacks.targets import (
    PublicOnlyResolver,
    TargetRefused,
    check_reply_url,
    check_resolved_target,
    host_key,
)
from worker.config import CallbackSettings
from worker.db.models import CallbackAttempt, CallbackDelivery, Job
from worker.jobs.status import TERMINAL, JobStatus
from worker.metrics import Metrics
from worker.timeutil import as_utc, iso_ms, utcnow

log = logging.getLogger(__name__)

USER_AGENT = f"pixverse-worker/{__version__}"
POLL_INTERVAL_SECONDS = 2.0
SCAN_PAGE = 256
#: Due rows skipped for lack of a slot are remembered (up to this many) and started from memory
#: when a slot frees; beyond it, a freed slot triggers a scan of the table instead.
WAITING_CAP = 20_000
ERROR_SNIPPET_BYTES = 512
#: Written to ``callback_attempts.error`` by ``redeliver``: an audit line, and the start of
#: the delivery's new ``max_age_seconds`` window.
REDELIVER_MARK = "redelivery requested"
STATES = ("pending", "delivered", "failed", "superseded")
_FINAL_EVENTS = frozenset(s.value for s in TERMINAL)
_REDELIVERABLE = ("pending", "delivered", "failed")
_ID_CHUNK = 500
#: The longest Retry-After honoured. It is the receiver's explicit request, so it may exceed
#: our own ``max_backoff_seconds``; a larger value (or a far HTTP date) is read as this.
RETRY_AFTER_CAP_SECONDS = 3600.0

CD = CallbackDelivery
_LATER = aliased(CallbackDelivery)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A row read just before its dispatch (hot path), so the attempt need not read it again."""

    delivery: CallbackDelivery
    # A later delivery of the same job exists (a non-final one is then superseded, not sent).
    later: bool


@dataclass(frozen=True, slots=True)
class _Due:
    delivery_id: str
    jobid: str
    url: str
    loaded: _Loaded | None = None


@dataclass(frozen=True, slots=True)
class _Response:
    status: int | None
    error: str | None
    retry_after: float | None
    duration_ms: int
    # Refused before any request was made (URL policy): retrying cannot help.
    refused: bool = False


def classify(status: int) -> str:
    """``delivered`` | ``retry`` | ``failed`` for an HTTP status answered by the receiver."""
    if 200 <= status < 300:
        return "delivered"
    if 400 <= status < 500 and status not in (408, 429):
        return "failed"
    return "retry"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or ``None``."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or utcnow())).total_seconds())


def backoff(attempts: int, initial: float, maximum: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform in ``[0, min(maximum, initial * 2**(attempts-1))]``."""
    ceiling = min(maximum, initial * 2 ** min(max(attempts - 1, 0), 62))
    return (rng or random).uniform(0.0, ceiling)


def delivery_json(d: CallbackDelivery) -> dict[str, Any]:
    """A delivery as the operator endpoints and the CLI show it."""
    return {
        "deliveryId": d.delivery_id,
        "jobid": d.jobid,
        "event": d.job_status,
        "url": d.url,
        "state": d.state,
        "attempts": d.attempts,
        "created": iso_ms(d.created),
        "nextAttemptAt": iso_ms(d.next_attempt_at) if d.state == "pending" else None,
        "lastAttemptAt": iso_ms(d.last_attempt_at),
        "lastStatus": d.last_status,
        "lastError": d.last_error,
        "deliveredAt": iso_ms(d.delivered_at),
    }


def callback_state_json(d: CallbackDelivery) -> dict[str, Any]:
    """The ``callback`` member of the job JSON."""
    return {
        "deliveryId": d.delivery_id,
        "state": d.state,
        "attempts": d.attempts,
        "lastStatus": d.last_status,
        "lastError": d.last_error,
        "deliveredAt": iso_ms(d.delivered_at),
    }


class CallbackOutbox:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        settings: CallbackSettings,
        metrics: Metrics,
        http: aiohttp.ClientSession | None = None,
        poll_interval: float = POLL_INTERVAL_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._metrics = metrics
        self._http = http
        self._owns_http = http is None
        self._poll_interval = poll_interval
        self._secret = settings.signing_secret.get_secret_value() if settings.signing_secret else None
        self._rng = random.Random()
        self._wakeup = asyncio.Event()
        self._fresh: set[str] = set()
        self._rescan = True
        # Some due row was skipped for lack of a slot and is not in ``_waiting``: a finished
        # attempt must trigger a scan.
        self._blocked = False
        # Due rows skipped for lack of a slot, in scan order: a finished attempt starts them
        # from here (the attempt re-reads its row) instead of rescanning the table.
        # Per host: delivery_id -> (scan order, row).
        self._waiting: dict[str, dict[str, tuple[int, _Due]]] = {}
        self._waiting_count = 0
        self._waiting_seq = 0
        self._slot_freed = False
        # Monotonic time of the next scan: the earliest known future ``next_attempt_at``, and at
        # most ``poll_interval`` after the last scan.
        self._scan_at = 0.0
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._host_load: Counter[str] = Counter()
        self._busy_jobs: set[str] = set()
        # Deliveries whose attempt crashed unexpectedly wait a poll interval (no hot loop).
        self._held: dict[str, float] = {}
        self._loop_task: asyncio.Task[None] | None = None
        # Attempt outcomes waiting to be written: one write transaction records them all.
        self._writes: list[tuple[CallbackAttempt, dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._stopping = False
        self._stopped = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._loop_task is not None or self._stopping:
            return
        if self._http is None:
            connector = aiohttp.TCPConnector(
                limit=self._settings.concurrency,
                limit_per_host=0,
                resolver=PublicOnlyResolver() if self._settings.refuse_private_targets else None,
            )
            self._http = aiohttp.ClientSession(
                connector=connector,
                # Receivers must not set cookies that other receivers would then get.
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        self._rescan = True
        self._loop_task = asyncio.create_task(self._run(), name="callback-outbox")
        log.info(
            "callback outbox started concurrency=%d per_host=%d signing=%s",
            self._settings.concurrency,
            self._settings.per_host_concurrency,
            "on" if self._secret else "off",
        )

    async def stop(self, grace: float | None = None) -> None:
        """Stop picking work, give in-flight POSTs ``grace`` seconds, cancel the rest.

        Cancelled attempts are not recorded; their rows stay pending and go out after the
        next start (the receiver may see the same ``X-Pixverse-Delivery`` twice).
        """
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        grace = self._settings.shutdown_grace_seconds if grace is None else grace
        try:
            self._wakeup.set()
            if self._loop_task is not None:
                await _finish(self._loop_task, within=max(grace, 1.0))
            tasks = list(self._inflight.values())
            left: set[asyncio.Task[None]] = set()
            if tasks:
                _done, left = await asyncio.wait(tasks, timeout=grace)
                for task in left:
                    task.cancel()
                await asyncio.gather(*left, return_exceptions=True)
            if self._writer is not None:
                await asyncio.gather(self._writer, return_exceptions=True)
            if self._owns_http and self._http is not None:
                await self._http.close()
            log.info("callback outbox stopped; %d in-flight deliveries left pending", len(left))
        finally:
            self._stopped.set()

    def wake(self, jobid: str | None = None) -> None:
        """Look for work now: the pending rows of ``jobid``, or (without it) a full scan."""
        if jobid is None:
            self._rescan = True
        else:
            self._fresh.add(jobid)
        self._wakeup.set()

    def listener(self, job: Job, previous: JobStatus | None, target: JobStatus) -> None:
        """For ``JobStore.add_listener``: a transition with a replyUrl may have written a row."""
        if job.reply_url and target is not JobStatus.CREATED:
            self.wake(job.jobid)

    # -- operators -----------------------------------------------------------------------

    async def state_for(self, jobid: str) -> dict[str, Any] | None:
        """The job's latest delivery as the job JSON's ``callback`` member; ``None`` if none."""
        async with self._sessions() as session:
            d = (
                await session.execute(select(CD).where(CD.jobid == jobid).order_by(CD.id.desc()).limit(1))
            ).scalar_one_or_none()
        return callback_state_json(d) if d is not None else None

    async def pending_count(self) -> int:
        async with self._sessions() as session:
            result = await session.execute(select(func.count()).where(CD.state == "pending"))
        return int(result.scalar_one())

    async def get_delivery(self, delivery_id: str) -> dict[str, Any] | None:
        return await get_delivery(self._sessions, delivery_id)

    async def list_deliveries(self, state: str | None = "failed", limit: int = 100) -> list[dict[str, Any]]:
        return await list_deliveries(self._sessions, state, limit)

    async def redeliver(self, delivery_id: str | None = None, *, all_failed: bool = False) -> int:
        count = await redeliver(self._sessions, delivery_id, all_failed=all_failed)
        if count:
            self.wake()
        return count

    # -- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            try:
                timeout = await self._pass()
            except Exception:
                log.exception("callback outbox pass failed; next try in %.1f s", self._poll_interval)
                self._rescan = True
                timeout = self._poll_interval
            if self._stopping:
                break
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                self._rescan = True

    async def _pass(self) -> float:
        self._wakeup.clear()
        fresh, self._fresh = self._fresh, set()
        rescan, self._rescan = self._rescan, False
        slot_freed, self._slot_freed = self._slot_freed, False
        if time.monotonic() >= self._scan_at:
            rescan = True
        if slot_freed and self._blocked:
            # Due rows exist that only a scan can find again.
            rescan = True
        now = utcnow()
        if rescan:
            # The scan below sees every due row, so it re-decides whether work is waiting.
            self._blocked = False
            self._waiting.clear()
            self._waiting_count = 0
        elif slot_freed and self._waiting:
            self._dispatch_waiting()
        if fresh:
            later = exists().where(_LATER.jobid == CD.jobid, _LATER.id > CD.id)
            query = (
                select(CD, later)
                .where(CD.jobid.in_(fresh), CD.state == "pending", CD.next_attempt_at <= now)
                .order_by(CD.id)
            )
            async with self._sessions() as session:
                rows = (await session.execute(query)).all()
            self._dispatch(_Due(d.delivery_id, d.jobid, d.url, _Loaded(d, bool(has_later))) for d, has_later in rows)
        if rescan:
            await self._scan(now)
            wait = await self._next_wait(now)
            self._scan_at = time.monotonic() + wait
        return max(self._scan_at - time.monotonic(), 0.001)

    async def _scan(self, now: datetime) -> None:
        self._drop_expired_holds()
        after: tuple[datetime, int] | None = None
        while not self._stopping:
            if len(self._inflight) >= self._settings.concurrency:
                self._blocked = True
                break
            query = (
                select(CD.delivery_id, CD.jobid, CD.url, CD.next_attempt_at, CD.id)
                .where(CD.state == "pending", CD.next_attempt_at <= now)
                .order_by(CD.next_attempt_at, CD.id)
                .limit(SCAN_PAGE)
            )
            if after is not None:
                query = query.where(
                    or_(CD.next_attempt_at > after[0], and_(CD.next_attempt_at == after[0], CD.id > after[1]))
                )
            async with self._sessions() as session:
                rows = (await session.execute(query)).all()
            self._dispatch(_Due(r.delivery_id, r.jobid, r.url) for r in rows)
            if len(rows) < SCAN_PAGE:
                break
            after = (rows[-1].next_attempt_at, rows[-1].id)
        self._metrics.callbacks_pending.set(await self.pending_count())

    async def _next_wait(self, now: datetime) -> float:
        query = select(func.min(CD.next_attempt_at)).where(CD.state == "pending", CD.next_attempt_at > now)
        async with self._sessions() as session:
            earliest = (await session.execute(query)).scalar_one_or_none()
        wait = self._poll_interval
        if earliest is not None:
            wait = min(wait, (as_utc(earliest) - utcnow()).total_seconds())
        return max(wait, 0.001)

    def _dispatch(self, rows: Iterable[_Due]) -> None:
        for row in rows:
            if self._stopping:
                return
            if row.delivery_id in self._inflight or row.delivery_id in self._held:
                continue
            host = host_key(row.url)
            if (
                len(self._inflight) >= self._settings.concurrency
                or row.jobid in self._busy_jobs
                or self._host_load[host] >= self._settings.per_host_concurrency
            ):
                self._remember(row, host)
                continue
            self._start(row, host)

    def _remember(self, row: _Due, host: str) -> None:
        """Keep a due row skipped for lack of a slot, to start it when one frees."""
        waiting = self._waiting.setdefault(host, {})
        if row.delivery_id in waiting:
            return
        if self._waiting_count >= WAITING_CAP:
            self._blocked = True
            return
        self._waiting_seq += 1
        self._waiting_count += 1
        # Without its loaded row: it is read again when started.
        waiting[row.delivery_id] = (self._waiting_seq, _Due(row.delivery_id, row.jobid, row.url))

    def _start(self, row: _Due, host: str) -> None:
        waiting = self._waiting.get(host)
        if waiting is not None and waiting.pop(row.delivery_id, None) is not None:
            self._waiting_count -= 1
            if not waiting:
                del self._waiting[host]
        self._host_load[host] += 1
        self._busy_jobs.add(row.jobid)
        task = asyncio.create_task(self._run_one(row, host), name=f"callback-{row.delivery_id}")
        self._inflight[row.delivery_id] = task

    def _dispatch_waiting(self) -> None:
        """Start remembered rows in the order a scan would: oldest first, within the limits."""
        per_host = self._settings.per_host_concurrency
        candidates: list[tuple[int, str, _Due]] = []
        for host, waiting in self._waiting.items():
            room = per_host - self._host_load[host]
            if room <= 0:
                continue
            jobs: set[str] = set()
            for seq, row in waiting.values():
                if row.jobid in self._busy_jobs or row.jobid in jobs:
                    continue
                if row.delivery_id in self._inflight or row.delivery_id in self._held:
                    continue
                jobs.add(row.jobid)
                candidates.append((seq, host, row))
                room -= 1
                if room <= 0:
                    break
        candidates.sort(key=lambda c: c[0])
        for _seq, host, row in candidates:
            if self._stopping or len(self._inflight) >= self._settings.concurrency:
                return
            if row.jobid in self._busy_jobs or self._host_load[host] >= per_host:
                continue
            self._start(row, host)

    def _drop_expired_holds(self) -> None:
        now = time.monotonic()
        for delivery_id in [k for k, until in self._held.items() if until <= now]:
            del self._held[delivery_id]

    async def _run_one(self, row: _Due, host: str) -> None:
        try:
            await self._attempt(row.delivery_id, row.loaded)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "callback %s for job %s: attempt crashed; held for a while", row.delivery_id, row.jobid
            )
            self._held[row.delivery_id] = time.monotonic() + self._poll_interval
        finally:
            del self._inflight[row.delivery_id]
            self._busy_jobs.discard(row.jobid)
            self._host_load[host] -= 1
            if self._host_load[host] <= 0:
                del self._host_load[host]
            if (self._blocked or self._waiting) and not self._stopping:
                self._slot_freed = True
                self._wakeup.set()

    # -- one attempt ---------------------------------------------------------------------

    async def _attempt(self, delivery_id: str, loaded: _Loaded | None = None) -> None:
        if loaded is not None:
            d = loaded.delivery
            if d.job_status not in _FINAL_EVENTS and loaded.later:
                await self._supersede(delivery_id)
                return
        else:
            async with self._sessions() as session:
                found = (
                    await session.execute(select(CD).where(CD.delivery_id == delivery_id))
                ).scalar_one_or_none()
                if found is None or found.state != "pending":
                    return
                d = found
                if d.job_status not in _FINAL_EVENTS:
                    later = await session.execute(
                        select(CD.id).where(CD.jobid == d.jobid, CD.id > d.id).limit(1)
                    )
                    if later.first() is not None:
                        await self._supersede(delivery_id)
                        return
        response = await self._send(d)
        await self._record(d, response)

    async def _supersede(self, delivery_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(CD)
                .where(CD.delivery_id == delivery_id, CD.state == "pending")
                .values(state="superseded")
            )
        log.info("callback %s superseded by a later delivery of its job", delivery_id)

    async def _send(self, d: CallbackDelivery) -> _Response:
        started = time.monotonic()

        def elapsed_ms() -> int:
            return int((time.monotonic() - started) * 1000)

        if problem := check_reply_url(d.url):
            return _Response(None, f"refused target: {problem}", None, 0, refused=True)
        if self._settings.refuse_private_targets:
            try:
                await check_resolved_target(d.url)
            except TargetRefused as exc:
                return _Response(None, str(exc), None, elapsed_ms(), refused=True)
            except OSError as exc:
                return _Response(None, f"cannot resolve host: {exc}", None, elapsed_ms())
        body = d.body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Pixverse-Delivery": d.delivery_id,
            "X-Pixverse-Event": d.job_status,
            "X-Pixverse-Jobid": d.jobid,
        }
        if self._secret:
            timestamp = int(time.time())
            headers["X-Pixverse-Timestamp"] = str(timestamp)
            headers["X-Pixverse-Signature"] = sign(self._secret, timestamp, body)
        assert self._http is not None
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_seconds)
        try:
            async with self._http.post(
                d.url, data=body, headers=headers, allow_redirects=False, timeout=timeout
            ) as resp:
                status = resp.status
                if 200 <= status < 300:
                    return _Response(status, None, None, elapsed_ms())
                snippet = (await resp.content.read(ERROR_SNIPPET_BYTES)).decode("utf-8", "replace")
                error = f"HTTP {status}"
                if 300 <= status < 400:
                    error += f" redirect to {resp.headers.get('Location', '?')} not followed"
                elif snippet.strip():
                    error += ": " + " ".join(snippet.split())[:200]
                retry_after = None
                if status in (429, 503):
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                return _Response(status, error, retry_after, elapsed_ms())
        except TimeoutError:
            return _Response(None, f"timeout after {self._settings.timeout_seconds:g} s", None, elapsed_ms())
        except aiohttp.ClientError as exc:
            return _Response(None, _describe(exc), None, elapsed_ms())
        except (OSError, ValueError) as exc:
            return _Response(None, _describe(exc), None, elapsed_ms())

    async def _record(self, d: CallbackDelivery, r: _Response) -> None:
        now = utcnow()
        attempts = d.attempts + 1
        if r.status is not None:
            outcome = classify(r.status)
        else:
            outcome = "failed" if r.refused else "retry"
        values: dict[str, Any] = {
            "attempts": CD.attempts + 1,
            "last_attempt_at": now,
            "last_status": r.status,
            "last_error": r.error,
        }
        delay = 0.0
        if outcome == "delivered":
            values.update(state="delivered", delivered_at=now)
        elif outcome == "failed":
            values.update(state="failed")
        else:
            s = self._settings
            delay = backoff(attempts, s.initial_backoff_seconds, s.max_backoff_seconds, self._rng)
            if r.retry_after is not None:
                delay = max(delay, min(r.retry_after, RETRY_AFTER_CAP_SECONDS))
            window_start = as_utc(d.created)
            if (now - window_start).total_seconds() + delay > s.max_age_seconds:
                window_start = await self._window_start(d)
            age = (now - window_start).total_seconds()
            if age + delay > s.max_age_seconds:
                outcome = "failed"
                values.update(
                    state="failed",
                    last_error=f"gave up after {attempts} attempts over {age:.0f} s (last: {r.error})",
                )
            else:
                values.update(next_attempt_at=now + timedelta(seconds=delay))
        attempt = CallbackAttempt(
            delivery_id=d.delivery_id, at=now, status=r.status, error=r.error, duration_ms=r.duration_ms
        )
        await self._write(attempt, values)
        self._metrics.callbacks.labels(outcome=outcome).inc()
        if outcome == "retry" and not self._stopping:
            # The loop computed its sleep while this attempt was in flight; let it see the new
            # next_attempt_at, or the retry waits for the next poll instead of its backoff.
            self._scan_at = min(self._scan_at, time.monotonic() + delay)
            self._wakeup.set()
        if outcome == "delivered":
            log.info(
                "callback %s for job %s delivered status=%s attempt=%d",
                d.delivery_id,
                d.jobid,
                r.status,
                attempts,
            )
        elif outcome == "retry":
            log.info(
                "callback %s for job %s attempt %d failed (%s); retry in %.1f s",
                d.delivery_id,
                d.jobid,
                attempts,
                r.error,
                delay,
            )
        else:
            log.warning(
                "callback %s for job %s failed for good after %d attempts: %s",
                d.delivery_id,
                d.jobid,
                attempts,
                values.get("last_error"),
            )

    async def _write(self, attempt: CallbackAttempt, values: dict[str, Any]) -> None:
        """Record one attempt; attempts finishing together share one write transaction."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writes.append((attempt, values, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="callback-outbox-writer")
        await future

    async def _write_loop(self) -> None:
        while self._writes:
            # An attempt cancelled before its write started is not recorded (as before batching).
            batch = [w for w in self._writes if not w[2].done()]
            self._writes = []
            if not batch:
                continue
            try:
                async with self._sessions.begin() as session:
                    for attempt, values, _future in batch:
                        await session.execute(
                            update(CD)
                            .where(CD.delivery_id == attempt.delivery_id, CD.state == "pending")
                            .values(**values)
                        )
                    session.add_all(attempt for attempt, _values, _future in batch)
            except asyncio.CancelledError:
                for _attempt, _values, future in batch:
                    future.cancel()
                raise
            except Exception as exc:
                for _attempt, _values, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _attempt, _values, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _window_start(self, d: CallbackDelivery) -> datetime:
        query = select(func.max(CallbackAttempt.at)).where(
            CallbackAttempt.delivery_id == d.delivery_id, CallbackAttempt.error == REDELIVER_MARK
        )
        async with self._sessions() as session:
            marked = (await session.execute(query)).scalar_one_or_none()
        start = as_utc(d.created)
        return max(start, as_utc(marked)) if marked is not None else start


# -- operator queries, shared by the daemon's outbox and the offline CLI ------------------


async def get_delivery(sessions: async_sessionmaker[AsyncSession], delivery_id: str) -> dict[str, Any] | None:
    async with sessions() as session:
        d = (await session.execute(select(CD).where(CD.delivery_id == delivery_id))).scalar_one_or_none()
    return delivery_json(d) if d is not None else None


async def list_deliveries(
    sessions: async_sessionmaker[AsyncSession], state: str | None = "failed", limit: int = 100
) -> list[dict[str, Any]]:
    """Deliveries in ``state`` (``None`` or ``"all"``: every state), newest first."""
    query = select(CD).order_by(CD.id.desc()).limit(max(1, limit))
    if state not in (None, "all"):
        if state not in STATES:
            raise ValueError(f"state {state} not supported, must be one of {', '.join((*STATES, 'all'))}")
        query = query.where(CD.state == state)
    async with sessions() as session:
        return [delivery_json(d) for d in (await session.execute(query)).scalars()]


async def redeliver(
    sessions: async_sessionmaker[AsyncSession], delivery_id: str | None = None, *, all_failed: bool = False
) -> int:
    """Make deliveries pending again, due now, same ``delivery_id``; returns how many.

    One id: a pending, delivered or failed delivery (a superseded progress post is never
    sent again). ``all_failed``: every failed one. Attempts restart from 0 and the
    ``max_age_seconds`` window restarts now (an audit row marks the redelivery).
    """
    if delivery_id is None and not all_failed:
        raise ValueError("give a delivery id or all_failed=True")
    now = utcnow()
    async with sessions.begin() as session:
        if delivery_id is not None:
            query = select(CD.delivery_id).where(CD.delivery_id == delivery_id, CD.state.in_(_REDELIVERABLE))
        else:
            query = select(CD.delivery_id).where(CD.state == "failed")
        ids = list((await session.execute(query)).scalars())
        for chunk in _chunks(ids, _ID_CHUNK):
            await session.execute(
                update(CD)
                .where(CD.delivery_id.in_(chunk))
                .values(state="pending", next_attempt_at=now, attempts=0, delivered_at=None)
            )
            session.add_all(CallbackAttempt(delivery_id=i, at=now, error=REDELIVER_MARK) for i in chunk)
    if ids:
        log.info("callback redelivery requested for %d deliveries", len(ids))
    return len(ids)


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _finish(task: asyncio.Task[None], *, within: float) -> None:
    try:
        await asyncio.wait_for(asyncio.shield(task), within)
    except TimeoutError:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    except Exception:
        log.exception("callback outbox loop ended with an error")
