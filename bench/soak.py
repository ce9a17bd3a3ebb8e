"""Soak run: many jobs over many accounts through the sim, with faults switched on everywhere.

The real daemon (HTTP API, discord.py-self sessions, SQLite, callback outbox) runs in-process
against the simulated Discord. A client loop submits jobs over HTTP like a real client (a 429
or 503 is retried after a pause); meanwhile:

- the bot fails some jobs, leaves some interactions unanswered, moderates some prompts;
- random accounts get gateway op 7, close 4000, TCP drops and op 9 invalidations;
- POST /interactions now and then answers 500 or 429;
- gateway events are duplicated and reordered;
- the replyUrl receiver answers 500/503 to some deliveries and hangs past the timeout on others.

Then it waits for a drain period and prints: jobs accepted, jobs final (by status), jobs stuck,
callbacks delivered, duplicate deliveries, lost results, daemon crashes, peak memory.

    python -m bench.soak --jobs 1000 --accounts 20 [--seed N]

Exit status 1 when any job is stuck, any result is lost or the daemon crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from worker.config import Config
from worker.daemon import Daemon
from worker.sim import SimAccount, SimBotSettings, SimDiscord
from worker.sim.receiver import WebhookReceiver

API_TOKEN = "soak-api-token-0123456789"
FINAL = frozenset({"completed", "failed", "moderated", "cancelled"})
STYLES = ("Realistic", "Anime", "3D Animation")
RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
SUBJECTS = ("a fox", "a lighthouse", "a city at night", "a dragon", "rain on a window", "a racing car")

log = logging.getLogger("bench.soak")


@dataclass
class SoakSettings:
    jobs: int = 1000
    accounts: int = 20
    seed: int = 1
    max_jobs: int = 2
    clients: int = 0
    """Concurrent client loops; 0: accounts * max_jobs * 1.5."""
    ack_delay: float = 0.05
    result_delay: float = 1.0
    failure_rate: float = 0.05
    no_answer_rate: float = 0.03
    moderated_share: float = 0.05
    """Share of prompts carrying a moderation word."""
    fault_interval: float = 1.0
    """Seconds between two injected faults (gateway, REST or dispatch)."""
    receiver_error_rate: float = 0.15
    receiver_hang_rate: float = 0.03
    receiver_hang_seconds: float = 2.5
    callback_timeout: float = 2.0
    job_timeout: float = 30.0
    drain_seconds: float = 90.0
    retry_pause: tuple[float, float] = (0.3, 1.0)
    """A real client waits 10-30 s after a 429; scaled down with the sim's speed."""
    max_attempts: int = 200
    log_file: str | None = None


@dataclass
class SoakReport:
    settings: SoakSettings
    elapsed: float = 0.0
    submitted: int = 0
    accepted: int = 0
    create_answers: Counter[int] = field(default_factory=Counter)
    retries: Counter[int] = field(default_factory=Counter)
    gave_up: int = 0
    final: Counter[str] = field(default_factory=Counter)
    stuck: list[str] = field(default_factory=list)
    with_reply_url: int = 0
    receipts: int = 0
    receipts_by_answer: Counter[str] = field(default_factory=Counter)
    delivered: int = 0
    distinct_jobs_delivered: int = 0
    duplicate_deliveries: int = 0
    duplicate_jobs: int = 0
    lost: list[str] = field(default_factory=list)
    wrong_status: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    sim_crashes: list[str] = field(default_factory=list)
    errors_logged: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    peak_rss_mb: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.stuck and not self.lost and not self.crashes and not self.wrong_status

    def lines(self) -> list[str]:
        s = self.settings
        final_total = sum(self.final.values())
        out = [
            f"soak: {s.jobs} jobs over {s.accounts} accounts, seed {s.seed}, maxJobs {s.max_jobs}, "
            f"{self.elapsed:.1f} s",
            f"  create calls:        {sum(self.create_answers.values())} "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(self.create_answers.items()))})",
            f"  client retries:      {sum(self.retries.values())} "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(self.retries.items()))}); gave up: {self.gave_up}",
            f"  jobs accepted:       {self.accepted}",
            f"  jobs final:          {final_total} ({', '.join(f'{k}: {v}' for k, v in sorted(self.final.items()))})",
            f"  jobs stuck:          {len(self.stuck)}",
            f"  final with replyUrl: {self.with_reply_url}",
            f"  callback receipts:   {self.receipts} "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(self.receipts_by_answer.items()))})",
            f"  callbacks delivered: {self.delivered} deliveries, {self.distinct_jobs_delivered} distinct jobs",
            f"  duplicate deliveries:{self.duplicate_deliveries:>5} "
            f"(same X-Pixverse-Delivery accepted twice, e.g. a retry after a lost 200); "
            f"jobs delivered twice: {self.duplicate_jobs}",
            f"  lost results:        {len(self.lost)}",
            f"  wrong final status:  {len(self.wrong_status)}",
            f"  daemon crashes:      {len(self.crashes)}",
            f"  sim crashes:         {len(self.sim_crashes)}",
            f"  ERROR log records:   {self.errors_logged}",
            f"  faults injected:     {sum(self.faults.values())} "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(self.faults.items()))})",
            f"  peak memory:         {self.peak_rss_mb:.0f} MB (ru_maxrss, daemon + sim + clients)",
            f"  result:              {'OK' if self.ok else 'FAILED'}",
        ]
        for name, items in (
            ("stuck", self.stuck),
            ("lost", self.lost),
            ("wrong status", self.wrong_status),
            ("crash", self.crashes),
            ("sim crash", self.sim_crashes),
        ):
            for item in items[:5]:
                out.append(f"  {name}: {item[:2000]}")
        return out


