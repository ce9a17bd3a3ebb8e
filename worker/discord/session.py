"""One supervised discord.py-self session for one account.

An ``AccountSession`` owns one task that builds a fresh ``discord.Client`` per attempt
(``async with client: login; connect(reconnect=True)``), a second task that hands the account's
channel events to the ``ReplySink`` in gateway order, and the per-account invocation lock.

States (``SessionState``), all written by :meth:`AccountSession._transition`:

- ``starting``: a client is logging in / identifying;
- ``ready``: READY (or RESUMED) seen; commands can be sent;
- ``reconnecting``: the gateway was lost and the library is resuming or re-identifying;
- ``error``: the attempt failed (bad token, ban, captcha, fatal close, crash); the supervisor
  retries after ``error_backoff_initial_seconds``, doubling up to ``error_backoff_max_seconds``
  (reset once an attempt reaches ready);
- ``stopped`` / ``disabled``: closed for good (terminal for this object).

The token is never logged: every reason built from an exception goes through ``_scrub``.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import discord
import discord.utils
from curl_cffi import CurlError

from worker.config import DiscordSettings, PixverseSettings
from worker.discord.client import capture_error_bodies, make_client, strip_nulls
from worker.discord.commands import (
    BotCommand,
    CommandCache,
    CommandNotFound,
    OptionBuilder,
    find_command,
    is_outdated,
)
from worker.driver import AccountView, SessionState, SessionStatus
from worker.errors import DiscordRateLimited, DiscordUnavailable, InteractionRejected, SessionClosed

if TYPE_CHECKING:
    from worker.db.models import Job
    from worker.metrics import Metrics

log = logging.getLogger(__name__)

# How long an invocation waits for INTERACTION_SUCCESS / _FAILURE after the POST (as 2.1.0).
INTERACTION_TIMEOUT_SECONDS = 12.0
# Longest 429 the library may sleep through inside a request; longer ones surface as
# DiscordRateLimited. 30 s is 2.1.0's floor for max_ratelimit_timeout.
MAX_RATELIMIT_TIMEOUT_SECONDS = 30.0
# Bound on waiting for the sink to take ``on_interaction`` before submit returns.
SINK_HANDOFF_SECONDS = 5.0
CLOSE_TIMEOUT_SECONDS = 5.0
RECENT_INVOCATIONS = 32

FATAL_CLOSES = {
    4004: "authentication failed",
    4010: "invalid shard",
    4011: "sharding required",
    4012: "invalid API version",
    4013: "invalid intents",
    4014: "disallowed intents",
}

_ALLOWED: dict[SessionState, frozenset[SessionState]] = {
    SessionState.STARTING: frozenset(
        {
            SessionState.READY,
            SessionState.RECONNECTING,
            SessionState.ERROR,
            SessionState.STOPPED,
            SessionState.DISABLED,
        }
    ),
    SessionState.READY: frozenset(
        {
            SessionState.READY,
            SessionState.RECONNECTING,
            SessionState.ERROR,
            SessionState.STOPPED,
            SessionState.DISABLED,
        }
    ),
    SessionState.RECONNECTING: frozenset(
        {SessionState.READY, SessionState.ERROR, SessionState.STOPPED, SessionState.DISABLED}
    ),
    SessionState.ERROR: frozenset(
        {SessionState.STARTING, SessionState.ERROR, SessionState.STOPPED, SessionState.DISABLED}
    ),
    SessionState.STOPPED: frozenset(),
    SessionState.DISABLED: frozenset(),
}
TERMINAL = frozenset({SessionState.STOPPED, SessionState.DISABLED})
SETTLED = frozenset({SessionState.READY, SessionState.ERROR}) | TERMINAL


class ReplySink(Protocol):
    """Where a session delivers what it sees; implemented by the reply tracker."""

    async def on_message(self, account: AccountView, user_id: str, event: str, data: dict[str, Any]) -> None:
        """A MESSAGE_CREATE / MESSAGE_UPDATE payload (nulls stripped) of the account's channel.

        Called in gateway order and never concurrently for one account."""

    async def on_ready(self, account: AccountView, user_id: str, session: AccountSession) -> None:
        """After every READY (first connect and each re-identify): reconcile history here."""

    async def on_interaction(self, jobid: str, interaction_id: str, nonce: str | None) -> None:
        """The INTERACTION_CREATE of the job's invocation, before the bot's reply is delivered."""


class IdentifyGate:
    """Spaces the IDENTIFYs of all sessions of one driver by ``spacing`` seconds."""

    def __init__(self, spacing: float) -> None:
        self.spacing = spacing
        self._lock = asyncio.Lock()
        self._last: float | None = None

    async def wait(self) -> None:
        if self.spacing <= 0:
            return
        async with self._lock:
            loop = asyncio.get_running_loop()
            if self._last is not None:
                delay = self._last + self.spacing - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            self._last = loop.time()


@dataclass(eq=False)
class _Invocation:
    jobid: str
    nonce: str
    finished: asyncio.Future[bool]
    created: asyncio.Event = field(default_factory=asyncio.Event)
    interaction_id: str | None = None
    handed_off: asyncio.Future[None] | None = None


@dataclass(eq=False)
class _SinkItem:
    kind: str  # "message" | "interaction" | "ready"
    user_id: str
    event: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    jobid: str = ""
    done: asyncio.Future[None] | None = None


StateListener = Callable[["AccountSession"], None]


class AccountSession:
    """The Discord session of one account: supervised connection, invocation, history."""

    def __init__(
        self,
        account: AccountView,
        *,
        discord_settings: DiscordSettings,
        pixverse: PixverseSettings,
        sink: ReplySink,
        options: OptionBuilder,
        metrics: Metrics | None = None,
        identify_gate: IdentifyGate | None = None,
        on_transition: StateListener | None = None,
        adhoc: bool = False,
    ) -> None:
        self.account = account
        self.adhoc = adhoc
        self._settings = discord_settings
        self._pixverse = pixverse
        self._sink = sink
        self._options = options
        self._metrics = metrics
        self._gate = identify_gate
        self._on_transition = on_transition
        self._status = SessionStatus(SessionState.STARTING)
        self._state_changed = asyncio.Condition()
        self.client: discord.Client | None = None
        self.user_id: str | None = None
        self.commands = CommandCache(self._discover)
        # Diagnostics: connection attempts (one per client built) and READYs seen.
        self.attempts = 0
        self.readies = 0
        self._task: asyncio.Task[None] | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._events: asyncio.Queue[_SinkItem] = asyncio.Queue()
        self._stopping = False
        self._wake = asyncio.Event()
        self._fatal_reason: str | None = None
        self._ready_this_attempt = False
        self._lock = asyncio.Lock()
        self._last_send: float | None = None
        self._last_nonce: str | None = None
        self._inflight: _Invocation | None = None
        self._last_error_body = ""
        self._recent: collections.OrderedDict[str, str] = collections.OrderedDict()
        self.last_used = time.monotonic()

    # -- status ----------------------------------------------------------------------------

    @property
    def channel(self) -> str:
        return self.account.channel

    @property
    def status(self) -> SessionStatus:
        return self._status

    @property
    def state(self) -> SessionState:
        return self._status.state

    @property
    def busy(self) -> bool:
        """An invocation is running (or waiting for its turn)."""
        return self._lock.locked()

    def touch(self) -> None:
        self.last_used = time.monotonic()

    def _transition(self, state: SessionState, reason: str | None = None) -> bool:
        """The only writer of the session state: checks the move, logs one line, notifies."""
        current = self._status
        if state is current.state and reason == current.reason:
            return False
        if state not in _ALLOWED[current.state]:
            log.debug("account %s: ignored %s -> %s", self.channel, current.state, state)
            return False
        self._status = SessionStatus(state=state, reason=reason, user_id=self.user_id)
        log_fn = log.warning if state is SessionState.ERROR else log.info
        log_fn(
            "account %s: session %s -> %s%s",
            self.channel,
            current.state,
            state,
            f" ({reason})" if reason else "",
        )
        if self._on_transition is not None:
            try:
                self._on_transition(self)
            except Exception:
                log.exception("session state listener failed")
        self._spawn(self._notify_state())
        return True

    async def _notify_state(self) -> None:
        async with self._state_changed:
            self._state_changed.notify_all()

    async def wait_settled(self, seconds: float, states: frozenset[SessionState] = SETTLED) -> SessionStatus:
        """Wait (bounded) until the state is one of ``states``; returns the status either way."""

        async def settled() -> None:
            async with self._state_changed:
                await self._state_changed.wait_for(lambda: self._status.state in states)

        try:
            await asyncio.wait_for(settled(), seconds)
        except TimeoutError:
            pass
        return self._status

    def _scrub(self, text: str) -> str:
        token = self.account.token
        return text.replace(token, "***") if token else text

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._supervise(), name=f"discord-session-{self.channel}")
        self._pump_task = asyncio.create_task(self._pump(), name=f"discord-sink-{self.channel}")

    async def close(self, final: SessionState = SessionState.STOPPED, reason: str | None = None) -> None:
        """Close the client and end both tasks. Idempotent."""
        self._stopping = True
        self._wake.set()
        client = self.client
        if client is not None:
            try:
                await asyncio.wait_for(client.close(), CLOSE_TIMEOUT_SECONDS)
            except Exception:
                log.warning("account %s: client close failed", self.channel, exc_info=True)
        task = self._task
        if task is not None and task is not asyncio.current_task() and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), CLOSE_TIMEOUT_SECONDS)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for t in [self._pump_task, *self._side_tasks]:
            if t is not None and t is not asyncio.current_task() and not t.done():
                t.cancel()
        self._transition(final, reason)
        await asyncio.gather(
            *[
                t
                for t in [self._pump_task, *self._side_tasks]
                if t is not None and t is not asyncio.current_task()
            ],
            return_exceptions=True,
        )

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            return
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _supervise(self) -> None:
        initial = self._settings.error_backoff_initial_seconds
        backoff = initial
        while not self._stopping:
            reason = await self._attempt()
            if self._stopping:
                break
            if self._ready_this_attempt:
                backoff = initial
            self._transition(SessionState.ERROR, reason)
            log.warning("account %s: retrying in %.1fs", self.channel, backoff)
            try:
                await asyncio.wait_for(self._wake.wait(), backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, self._settings.error_backoff_max_seconds)

    async def _attempt(self) -> str:
        """One client from login to the end of ``connect``; returns why it ended."""
        self._fatal_reason = None
        self._ready_this_attempt = False
        self.attempts += 1
        self._transition(SessionState.STARTING)
        client = make_client(
            raw_message_listener=self._on_raw_message,
            raw_interaction_listener=self._on_raw_interaction,
            max_ratelimit_timeout=MAX_RATELIMIT_TIMEOUT_SECONDS,
        )
        self._install_handlers(client)
        self.client = client
        self.commands.invalidate()
        reason = "gateway connection ended"
        try:
            async with client:
                if self._stopping:
                    return "stopped"
                await client.login(self.account.token)
                if client.user is not None:
                    self.user_id = str(client.user.id)
                await client.connect(reconnect=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = self._describe(exc)
        finally:
            self.client = None
        return self._fatal_reason or reason

    def _describe(self, exc: Exception) -> str:
        if isinstance(exc, discord.LoginFailure):
            return "Discord rejected the token (401)"
        if isinstance(exc, discord.CaptchaRequired):
            return "captcha required"
        if isinstance(exc, discord.Forbidden):
            return "banned / forbidden (403)"
        if isinstance(exc, discord.ConnectionClosed):
            what = FATAL_CLOSES.get(exc.code, exc.reason or "closed")
            return f"gateway closed with {exc.code}: {what}"
        if isinstance(exc, discord.HTTPException):
            return self._scrub(f"Discord answered HTTP {exc.status} ({exc.text[:200]})")
        if isinstance(exc, OSError | CurlError | TimeoutError | discord.GatewayNotFound):
            return self._scrub(f"Discord unreachable ({type(exc).__name__}: {str(exc)[:200]})")
        log.error("account %s: session crashed: %s", self.channel, self._scrub(repr(exc)))
        return self._scrub(f"session crashed ({type(exc).__name__}: {str(exc)[:200]})")

    def _install_handlers(self, client: discord.Client) -> None:
        # discord.py-self dispatches ``on_<event>`` attributes; instance attributes are enough.
        async def on_ready() -> None:
            if client is not self.client:
                return
            if client.user is not None:
                self.user_id = str(client.user.id)
            self.readies += 1
            self._ready_this_attempt = True
            self.commands.invalidate()
            self._transition(SessionState.READY)
            self._enqueue(_SinkItem(kind="ready", user_id=self.user_id or ""))
            self._spawn(self._prefetch_command())

        async def on_resumed() -> None:
            if client is self.client:
                self._transition(SessionState.READY)

        async def on_disconnect() -> None:
            if client is self.client and not self._stopping and not client.is_closed():
                self._transition(SessionState.RECONNECTING, "gateway connection lost")

        async def before_identify_hook(*, initial: bool = False) -> None:
            if self._gate is not None:
                await self._gate.wait()

        client.on_ready = on_ready  # type: ignore[attr-defined]
        client.on_resumed = on_resumed  # type: ignore[attr-defined]
        client.on_disconnect = on_disconnect  # type: ignore[attr-defined]
        client.before_identify_hook = before_identify_hook  # type: ignore[method-assign]

    async def _prefetch_command(self) -> None:
        try:
            await self.commands.get()
        except Exception as exc:
            log.warning("account %s: command discovery failed: %s", self.channel, self._scrub(str(exc)))

    def _fail(self, reason: str) -> None:
        """Take the account out of rotation: close the client; the supervisor backs off."""
        self._fatal_reason = reason
        client = self.client
        if client is not None:
            self._spawn(client.close())

    # -- events to the sink, in gateway order ----------------------------------------------

    def _enqueue(self, item: _SinkItem) -> None:
        self._events.put_nowait(item)

    def _on_raw_message(self, event: str, data: dict[str, Any]) -> None:
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or not isinstance(data, dict):
            return
        if str(data.get("channel_id")) != self.account.channel:
            return
        self._enqueue(
            _SinkItem(kind="message", user_id=self.user_id or "", event=event, data=strip_nulls(data))
        )

    def _on_raw_interaction(self, event: str, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            return
        nonce = data.get("nonce")
        nonce = str(nonce) if nonce is not None else None
        interaction_id = str(data.get("id"))
        inv = self._inflight
        if event == "INTERACTION_CREATE":
            jobid: str | None = None
            done: asyncio.Future[None] | None = None
            if inv is not None and (nonce == inv.nonce or (nonce is None and inv.interaction_id is None)):
                inv.interaction_id = interaction_id
                inv.handed_off = done = asyncio.get_running_loop().create_future()
                inv.created.set()
                jobid = inv.jobid
            elif nonce is not None and nonce in self._recent:
                jobid = self._recent[nonce]
                log.warning("job %s: late INTERACTION_CREATE %s", jobid, interaction_id)
            if jobid is not None:
                self._enqueue(
                    _SinkItem(
                        kind="interaction",
                        user_id=self.user_id or "",
                        event=interaction_id,
                        data={"nonce": nonce},
                        jobid=jobid,
                        done=done,
                    )
                )
            return
        if inv is None or inv.finished.done():
            return
        if interaction_id == inv.interaction_id or (nonce is not None and nonce == inv.nonce):
            inv.finished.set_result(event == "INTERACTION_SUCCESS")

    async def _pump(self) -> None:
        while True:
            item = await self._events.get()
            try:
                if item.kind == "message":
                    await self._sink.on_message(self.account, item.user_id, item.event, item.data)
                elif item.kind == "interaction":
                    await self._sink.on_interaction(item.jobid, item.event, item.data.get("nonce"))
                elif item.kind == "ready":
                    await self._sink.on_ready(self.account, item.user_id, self)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("account %s: reply sink failed on %s", self.channel, item.kind)
            finally:
                if item.done is not None and not item.done.done():
                    item.done.set_result(None)

    # -- commands --------------------------------------------------------------------------

    def _client_or_unavailable(self) -> discord.Client:
        client = self.client
        if client is None or client.is_closed():
            raise SessionClosed(f"not ready ({self.state})")
        return client

    async def _discover(self) -> BotCommand:
        client = self._client_or_unavailable()
        raw = await client.http.guild_application_command_index(int(self.account.server))
        index: dict[str, Any] = dict(raw)
        p = self._pixverse
        return find_command(
            index,
            command_name=p.command_name,
            application_id=p.application_id,
            application_name=p.application_name,
        )

    async def _command(self, refresh: bool = False) -> BotCommand:
        try:
            return await (self.commands.refresh() if refresh else self.commands.get())
        except CommandNotFound as exc:
            raise DiscordUnavailable(str(exc)) from None
        except discord.HTTPException as exc:
            raise DiscordUnavailable(
                f"command discovery failed (HTTP {exc.status}: {exc.text[:200]})"
            ) from None
        except discord.RateLimited as exc:
            raise DiscordUnavailable(f"command discovery rate limited ({exc.retry_after:.1f}s)") from None
        except (OSError, CurlError, TimeoutError) as exc:
            raise DiscordUnavailable(
                self._scrub(f"command discovery failed ({type(exc).__name__})")
            ) from None

    def _require_ready(self) -> discord.Client:
        if self.state is not SessionState.READY:
            raise DiscordUnavailable(f"not ready ({self.state})")
        return self._client_or_unavailable()

    # -- invocation ------------------------------------------------------------------------

    async def submit(self, job: Job) -> None:
        """Send the bot's command for ``job``; see ``DiscordDriver.submit`` for the contract."""
        self.touch()
        self._require_ready()
        async with self._lock:
            try:
                await self._invoke(job)
            finally:
                self._inflight = None
                self.touch()

    async def _invoke(self, job: Job) -> None:
        fields = {name: getattr(job, name, None) for name in self._pixverse.option_names}
        command = await self._command()
        for attempt in (1, 2):
            await self._pace()
            client = self._require_ready()
            options = self._options.build(command, fields)
            try:
                inv = await self._post(client, job.jobid, command, options)
            except _Outdated:
                if attempt == 2:
                    raise InteractionRejected(400, self._last_error_body, 50035) from None
                log.info("job %s: /%s is outdated; rediscovering and retrying once", job.jobid, command.name)
                command = await self._command(refresh=True)
                continue
            break
        await self._await_outcome(job.jobid, inv)

    async def _pace(self) -> None:
        """At least ``interaction_gap_seconds`` between two sends of this account."""
        if self._last_send is None:
            return
        loop = asyncio.get_running_loop()
        delay = self._last_send + self._settings.interaction_gap_seconds - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _new_nonce(self) -> str:
        # The nonce is the current millisecond: two sends in one ms would share it (field notes).
        nonce = discord.utils._generate_nonce()
        while nonce == self._last_nonce:
            await asyncio.sleep(0.002)
            nonce = discord.utils._generate_nonce()
        self._last_nonce = nonce
        return nonce

    def _remember(self, nonce: str, jobid: str) -> None:
        self._recent[nonce] = jobid
        while len(self._recent) > RECENT_INVOCATIONS:
            self._recent.popitem(last=False)

    async def _post(
        self, client: discord.Client, jobid: str, command: BotCommand, options: list[dict[str, Any]]
    ) -> _Invocation:
        """``POST /interactions`` with our own nonce, the wait registered BEFORE the request.

        Not ``await slash_command(channel, **kw)``: 2.1.0 registers its wait only after the POST
        returns (events that beat the 204 are missed and it raises InvalidData after 12 s) and
        hides the nonce, which is how the INTERACTION_CREATE is tied to the job.
        """
        loop = asyncio.get_running_loop()
        nonce = await self._new_nonce()
        inv = _Invocation(jobid=jobid, nonce=nonce, finished=loop.create_future())
        self._inflight = inv
        self._remember(nonce, jobid)
        channel_id = int(self.account.channel)
        channel: Any = client.get_channel(channel_id) or client.get_partial_messageable(
            channel_id, guild_id=int(self.account.server)
        )
        state = client._connection
        # The library's own bookkeeping, so its INTERACTION_* parsers build a proper Interaction.
        state._interaction_cache[nonce] = (
            discord.InteractionType.application_command.value,
            command.name,
            channel,
        )
        self._last_send = loop.time()
        log.info("job %s: sending /%s (nonce %s)", jobid, command.name, nonce)
        with capture_error_bodies() as bodies:
            try:
                await client.http.interact(
                    discord.InteractionType.application_command,
                    command.interaction_data(options),  # type: ignore[arg-type]
                    channel,
                    nonce=nonce,
                    application_id=int(command.application_id),
                    files=[],
                )
            except discord.RateLimited as exc:
                state._interaction_cache.pop(nonce, None)
                raise self._rate_limited(jobid, _last_body(bodies, 429), exc.retry_after) from None
            except discord.HTTPException as exc:
                state._interaction_cache.pop(nonce, None)
                body = _last_body(bodies, exc.status) or _exc_body(exc)
                self._last_error_body = body
                raise self._map_http_error(jobid, exc, body) from None
            except (OSError, CurlError, TimeoutError) as exc:
                # Ambiguous: the request may have reached Discord before the transport failed.
                # If its INTERACTION_CREATE shows up, it was accepted; otherwise it was not sent.
                try:
                    await asyncio.wait_for(inv.created.wait(), INTERACTION_TIMEOUT_SECONDS)
                except TimeoutError:
                    state._interaction_cache.pop(nonce, None)
                    raise DiscordUnavailable(
                        self._scrub(
                            f"Discord unreachable ({type(exc).__name__}); the interaction was not seen"
                        )
                    ) from None
                log.warning("job %s: /interactions failed in transport but Discord accepted it", jobid)
        return inv

    def _rate_limited(self, jobid: str, body: str | None, retry_after: float | None) -> DiscordRateLimited:
        if self._metrics is not None:
            self._metrics.discord_429.inc()
        if body is None:
            # A pre-emptive limit from the library's bucket: no response, so Discord's usual shape.
            body = json.dumps(
                {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
            )
        log.warning("job %s: Discord 429 on /interactions (retry_after %s)", jobid, retry_after)
        return DiscordRateLimited(body=body, retry_after=retry_after)

    def _map_http_error(self, jobid: str, exc: discord.HTTPException, body: str) -> Exception:
        status = int(exc.status)
        code = int(exc.code) if exc.code else None
        if status == 429:
            retry_after: Any = exc.json.get("retry_after") if isinstance(exc.json, dict) else None
            return self._rate_limited(jobid, body, float(retry_after) if retry_after is not None else None)
        if status == 400 and is_outdated(exc.json):
            return _Outdated()
        if status >= 500:
            return DiscordUnavailable(f"Discord server error (HTTP {status})")
        if isinstance(exc, discord.CaptchaRequired):
            self._fail("captcha required")
        elif status == 401:
            self._fail("Discord rejected the token (401)")
        log.warning("job %s: /interactions rejected with HTTP %s (code %s)", jobid, status, code)
        return InteractionRejected(status, body, code)

    async def _await_outcome(self, jobid: str, inv: _Invocation) -> None:
        try:
            ok = await asyncio.wait_for(asyncio.shield(inv.finished), INTERACTION_TIMEOUT_SECONDS)
        except TimeoutError:
            # Not a failure: events may have been lost with a connection, and the bot's reply
            # can still come. The reply tracker keeps watching the channel.
            if inv.interaction_id is None:
                log.warning(
                    "job %s: no INTERACTION_CREATE within %.0fs; outcome unknown",
                    jobid,
                    INTERACTION_TIMEOUT_SECONDS,
                )
            else:
                log.warning(
                    "job %s: interaction %s neither succeeded nor failed within %.0fs",
                    jobid,
                    inv.interaction_id,
                    INTERACTION_TIMEOUT_SECONDS,
                )
            ok = True
        if inv.handed_off is not None:
            try:
                await asyncio.wait_for(asyncio.shield(inv.handed_off), SINK_HANDOFF_SECONDS)
            except TimeoutError:
                log.warning("job %s: reply sink slow to take the interaction id", jobid)
        if not ok:
            log.warning(
                "job %s: INTERACTION_FAILURE (interaction %s): the bot did not answer",
                jobid,
                inv.interaction_id,
            )
            raise InteractionRejected(0, "INTERACTION_FAILURE", None)

    # -- history ---------------------------------------------------------------------------

    async def fetch_history(self, after_id: str | None, limit: int = 500) -> list[dict[str, Any]]:
        """Raw payloads (nulls stripped) of the channel newer than ``after_id``, OLDEST FIRST.

        With ``after_id`` the ``limit`` messages right after it (call again from the last id
        for more); without, the newest ``limit`` messages.
        """
        client = self._client_or_unavailable()
        channel_id = int(self.account.channel)
        out: list[dict[str, Any]] = []
        try:
            if after_id is not None:
                after = int(after_id)
                while len(out) < limit:
                    want = min(100, limit - len(out))
                    page = sorted(await client.http.logs_from(channel_id, want, after=after), key=_msg_id)
                    out.extend(page)  # type: ignore[arg-type]
                    if len(page) < want:
                        break
                    after = _msg_id(page[-1])
            else:
                before: int | None = None
                while len(out) < limit:
                    want = min(100, limit - len(out))
                    page = list(await client.http.logs_from(channel_id, want, before=before))
                    out.extend(page)  # type: ignore[arg-type]
                    if len(page) < want:
                        break
                    before = min(_msg_id(m) for m in page)
                out.sort(key=_msg_id)
        except discord.HTTPException as exc:
            raise DiscordUnavailable(f"history fetch failed (HTTP {exc.status})") from None
        except (OSError, CurlError, TimeoutError) as exc:
            raise DiscordUnavailable(f"history fetch failed ({type(exc).__name__})") from None
        return [strip_nulls(m) for m in out]


class _Outdated(Exception):
    """Internal: Discord said the command version is outdated (50035)."""


def _msg_id(message: Any) -> int:
    return int(message["id"])


def _last_body(bodies: list[tuple[int, str]], status: int) -> str | None:
    for got, text in reversed(bodies):
        if got == status:
            return text
    return None


def _exc_body(exc: discord.HTTPException) -> str:
    data = getattr(exc, "json", None)
    if isinstance(data, dict):
        return json.dumps(data)
    return str(exc.text)
