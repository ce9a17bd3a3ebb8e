"""``DiscordDriver``: the ``worker.driver.Driver`` over one ``AccountSession`` per account.

All sessions live in one process and one loop, one task each; a failure in one never touches
another. The driver opens sessions at start, follows ``AccountRegistry`` changes (opening,
restarting or closing only the sessions that changed), opens ad-hoc sessions on demand and
closes them when idle, and routes ``submit`` to the account's session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from worker.config import DiscordSettings, PixverseSettings
from worker.db.models import Job
from worker.discord.client import configure_endpoints, install_error_body_capture, install_offline_headers
from worker.discord.commands import OptionBuilder
from worker.discord.session import AccountSession, IdentifyGate, ReplySink
from worker.driver import AccountView, SessionState, SessionStatus
from worker.errors import DiscordUnavailable
from worker.metrics import Metrics

log = logging.getLogger(__name__)

BusyChecker = Callable[[str], bool]
StatusListener = Callable[[str, SessionStatus], None]


class DiscordDriver:
    def __init__(
        self, *, discord: DiscordSettings, pixverse: PixverseSettings, sink: ReplySink, metrics: Metrics
    ) -> None:
        self._settings = discord
        self._pixverse = pixverse
        self._sink = sink
        self._metrics = metrics
        self._options = OptionBuilder(pixverse.option_names)
        self._gate = IdentifyGate(discord.identify_stagger_seconds)
        self._sessions: dict[str, AccountSession] = {}
        self._disabled: dict[str, SessionStatus] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._busy: BusyChecker = lambda channel: False
        self._listeners: list[StatusListener] = []
        self._reaper: asyncio.Task[None] | None = None
        self._prepared = False
        self._started = False
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------

    def _prepare(self) -> None:
        if self._prepared:
            return
        configure_endpoints(self._settings.rest_base, self._settings.gateway_base)
        install_offline_headers()
        install_error_body_capture()
        self._prepared = True

    async def start(self, accounts: Iterable[AccountView]) -> None:
        """Open a session per enabled account; returns without waiting for READY."""
        if self._started:
            return
        self._prepare()
        self._started = True
        for account in accounts:
            if account.enabled:
                self._open(account)
            else:
                self._disabled[account.channel] = SessionStatus(SessionState.DISABLED)
        self._update_gauge()
        self._reaper = asyncio.create_task(self._reap_idle(), name="discord-adhoc-reaper")
        log.info("discord driver started: %d sessions, %d disabled", len(self._sessions), len(self._disabled))

    async def stop(self) -> None:
        """Close every session cleanly. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        sessions = list(self._sessions.values())
        self._sessions.clear()
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        await asyncio.gather(*self._closing, return_exceptions=True)
        self._update_gauge()
        log.info("discord driver stopped (%d sessions closed)", len(sessions))

    def _open(self, account: AccountView, *, adhoc: bool = False) -> AccountSession:
        session = AccountSession(
            account,
            discord_settings=self._settings,
            pixverse=self._pixverse,
            sink=self._sink,
            options=self._options,
            metrics=self._metrics,
            identify_gate=self._gate,
            on_transition=self._on_transition,
            adhoc=adhoc or account.source == "adhoc",
        )
        self._sessions[account.channel] = session
        self._disabled.pop(account.channel, None)
        session.start()
        return session

    def _close_later(self, session: AccountSession, final: SessionState = SessionState.STOPPED) -> None:
        task = asyncio.create_task(session.close(final), name=f"discord-close-{session.channel}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # -- account changes -------------------------------------------------------------------

    def apply_changes(self, changed: list[AccountView], removed: list[AccountView]) -> None:
        """``AccountRegistry`` listener: touch only the sessions of these accounts.

        Disabled: session closed, state disabled. Removed: session closed and forgotten.
        A new token or server restarts the session; other changes (maxJobs, replyUrl) only
        update the account view the session reports with.
        """
        if not self._started or self._stopped:
            return
        for account in removed:
            self._disabled.pop(account.channel, None)
            session = self._sessions.pop(account.channel, None)
            if session is not None:
                log.info("account %s removed: closing its session", account.channel)
                self._close_later(session)
        for account in changed:
            current = self._sessions.get(account.channel)
            if not account.enabled:
                if current is not None:
                    del self._sessions[account.channel]
                    self._close_later(current, SessionState.DISABLED)
                self._disabled[account.channel] = SessionStatus(SessionState.DISABLED)
                continue
            if current is not None and (current.account.token, current.account.server) == (
                account.token,
                account.server,
            ):
                current.account = account
                continue
            if current is not None:
                log.info("account %s changed credentials: restarting its session", account.channel)
                del self._sessions[account.channel]
                self._close_later(current)
            self._open(account)
        self._update_gauge()

    # -- status ----------------------------------------------------------------------------

    def status(self, channel: str) -> SessionStatus | None:
        session = self._sessions.get(channel)
        if session is not None:
            return session.status
        return self._disabled.get(channel)

    def statuses(self) -> dict[str, SessionStatus]:
        out = dict(self._disabled)
        out.update({channel: s.status for channel, s in self._sessions.items()})
        return out

    def session(self, channel: str) -> AccountSession | None:
        return self._sessions.get(channel)

    def add_status_listener(self, listener: StatusListener) -> None:
        """Called with ``(channel, status)`` after every session state change."""
        self._listeners.append(listener)

    def _on_transition(self, session: AccountSession) -> None:
        if self._sessions.get(session.channel) is session:
            self._update_gauge()
        for listener in self._listeners:
            try:
                listener(session.channel, session.status)
            except Exception:
                log.exception("status listener failed")

    def _update_gauge(self) -> None:
        counts = dict.fromkeys(SessionState, 0)
        for status in self.statuses().values():
            counts[status.state] += 1
        for state, n in counts.items():
            self._metrics.sessions.labels(state.value).set(n)

    async def wait_ready(self, channels: Iterable[str] | None = None, timeout: float = 30.0) -> bool:
        """Whether every session (or those of ``channels``) reached ready within ``timeout``."""
        wanted = list(channels) if channels is not None else list(self._sessions)
        deadline = time.monotonic() + timeout
        for channel in wanted:
            session = self._sessions.get(channel)
            if session is None:
                return False
            left = deadline - time.monotonic()
            status = await session.wait_settled(max(left, 0), frozenset({SessionState.READY}))
            if status.state is not SessionState.READY:
                return False
        return True

    # -- ad hoc ----------------------------------------------------------------------------

    def set_busy_checker(self, checker: BusyChecker) -> None:
        """``checker(channel)`` is True while the channel has jobs in flight (keeps ad-hoc sessions)."""
        self._busy = checker

    def touch(self, channel: str) -> None:
        """The channel is in use: push back the idle close of its ad-hoc session."""
        session = self._sessions.get(channel)
        if session is not None:
            session.touch()

    async def ensure_session(self, account: AccountView) -> SessionStatus:
        """Open a session for ``account`` if it has none, and wait (bounded) until ready or error."""
        if self._stopped:
            raise DiscordUnavailable("driver stopped")
        self._prepare()
        session = self._sessions.get(account.channel)
        if session is not None and (session.account.token, session.account.server) != (
            account.token,
            account.server,
        ):
            del self._sessions[account.channel]
            self._close_later(session)
            session = None
        if session is None:
            log.info("account %s: opening an ad-hoc session", account.channel)
            session = self._open(account, adhoc=True)
            self._update_gauge()
        session.touch()
        return await session.wait_settled(self._settings.ready_timeout_seconds)

    async def _reap_idle(self) -> None:
        idle = self._settings.adhoc_idle_seconds
        period = max(0.05, min(5.0, idle / 4))
        while True:
            await asyncio.sleep(period)
            try:
                self._reap_once(idle)
            except Exception:
                log.exception("ad-hoc session reaper failed")

    def _reap_once(self, idle: float) -> None:
        now = time.monotonic()
        for channel, session in list(self._sessions.items()):
            if not session.adhoc:
                continue
            if session.busy or self._busy(channel):
                session.touch()
                continue
            if now - session.last_used >= idle:
                log.info(
                    "account %s: ad-hoc session idle for %.0fs, closing", channel, now - session.last_used
                )
                del self._sessions[channel]
                self._close_later(session)
        self._update_gauge()

    # -- commands --------------------------------------------------------------------------

    async def submit(self, job: Job, account: AccountView) -> None:
        """Send ``/create`` for ``job`` on the account's session.

        One invocation at a time per account, at least ``interaction_gap_seconds`` apart.
        Returns once Discord accepted the interaction and it succeeded, or when its outcome is
        unknown after 12 s (logged; the reply tracker keeps watching). Raises
        ``DiscordUnavailable`` (no session, not ready, command not found, 5xx, network),
        ``DiscordRateLimited`` (429, Discord's body), ``InteractionRejected`` (other 4xx; and
        status 0 / body "INTERACTION_FAILURE" when Discord reports the bot did not answer).
        """
        session = self._sessions.get(account.channel)
        if session is None:
            state = self._disabled.get(account.channel)
            raise DiscordUnavailable(f"not ready ({state.state if state else 'no session'})")
        await session.submit(job)

    def __repr__(self) -> str:
        return f"<DiscordDriver sessions={len(self._sessions)} disabled={len(self._disabled)}>"


__all__ = ["DiscordDriver"]