class CrashCatcher(logging.Handler):
    """ERROR records with a traceback, and unhandled exceptions of tasks (the loop's handler)."""

    def __init__(self, report: SoakReport) -> None:
        super().__init__(logging.ERROR)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        self.report.errors_logged += 1
        if not (record.exc_info or record.exc_text):
            return
        text = f"{record.name}: {record.getMessage()}\n{self.format(record)}"
        if record.name.startswith("worker.sim"):
            self.report.sim_crashes.append(text)
        else:
            self.report.crashes.append(text)


class Receiver(WebhookReceiver):
    """The replyUrl receiver: fails some deliveries with 500/503, hangs on some."""

    def __init__(self, settings: SoakSettings, rng: random.Random) -> None:
        super().__init__(self.answer)
        self.s = settings
        self.rng = rng
        # delivery id -> times accepted (answered 200); jobid -> final statuses accepted
        self.accepted: Counter[str] = Counter()
        self.jobs: dict[str, list[str]] = {}
        self.answers: Counter[str] = Counter()

    @property
    def receipts(self) -> int:
        return len(self.calls)

    async def answer(self, headers: dict[str, str], body: bytes) -> web.StreamResponse:
        delivery = headers.get("X-Pixverse-Delivery", "")
        roll = self.rng.random()
        if roll < self.s.receiver_error_rate:
            status = 500 if roll < self.s.receiver_error_rate / 2 else 503
            self.answers[str(status)] += 1
            return web.json_response({"error": "try later"}, status=status)
        if roll < self.s.receiver_error_rate + self.s.receiver_hang_rate:
            # Past the daemon's timeout: it sees a failure although the receiver got it.
            self.answers["hang then 200"] += 1
            await asyncio.sleep(self.s.receiver_hang_seconds)
        else:
            self.answers["200"] += 1
        try:
            job = json.loads(body)
        except ValueError:
            job = {}
        self.accepted[delivery] += 1
        if isinstance(job, dict) and job.get("status") in FINAL:
            self.jobs.setdefault(str(job.get("jobid")), []).append(str(job["status"]))
        return web.json_response({"ok": True})


def make_config(settings: SoakSettings, sim: SimDiscord, accounts: list[SimAccount], db_url: str) -> Config:
    data = sim.daemon_config(accounts, max_jobs=settings.max_jobs)
    data["discord"].update(
        interaction_gap_seconds=0.05,
        error_backoff_initial_seconds=0.5,
        error_backoff_max_seconds=2,
        ready_timeout_seconds=30,
    )
    data.update(
        api={"host": "127.0.0.1", "port": 0, "tokens": [API_TOKEN], "create_wait_seconds": 15},
        database={"url": db_url},
        pixverse={"job_timeout_seconds": settings.job_timeout, "sweep_interval_seconds": 0.5},
        callbacks={
            "initial_backoff_seconds": 0.2,
            "max_backoff_seconds": 2.0,
            "timeout_seconds": settings.callback_timeout,
        },
    )
    return Config.model_validate(data)


