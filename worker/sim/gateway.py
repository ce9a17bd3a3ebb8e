"""The gateway: compressed WebSocket connections, sessions, dispatch fan-out, RESUME.

How discord.py-self 2.1.0 uses it (field notes): it connects with
``?v=9&encoding=json&compress=zlib-stream`` (``zstd-stream`` when zstandard is importable),
sends IDENTIFY before HELLO arrives, needs READY then READY_SUPPLEMENTAL, heartbeats with op 1,
RESUMEs (op 6) after op 7 and most closes, re-IDENTIFYs after op 9 false, and treats 4004 as
fatal. Every server frame is compressed: one zlib (or zstd) stream per connection, each message
flushed (Z_SYNC_FLUSH) and sent as a BINARY frame.

A *session* outlives its *connection*: events for a detached session are queued and written on
RESUME, and the last frames written are kept so that ones lost with a dying socket are
replayed, as Discord does.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import secrets
import time
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import payloads
from .snowflake import now_iso

if TYPE_CHECKING:
    from .events import SimEvents
    from .faults import Faults
    from .world import SimUser, World

log = logging.getLogger(__name__)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_RESUME = 6
OP_RECONNECT = 7
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

CLOSE_UNKNOWN_ERROR = 4000
CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005

REPLAY_BUFFER = 1000


class _Compressor:
    """One compression stream per connection, flushed per message so each frame decodes alone."""

    def __init__(self, kind: str | None) -> None:
        self.kind = kind
        self._zlib: Any = None
        self._zstd: Any = None
        if kind == "zlib-stream":
            self._zlib = zlib.compressobj()
        elif kind == "zstd-stream":
            import zstandard

            self._zstd = zstandard.ZstdCompressor().compressobj()
            self._flush_block = zstandard.COMPRESSOBJ_FLUSH_BLOCK

    def compress(self, text: str) -> bytes | str:
        raw = text.encode()
        if self._zlib is not None:
            return self._zlib.compress(raw) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        if self._zstd is not None:
            # FLUSH_BLOCK ends the block, not the frame: the client keeps one decompressor per
            # connection and a finished frame would break it.
            return self._zstd.compress(raw) + self._zstd.flush(self._flush_block)
        return text


class Connection:
    """One WebSocket; serialises compress-and-send so the stream stays in order."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, compress: str | None) -> None:
        self.ws = ws
        self.request = request
        self._compressor = _Compressor(compress)
        self._lock = asyncio.Lock()
        self.session: Session | None = None
        self.writer: asyncio.Task[None] | None = None

    async def send(self, payload: dict[str, Any]) -> None:
        async with self._lock:
            data = self._compressor.compress(json.dumps(payload, separators=(",", ":")))
            if isinstance(data, bytes):
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(data)

    def abort(self) -> None:
        """Drop the TCP connection with no close frame (a network failure, as the client sees it)."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    @property
    def closed(self) -> bool:
        return self.ws.closed


class Session:
    """A gateway session: its sequence, outbound queue, replay buffer and current connection."""

    def __init__(self, hub: GatewayHub, user: SimUser, token: str) -> None:
        self.hub = hub
        self.user = user
        self.token = token
        self.session_id = secrets.token_hex(16)
        self.seq = 0
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.sent: collections.deque[dict[str, Any]] = collections.deque(maxlen=REPLAY_BUFFER)
        self.connection: Connection | None = None
        self.resumable = True
        self.detached_at: float | None = None
        self._held: list[tuple[str, dict[str, Any]]] = []

    @property
    def live(self) -> bool:
        return self.connection is not None and not self.connection.closed

    # Dispatch goes through fault rules: drop, delay, duplicate or hold for reordering.
    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        faults = self.hub.faults
        rule = faults.match_dispatch(event, self.user.id) if faults is not None else None
        if rule is None:
            self._enqueue(event, data)
            return
        log.info("fault %s on %s for user %s", rule.action, event, self.user.id)
        if rule.action == "drop":
            return
        if rule.action == "delay":
            asyncio.get_running_loop().call_later(rule.delay, self._enqueue, event, data)
        elif rule.action == "duplicate":
            self._enqueue(event, data)
            self._enqueue(event, data)
        elif rule.action == "reorder":
            self._held.append((event, data))
            # Released after the next event; if none comes, send it late rather than never.
            asyncio.get_running_loop().call_later(max(rule.delay, 0.5), self._release_held)
        else:
            self._enqueue(event, data)

    def _enqueue(self, event: str, data: dict[str, Any]) -> None:
        self.queue.put_nowait((event, data))
        self._release_held()

    def _release_held(self) -> None:
        held, self._held = self._held, []
        for item in held:
            self.queue.put_nowait(item)

    def frame(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        frame = {"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data}
        self.sent.append(frame)
        return frame

    async def write_loop(self, conn: Connection) -> None:
        """Drain the queue into the connection until it closes."""
        try:
            while not conn.closed:
                event, data = await self.queue.get()
                frame = self.frame(event, data)
                try:
                    await conn.send(frame)
                except (ConnectionError, RuntimeError) as exc:
                    # The frame is in the replay buffer; RESUME will deliver it.
                    log.debug("session %s: send of %s failed: %s", self.session_id, event, exc)
                    return
                self.hub.events.record_dispatch(event, self.user.id)
        except asyncio.CancelledError:
            pass

    def attach(self, conn: Connection) -> None:
        self.detach()
        self.connection = conn
        self.detached_at = None
        conn.session = self

    def detach(self) -> None:
        conn = self.connection
        if conn is None:
            return
        if conn.writer is not None:
            conn.writer.cancel()
        conn.session = None
        self.connection = None
        self.detached_at = time.monotonic()


class GatewayHub:
    """All sessions, all connections, and the fan-out of world events to them."""

    def __init__(
        self,
        world: World,
        events: SimEvents,
        *,
        heartbeat_interval_ms: int = 41250,
        resume_window: float = 300.0,
    ) -> None:
        self.world = world
        self.events = events
        self.faults: Faults | None = None
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.resume_window = resume_window
        self.resume_gateway_url = ""
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self._closing: set[asyncio.Task[bool]] = set()
        world.subscribe(self.on_world_event)

    # -- fan-out ---------------------------------------------------------------------------

    def on_world_event(self, event: str, data: dict[str, Any], channel_id: int) -> None:
        """Discord sends channel messages to every session whose user can see the channel."""
        self._expire()
        for session in list(self.sessions.values()):
            if session.resumable and self.world.can_see(session.user.id, channel_id):
                session.dispatch(event, data)

    def dispatch_to_session(self, session_id: str, event: str, data: dict[str, Any]) -> bool:
        session = self.sessions.get(session_id)
        if session is None or not session.resumable:
            return False
        session.dispatch(event, data)
        return True

    def sessions_of(self, user_id: int | None) -> list[Session]:
        return [s for s in self.sessions.values() if user_id is None or s.user.id == user_id]

    def live_session(self, session_id: str, user_id: int) -> Session | None:
        """A session that an interaction may name: this user's, not invalidated (may be resuming)."""
        session = self.sessions.get(session_id)
        if session is None or session.user.id != user_id or not session.resumable:
            return None
        return session

    def _expire(self) -> None:
        now = time.monotonic()
        for sid, s in list(self.sessions.items()):
            if not s.resumable or (s.detached_at is not None and now - s.detached_at > self.resume_window):
                if s.connection is None:
                    del self.sessions[sid]

    # -- control (faults and lifecycle) ----------------------------------------------------

    async def close_connections(
        self,
        sessions: Iterable[Session],
        *,
        code: int | None = None,
        op: int | None = None,
        abort: bool = False,
    ) -> int:
        """Close the live connections of ``sessions``: with op 7 / op 9 first, a close code, or a TCP drop."""
        n = 0
        for session in list(sessions):
            conn = session.connection
            if conn is None or conn.closed:
                continue
            n += 1
            if op == OP_RECONNECT:
                await self._try_send(conn, {"op": OP_RECONNECT, "d": None})
            elif op == OP_INVALID_SESSION:
                session.resumable = False
                await self._try_send(conn, {"op": OP_INVALID_SESSION, "d": False})
            session.detach()
            if abort:
                conn.abort()
            elif code is not None:
                self._spawn_close(conn, code)
            else:
                # op 7 / op 9: the client closes; close our side too if it does not.
                asyncio.get_running_loop().call_later(2.0, self._spawn_close, conn, 1000)
        return n

    def _spawn_close(self, conn: Connection, code: int) -> None:
        task = asyncio.create_task(conn.ws.close(code=code, message=b""))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _try_send(conn: Connection, payload: dict[str, Any]) -> None:
        try:
            await conn.send(payload)
        except (ConnectionError, RuntimeError):
            pass

    async def shutdown(self) -> None:
        """Close every connection (sim stop); sessions stay resumable across a restart."""
        for conn in list(self.connections):
            if conn.session is not None:
                conn.session.detach()
            conn.abort()
            await conn.ws.close(code=1001)
        self.connections.clear()

    # -- the WebSocket handler -------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        compress = request.query.get("compress")
        if compress not in (None, "zlib-stream", "zstd-stream"):
            return web.Response(status=400, text="bad compress")
        ws = web.WebSocketResponse(compress=False, max_msg_size=16 * 1024 * 1024, timeout=2.0)
        await ws.prepare(request)
        conn = Connection(ws, request, compress)
        self.connections.add(conn)
        self.events.gateway_connections += 1
        try:
            await conn.send(
                {
                    "op": OP_HELLO,
                    "d": {
                        "heartbeat_interval": self.heartbeat_interval_ms,
                        "_trace": ['["gateway-sim",{"micros":0}]'],
                    },
                }
            )
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    try:
                        payload = json.loads(msg.data)
                        if not isinstance(payload, dict):
                            raise ValueError("not an object")
                    except ValueError:
                        log.warning("gateway: undecodable frame, closing 4002")
                        await ws.close(code=CLOSE_DECODE_ERROR)
                        break
                    await self._on_payload(conn, payload)
                elif msg.type == WSMsgType.ERROR:
                    log.debug("gateway: ws error %s", ws.exception())
        except (ConnectionError, RuntimeError, asyncio.CancelledError) as exc:
            log.debug("gateway connection ended: %r", exc)
        except Exception:
            log.exception("gateway: unexpected error; closing 4000")
            await ws.close(code=CLOSE_UNKNOWN_ERROR)
        finally:
            self.connections.discard(conn)
            if conn.session is not None:
                conn.session.detach()
        return ws

    async def _on_payload(self, conn: Connection, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == OP_HEARTBEAT:
            await conn.send({"op": OP_HEARTBEAT_ACK})
        elif op == OP_IDENTIFY:
            await self._identify(conn, data if isinstance(data, dict) else {})
        elif op == OP_RESUME:
            await self._resume(conn, data if isinstance(data, dict) else {})
        elif not isinstance(op, int) or op < 0 or op > 50:
            await conn.ws.close(code=CLOSE_UNKNOWN_OPCODE)
        elif conn.session is None:
            # Presence (3), voice state (4), guild subscriptions (37) ... need an identified session.
            await conn.ws.close(code=CLOSE_NOT_AUTHENTICATED)
        else:
            log.debug("gateway: op %s from %s ignored", op, conn.session.user.id)

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.ws.close(code=CLOSE_ALREADY_AUTHENTICATED)
            return
        token = data.get("token")
        user = self.world.user_for_token(token if isinstance(token, str) else None)
        if user is None:
            log.info("gateway: IDENTIFY with a bad token, closing 4004")
            await conn.ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        assert isinstance(token, str)
        session = Session(self, user, token)
        self.sessions[session.session_id] = session
        session.attach(conn)
        self.events.identifies += 1
        session.dispatch("READY", self._ready(session))
        session.dispatch("READY_SUPPLEMENTAL", self._ready_supplemental(session))
        conn.writer = asyncio.create_task(session.write_loop(conn))
        log.info("gateway: user %s identified, session %s", user.id, session.session_id)

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        token = data.get("token")
        valid_token = isinstance(token, str) and self.world.user_for_token(token) is not None
        if session is None or not session.resumable or session.token != token or not valid_token:
            log.info("gateway: RESUME of unknown session %s, op 9", data.get("session_id"))
            await conn.send({"op": OP_INVALID_SESSION, "d": False})
            return
        session.attach(conn)
        try:
            seq = int(data.get("seq") or 0)
        except (TypeError, ValueError):
            seq = 0
        missed = [f for f in session.sent if f["s"] > seq]
        for frame in missed:
            await conn.send(frame)
        await conn.send(session.frame("RESUMED", {"_trace": ['["gateway-sim",{"micros":0}]']}))
        self.events.resumes += 1
        conn.writer = asyncio.create_task(session.write_loop(conn))
        log.info("gateway: session %s resumed, %d events replayed", session.session_id, len(missed))

    # -- READY -----------------------------------------------------------------------------

    def _ready(self, session: Session) -> dict[str, Any]:
        world, user = self.world, session.user
        guild = world.guild
        return {
            "v": 9,
            "user": payloads.self_user(user),
            "users": [payloads.user(world.bot_user), payloads.user(world.owner)],
            "guilds": [payloads.guild(guild, user.id)],
            "merged_members": [[payloads.member(guild, user, with_user=False)]],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "auth_session_id_hash": secrets.token_urlsafe(32),
            "analytics_token": secrets.token_urlsafe(16),
            "country_code": "US",
            "api_code_version": 1,
            "geo_ordered_rtc_regions": ["us-east", "us-central"],
            "private_channels": [],
            "relationships": [],
            "connected_accounts": [],
            "read_state": {"entries": [], "partial": False, "version": 0},
            "user_guild_settings": {"entries": [], "partial": False, "version": 0},
            "user_settings_proto": "",
            "experiments": [],
            "guild_experiments": [],
            "friend_suggestion_count": 0,
            "consents": {"personalization": {"consented": False}},
            "tutorial": None,
            "notification_settings": {"flags": 0},
            "static_client_session_id": secrets.token_hex(16),
            "_trace": ['["gateway-sim",{"micros":0}]'],
        }

    def _ready_supplemental(self, session: Session) -> dict[str, Any]:
        guild = self.world.guild
        # Aligned with READY's guilds: the library zips these lists per guild.
        return {
            "guilds": [
                {"id": str(guild.id), "voice_states": [], "embedded_activities": [], "activity_instances": []}
            ],
            "merged_members": [[payloads.member(guild, self.world.bot_user, with_user=False)]],
            "merged_presences": {"guilds": [[]], "friends": []},
            "lazy_private_channels": [],
            "disclose": [],
            "game_invites": [],
        }


def interaction_event(interaction_id: int, nonce: str | None) -> dict[str, Any]:
    """INTERACTION_CREATE / _SUCCESS / _FAILURE carry exactly ``id`` and ``nonce``."""
    return {"id": str(interaction_id), "nonce": nonce}


__all__ = ["GatewayHub", "Session", "interaction_event", "now_iso"]
