"""Fixtures: a running sim, and real discord.py-self clients logged in to it.

Clients reach the sim ONLY through the daemon's factory: ``configure_endpoints`` +
``install_offline_headers`` + ``make_client``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import discord
import pytest

from worker.discord.client import configure_endpoints, install_offline_headers, make_client
from worker.sim import SimAccount, SimBotSettings, SimDiscord

TIMEOUT = 15.0


def fast_settings(**overrides: Any) -> SimBotSettings:
    base: dict[str, Any] = {
        "ack_delay": 0.02,
        "result_delay": 0.1,
        "progress_interval": 0.02,
        "failure_event_delay": 0.05,
        "seed": 1,
    }
    base.update(overrides)
    return SimBotSettings(**base)


@pytest.fixture
async def sim() -> AsyncIterator[SimDiscord]:
    async with SimDiscord(bot=fast_settings()) as s:
        configure_endpoints(s.rest_base, s.gateway_base)
        install_offline_headers()
        yield s


@dataclass
class Conn:
    """One logged-in client and what it observed."""

    account: SimAccount
    client: discord.Client
    task: asyncio.Task[None] | None = None
    ready_count: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    resumed: asyncio.Event = field(default_factory=asyncio.Event)
    raw: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    raw_changed: asyncio.Event = field(default_factory=asyncio.Event)
    socket: list[Any] = field(default_factory=list)

    @property
    def guild(self) -> discord.Guild:
        guild = self.client.get_guild(self.account.guild_id)
        assert guild is not None
        return guild

    @property
    def channel(self) -> Any:
        ch = self.guild.get_thread(self.account.channel_id) or self.guild.get_channel(self.account.channel_id)
        assert ch is not None
        return ch

    async def command(self, name: str = "create") -> Any:
        cmds = await self.channel.application_commands()
        return next(c for c in cmds if c.name == name)

    def raw_creates(self) -> list[dict[str, Any]]:
        return [d for e, d in self.raw if e == "MESSAGE_CREATE"]

    async def wait_raw(
        self, predicate: Callable[[list[tuple[str, dict[str, Any]]]], bool], within: float = TIMEOUT
    ) -> None:
        async def _wait() -> None:
            while not predicate(self.raw):
                self.raw_changed.clear()
                await self.raw_changed.wait()

        await asyncio.wait_for(_wait(), within)

    async def wait_ready_again(self, previous: int, within: float = TIMEOUT) -> None:
        async def _wait() -> None:
            while self.ready_count <= previous:
                self.ready.clear()
                await self.ready.wait()

        await asyncio.wait_for(_wait(), within)


Connect = Callable[..., Awaitable[Conn]]


@pytest.fixture
async def connect(sim: SimDiscord) -> AsyncIterator[Connect]:
    conns: list[Conn] = []

    async def _connect(
        account: SimAccount | None = None, *, wait: bool = True, debug_events: bool = False, **kwargs: Any
    ) -> Conn:
        acct = account or sim.add_account()
        conn: Conn

        def on_raw(event: str, data: dict[str, Any]) -> None:
            conn.raw.append((event, data))
            conn.raw_changed.set()

        client = make_client(raw_message_listener=on_raw, enable_debug_events=debug_events, **kwargs)
        conn = Conn(account=acct, client=client)

        async def on_ready() -> None:
            conn.ready_count += 1
            conn.ready.set()

        async def on_resumed() -> None:
            conn.resumed.set()

        async def on_socket_raw_receive(msg: Any) -> None:
            conn.socket.append(msg)

        client.event(on_ready)
        client.event(on_resumed)
        if debug_events:
            client.event(on_socket_raw_receive)
        conns.append(conn)
        await client.login(acct.token)
        conn.task = asyncio.create_task(client.connect(reconnect=True))
        if wait:
            await asyncio.wait_for(conn.ready.wait(), TIMEOUT)
        return conn

    yield _connect

    for conn in conns:
        await conn.client.close()
        if conn.task is not None:
            conn.task.cancel()
            with contextlib.suppress(BaseException):
                await conn.task