class Soak:
    def __init__(self, settings: SoakSettings) -> None:
        self.s = settings
        self.rng = random.Random(settings.seed)
        self.report = SoakReport(settings)
        self.jobids: list[str] = []
        self.receiver = Receiver(settings, random.Random(settings.seed + 1))
        self._next = 0
        self._running = True

    # -- client ------------------------------------------------------------------------------

    def _spec(self, n: int) -> dict[str, Any]:
        rng = self.rng
        prompt = f"{rng.choice(SUBJECTS)} #{n}"
        if rng.random() < self.s.moderated_share:
            prompt += " nsfw"
        style = rng.choice(STYLES)
        spec: dict[str, Any] = {"prompt": prompt, "style": style, "replyUrl": self.receiver.url}
        if rng.random() < 0.5:
            spec["aspect_ratio"] = rng.choice(RATIOS)
        if style == "Anime" and rng.random() < 0.5:
            spec["character"] = "klee"
        spec["replyRef"] = f"soak-{n}"
        return spec

    async def _client(self, http: aiohttp.ClientSession, url: str) -> None:
        while self._next < self.s.jobs:
            n = self._next
            self._next += 1
            self.report.submitted += 1
            spec = self._spec(n)
            for _ in range(self.s.max_attempts):
                try:
                    async with http.post(url, json=spec) as resp:
                        status = resp.status
                        body = await resp.json(content_type=None)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    self.report.create_answers[-1] += 1
                    log.warning("create failed: %r", exc)
                    await asyncio.sleep(self.rng.uniform(*self.s.retry_pause))
                    continue
                self.report.create_answers[status] += 1
                jobid = body.get("jobid") if isinstance(body, dict) else None
                if jobid:
                    self.jobids.append(jobid)
                    self.report.accepted += 1
                if status in (429, 503) or (status >= 500 and not jobid):
                    # Full, rate limited, or no account ready (reconnecting): wait and retry, as a
                    # client of the hosted API does. A 429 from Discord created a (failed) job.
                    self.report.retries[status] += 1
                    await asyncio.sleep(self.rng.uniform(*self.s.retry_pause))
                    continue
                break
            else:
                self.report.gave_up += 1

    # -- faults ------------------------------------------------------------------------------

    async def _faults(self, sim: SimDiscord, accounts: list[SimAccount]) -> None:
        actions = (
            "reconnect",
            "close_4000",
            "drop_tcp",
            "invalidate",
            "rest_500",
            "rest_429",
            "duplicate",
            "reorder",
        )
        while self._running:
            await asyncio.sleep(self.rng.expovariate(1 / self.s.fault_interval))
            if not self._running:
                return
            action = self.rng.choice(actions)
            user = self.rng.choice(accounts).user_id
            self.report.faults[action] += 1
            try:
                if action == "reconnect":
                    await sim.faults.reconnect(user)
                elif action == "close_4000":
                    await sim.faults.close_sessions(user, code=4000)
                elif action == "drop_tcp":
                    await sim.faults.drop_connections(user)
                elif action == "invalidate":
                    await sim.faults.invalidate_sessions(user)
                elif action == "rest_500":
                    sim.faults.rest_error(500, "/interactions$", method="POST")
                elif action == "rest_429":
                    sim.faults.rate_limit("/interactions$", retry_after=0.5, method="POST")
                elif action == "duplicate":
                    sim.faults.duplicate_events(None, count=3, user_id=user)
                elif action == "reorder":
                    sim.faults.reorder_events("MESSAGE_CREATE", count=2, user_id=user)
            except Exception:
                log.exception("injecting %s failed", action)

    # -- run ---------------------------------------------------------------------------------

    async def run(self) -> SoakReport:
        s = self.s
        loop = asyncio.get_running_loop()
        catcher = CrashCatcher(self.report)
        catcher.setFormatter(logging.Formatter("%(message)s"))
        root = logging.getLogger()
        root.addHandler(catcher)

        def on_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            exc = context.get("exception")
            text = f"loop: {context.get('message')} {exc!r}"
            if isinstance(exc, ConnectionError | OSError):
                return  # aborted sockets under the TCP-drop fault
            self.report.crashes.append(text)

        previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(on_loop_error)
        tmp = tempfile.TemporaryDirectory(prefix="pixverse-soak-")
        bot = SimBotSettings(
            ack_delay=s.ack_delay,
            result_delay=s.result_delay,
            failure_rate=s.failure_rate,
            no_answer_rate=s.no_answer_rate,
            failure_event_delay=0.3,
            seed=s.seed,
        )
        sim = SimDiscord(bot=bot)
        daemon: Daemon | None = None
        started = time.monotonic()
        try:
            await sim.start()
            await self.receiver.start()
            accounts = sim.world.add_accounts(s.accounts)
            config = make_config(s, sim, accounts, f"sqlite+aiosqlite:///{Path(tmp.name) / 'soak.db'}")
            daemon = Daemon(config)
            await daemon.start()
            if not await daemon.driver.wait_ready(timeout=60):
                raise RuntimeError(f"accounts not ready: {daemon.driver.statuses()}")
            started = time.monotonic()
            base = f"http://127.0.0.1:{daemon.port}/v1/pixverse"
            timeout = aiohttp.ClientTimeout(total=60)
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=timeout, connector=connector
            ) as http:
                faults = asyncio.create_task(self._faults(sim, accounts))
                clients = s.clients or max(1, int(s.accounts * s.max_jobs * 1.5))
                await asyncio.gather(*(self._client(http, f"{base}/create") for _ in range(clients)))
                self._running = False
                faults.cancel()
                await asyncio.gather(faults, return_exceptions=True)
                sim.faults.clear()
                await self._drain(http, base, daemon)
                await self._tally(http, base)
        finally:
            self.report.elapsed = time.monotonic() - started
            if daemon is not None:
                await daemon.stop()
            await self.receiver.stop()
            await sim.stop()
            tmp.cleanup()
            loop.set_exception_handler(previous_handler)
            root.removeHandler(catcher)
        self.report.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return self.report

    async def _statuses(self, http: aiohttp.ClientSession, base: str) -> dict[str, dict[str, Any]]:
        jobs: dict[str, dict[str, Any]] = {}
        sem = asyncio.Semaphore(20)

        async def one(jobid: str) -> None:
            async with sem, http.get(f"{base}/jobs/", params={"jobid": jobid}) as resp:
                jobs[jobid] = await resp.json(content_type=None)

        await asyncio.gather(*(one(j) for j in self.jobids))
        return jobs

    async def _drain(self, http: aiohttp.ClientSession, base: str, daemon: Daemon) -> None:
        """Until every job is final and every callback is delivered, or the drain period ends."""
        deadline = time.monotonic() + self.s.drain_seconds
        while time.monotonic() < deadline:
            jobs = await self._statuses(http, base)
            open_jobs = [j for j, body in jobs.items() if body.get("status") not in FINAL]
            pending = await daemon.outbox.pending_count()
            if not open_jobs and pending == 0:
                return
            await asyncio.sleep(1.0)

    async def _tally(self, http: aiohttp.ClientSession, base: str) -> None:
        r = self.report
        jobs = await self._statuses(http, base)
        for jobid, body in jobs.items():
            status = str(body.get("status"))
            if status in FINAL:
                r.final[status] += 1
                if body.get("replyUrl"):
                    r.with_reply_url += 1
                    got = self.receiver.jobs.get(jobid)
                    if not got:
                        r.lost.append(f"{jobid} {status} callback={body.get('callback')}")
                    elif got[-1] != status:
                        r.wrong_status.append(f"{jobid}: job {status}, callbacks {got}")
            else:
                r.stuck.append(f"{jobid} {status} {json.dumps(body)[:300]}")
        r.receipts = self.receiver.receipts
        r.receipts_by_answer = self.receiver.answers
        r.delivered = len(self.receiver.accepted)
        r.duplicate_deliveries = sum(n - 1 for n in self.receiver.accepted.values() if n > 1)
        r.distinct_jobs_delivered = len(self.receiver.jobs)
        r.duplicate_jobs = sum(1 for statuses in self.receiver.jobs.values() if len(statuses) > 1)


async def run_soak(settings: SoakSettings) -> SoakReport:
    return await Soak(settings).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-jobs", type=int, default=2, help="maxJobs of every account")
    parser.add_argument("--result-delay", type=float, default=1.0, help="the sim bot's seconds to a result")
    parser.add_argument("--drain", type=float, default=90.0, help="seconds allowed for the drain")
    parser.add_argument("--log-file", help="write the daemon's log (INFO) here")
    args = parser.parse_args(argv)
    settings = SoakSettings(
        jobs=args.jobs,
        accounts=args.accounts,
        seed=args.seed,
        max_jobs=args.max_jobs,
        result_delay=args.result_delay,
        drain_seconds=args.drain,
        log_file=args.log_file,
    )
    root = logging.getLogger()
    root.setLevel(logging.INFO if args.log_file else logging.WARNING)
    if args.log_file:
        handler: logging.Handler = logging.FileHandler(args.log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
        root.addHandler(handler)
    for name in ("discord", "aiohttp.access", "sqlalchemy", "aiosqlite", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    report = asyncio.run(run_soak(settings))
    print("\n".join(report.lines()), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
