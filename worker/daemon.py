"""The composition root: builds every part, owns their lifecycle and the shutdown order.

``Daemon.start`` / ``Daemon.stop`` (safe to call twice); ``Daemon.run`` adds the signal
handling: SIGTERM/SIGINT stop intake and drain, a second one exits at once, SIGHUP (and a
change of the YAML file) reloads the accounts and the reply matchers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import text

from worker.api.app import create_app
from worker.callbacks.outbox import CallbackOutbox
from worker.callbacks.routes import register_routes as register_callback_routes
from worker.config import Config, load_config
from worker.db.engine import make_engine, make_sessionmaker
from worker.db.jobs import JobStore
from worker.db.migrate import upgrade
from worker.discord.driver import DiscordDriver
from worker.driver import AccountView, SessionState
from worker.errors import ConfigError
from worker.jobs.accounts import AccountRegistry
from worker.jobs.bot_messages import BotMessageStore
from worker.jobs.routes import register_routes as register_job_routes
from worker.jobs.service import JobService
from worker.jobs.tracker import ReplyTracker
from worker.logs import SCRUBBER
from worker.metrics import Metrics

log = logging.getLogger(__name__)

CONFIG_POLL_SECONDS = 2.0


class Daemon:
    def __init__(self, config: Config, *, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.metrics = Metrics()
        self.engine = make_engine(config.database.url, busy_timeout_ms=config.database.busy_timeout_ms)
        self.sessions = make_sessionmaker(self.engine)
        self.store = JobStore(self.sessions, progress_callbacks=config.callbacks.send_progress)
        self.accounts = AccountRegistry(self.sessions)
        self.bot_messages = BotMessageStore(self.sessions)
        self.tracker = ReplyTracker(
            store=self.store,
            bot_messages=self.bot_messages,
            matchers=lambda: self.config.pixverse.matchers,
            metrics=self.metrics,
        )
        self.driver = DiscordDriver(
            discord=config.discord, pixverse=config.pixverse, sink=self.tracker, metrics=self.metrics
        )
        self.service = JobService(
            store=self.store, accounts=self.accounts, driver=self.driver, config=config, metrics=self.metrics
        )
        self.outbox = CallbackOutbox(sessions=self.sessions, settings=config.callbacks, metrics=self.metrics)
        self.store.add_listener(self.outbox.listener)
        self.app = create_app(
            service=self.service,
            accounts=self.accounts,
            config=config,
            metrics=self.metrics,
            extra_routes=[
                self._health_routes,
                lambda app: register_callback_routes(app, self.outbox),
                lambda app: register_job_routes(app, self.bot_messages),
            ],
        )
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Removed accounts whose in-flight jobs are still tracked to the end.
        self._draining: dict[str, AccountView] = {}
        # Channels with jobs in flight (refreshed by the sweeper): their ad-hoc sessions stay open.
        self._busy_channels: frozenset[str] = frozenset()
        self._config_mtime: float | None = None
        self._started = False
        self._stopped = False
        self.port: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        SCRUBBER.update(self.config.secrets())
        await upgrade(self.engine)
        await self.accounts.load(self.config.accounts)
        SCRUBBER.update(a.token for a in self.accounts.all())
        self.accounts.add_listener(self._accounts_changed)
        self._runner = web.AppRunner(
            self.app, access_log=None, shutdown_timeout=self.config.api.shutdown_grace_seconds
        )
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.config.api.host, self.config.api.port)
        await self._site.start()
        server = self._site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.config.api.port
        # Ad-hoc credentials are kept only so their unfinished jobs can be followed after a
        # restart; the others get a session again when a create names them.
        active = await self.store.active_counts()
        self._busy_channels = frozenset(active)
        self.driver.set_busy_checker(self._has_active_jobs)
        await self.driver.start([a for a in self.accounts.all() if a.source != "adhoc" or a.channel in active])
        await self.outbox.start()
        self._spawn("sweeper", self._sweep_loop)
        if self.config_path is not None:
            self._config_mtime = _mtime(self.config_path)
            self._spawn("config watcher", self._watch_config)
        log.info(
            "pixverse-worker listening on http://%s:%s with %d account(s)",
            self.config.api.host,
            self.port,
            len(self.accounts.all()),
        )

    async def stop(self) -> None:
        """Stop intake, let requests finish, close sessions, give callbacks their grace."""
        if self._stopped or not self._started:
            return
        self._stopped = True
        log.info("shutting down: intake closed, new creates get 503")
        left = await self.service.drain(self.config.api.shutdown_grace_seconds)
        if left:
            log.warning("%d create request(s) still open after the grace period", left)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            # Stops listening, waits up to the grace period for in-flight requests.
            await self._runner.cleanup()
        await self.driver.stop()
        await self.outbox.stop(self.config.callbacks.shutdown_grace_seconds)
        active = await self.store.active()
        if active:
            log.info("%d job(s) still in flight; they are resumed at the next start", len(active))
        await self.engine.dispose()
        log.info("stopped")

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT; SIGHUP reloads the config."""
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()

        def on_stop(signame: str) -> None:
            if stopping.is_set():
                log.warning("second %s: exiting at once", signame)
                os._exit(1)
            log.info("%s received", signame)
            stopping.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_stop, sig.name)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn_once("reload", self.reload))
        try:
            await self.start()
            await stopping.wait()
        finally:
            await self.stop()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        return 0

    # -- reload ----------------------------------------------------------------------------

    async def reload(self) -> bool:
        """Re-read the YAML file; a broken file is reported and the running config kept."""
        if self.config_path is None:
            log.warning("reload requested but the daemon has no config file")
            return False
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("config reload failed, keeping the running config:\n%s", exc)
            return False
        for section in ("api", "database", "discord", "callbacks", "logging"):
            if getattr(new, section) != getattr(self.config, section):
                log.warning("config section %r changed; it takes effect at the next restart", section)
        # Hot: accounts and everything under pixverse (matchers, timeouts).
        self.config = self.config.model_copy(update={"accounts": new.accounts, "pixverse": new.pixverse})
        self.service.config = self.config
        SCRUBBER.update(self.config.secrets())
        changed, removed = self.accounts.replace_config(new.accounts)
        log.info("config reloaded: %d account(s) added or changed, %d removed", len(changed), len(removed))
        return True

    def _accounts_changed(self, changed: list[AccountView], removed: list[AccountView]) -> None:
        SCRUBBER.update(a.token for a in changed)
        for account in changed:
            self._draining.pop(account.channel, None)
        keep: list[AccountView] = []
        for account in removed:
            # Its in-flight jobs are tracked to the end; the session closes when they are done.
            self._draining[account.channel] = account
            keep.append(account)
        self.driver.apply_changes(changed, [])
        if keep:
            self._spawn_once("drain removed accounts", self._close_drained)

    async def _close_drained(self) -> None:
        counts = await self.store.active_counts()
        done = [a for c, a in self._draining.items() if not counts.get(c)]
        for account in done:
            self._draining.pop(account.channel, None)
        if done:
            self.driver.apply_changes([], done)

    def _has_active_jobs(self, channel: str) -> bool:
        return channel in self._busy_channels

    # -- background loops --------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.pixverse.sweep_interval_seconds)
            await self.service.sweep_timeouts()
            await self.service.fail_errored_accounts()
            self._busy_channels = frozenset((await self.store.active_counts()).keys())
            if self._draining:
                await self._close_drained()

    async def _watch_config(self) -> None:
        assert self.config_path is not None
        while True:
            await asyncio.sleep(CONFIG_POLL_SECONDS)
            mtime = _mtime(self.config_path)
            if mtime is not None and mtime != self._config_mtime:
                self._config_mtime = mtime
                log.info("config file %s changed", self.config_path)
                await self.reload()

    def _spawn(self, name: str, loop_fn: Callable[[], Awaitable[None]]) -> None:
        """A supervised loop: an exception is logged and the loop starts again."""

        async def supervised() -> None:
            while True:
                try:
                    await loop_fn()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s failed; restarting it", name)
                    await asyncio.sleep(1.0)

        self._tasks.append(asyncio.create_task(supervised(), name=name))

    def _spawn_once(self, name: str, fn: Callable[[], Awaitable[Any]]) -> None:
        async def once() -> None:
            try:
                await fn()
            except Exception:
                log.exception("%s failed", name)

        task = asyncio.create_task(once(), name=name)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    # -- health and metrics ------------------------------------------------------------------

    def _health_routes(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "code": 200})

    async def _readyz(self, request: web.Request) -> web.Response:
        problems = []
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            problems.append(f"database unreachable: {type(exc).__name__}")
        statuses = self.driver.statuses()
        ready = sorted(c for c, s in statuses.items() if s.state is SessionState.READY)
        if not ready:
            problems.append("no Discord account is ready")
        if not self.service.intake_open:
            problems.append("shutting down")
        code = 503 if problems else 200
        body: dict[str, Any] = {"status": "ready" if code == 200 else "not ready", "readyAccounts": len(ready)}
        if problems:
            body["problems"] = problems
        body["code"] = code
        return web.json_response(body, status=code)

    async def _metrics(self, request: web.Request) -> web.Response:
        m = self.metrics
        m.jobs.clear()
        for status, count in (await self.store.count_by_status()).items():
            m.jobs.labels(status).set(count)
        m.sessions.clear()
        states: dict[str, int] = {s.value: 0 for s in SessionState}
        for session in self.driver.statuses().values():
            states[session.state.value] += 1
        for state, count in states.items():
            m.sessions.labels(state).set(count)
        m.callbacks_pending.set(await self.outbox.pending_count())
        payload, content_type = m.render()
        return web.Response(body=payload, headers={"Content-Type": content_type})


def _mtime(path: Path) -> float | None:
    with contextlib.suppress(OSError):
        return path.stat().st_mtime
    return None
