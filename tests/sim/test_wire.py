"""Wire-protocol quirks the daemon depends on, checked from the client side."""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

import aiohttp
import discord
import discord.utils
import pytest
import zstandard

from worker.discord.client import make_client
from worker.sim import SimDiscord

from .conftest import TIMEOUT, Connect
from .test_create import create, has_result


async def test_interaction_events_carry_exactly_id_and_nonce(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect(debug_events=True)
    interaction = await create(conn)
    frames = [m for m in conn.socket if isinstance(m, str) and '"INTERACTION_' in m]
    decoded = [json.loads(m) for m in frames]
    assert [d["t"] for d in decoded] == ["INTERACTION_CREATE", "INTERACTION_SUCCESS"]
    for d in decoded:
        assert set(d["d"]) == {"id", "nonce"}
        assert d["d"]["id"] == str(interaction.id)
        assert d["d"]["nonce"] == interaction.nonce


async def test_interaction_events_come_after_the_204(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect(debug_events=True)
    order: list[str] = []
    http = conn.client.http
    original = http.interact

    async def interact(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        order.append("204")
        return result

    async def on_socket_event_type(event: str) -> None:
        if event.startswith("INTERACTION_"):
            order.append(event)

    http.interact = interact  # type: ignore[method-assign]
    conn.client.event(on_socket_event_type)
    await create(conn)
    assert order == ["204", "INTERACTION_CREATE", "INTERACTION_SUCCESS"]


class _ZlibContext:
    """2.1.0's zlib-stream decompression context (only defined when zstandard is missing)."""

    COMPRESSION_TYPE = "zlib-stream"

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.context = zlib.decompressobj()

    def decompress(self, data: bytes, /) -> str | None:
        self.buffer.extend(data)
        if len(data) < 4 or data[-4:] != b"\x00\x00\xff\xff":
            return None
        msg = self.context.decompress(self.buffer)
        self.buffer = bytearray()
        return msg.decode("utf-8")


@pytest.mark.parametrize("compression", ["zstd-stream", "zlib-stream"])
async def test_real_client_under_both_compressions(
    sim: SimDiscord, connect: Connect, compression: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if compression == "zlib-stream":
        # zstandard is installed, so the library picks zstd; force the zlib path as without it.
        monkeypatch.setattr(discord.utils, "_ActiveDecompressionContext", _ZlibContext)
    conn = await connect()
    assert conn.client.ws._decompressor.COMPRESSION_TYPE == compression
    assert (await create(conn)).successful
    await conn.wait_raw(has_result)


@pytest.mark.parametrize("compression", ["zlib-stream", "zstd-stream"])
async def test_every_server_frame_is_compressed_binary(sim: SimDiscord, compression: str) -> None:
    acct = sim.add_account()
    url = f"{sim.gateway_base}?v=9&encoding=json&compress={compression}"
    decoder: Any = (
        zlib.decompressobj() if compression == "zlib-stream" else zstandard.ZstdDecompressor().decompressobj()
    )
    events: list[Any] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        # IDENTIFY before HELLO, as discord.py-self does.
        await ws.send_bytes(json.dumps({"op": 2, "d": {"token": acct.token, "properties": {}}}).encode())
        while len(events) < 3:
            msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
            assert msg.type is aiohttp.WSMsgType.BINARY
            if compression == "zlib-stream":
                assert msg.data.endswith(b"\x00\x00\xff\xff")  # Z_SYNC_FLUSH per message
            payload = json.loads(decoder.decompress(msg.data))
            events.append(payload.get("t") or payload["op"])
        await ws.send_bytes(json.dumps({"op": 1, "d": 2}).encode())
        ack = json.loads(decoder.decompress((await asyncio.wait_for(ws.receive(), TIMEOUT)).data))
    assert events == [10, "READY", "READY_SUPPLEMENTAL"]
    assert ack["op"] == 11


async def test_messages_reach_every_session_that_sees_the_channel(sim: SimDiscord, connect: Connect) -> None:
    alice = sim.add_account("alice")
    bob = sim.add_account("bob", channel_id=alice.channel_id)
    carol = sim.add_account("carol")
    a, b, c = await connect(alice), await connect(bob), await connect(carol)
    await create(a)
    await a.wait_raw(has_result)
    await b.wait_raw(has_result)
    assert [d["id"] for d in a.raw_creates()] == [d["id"] for d in b.raw_creates()]
    assert c.raw == []
    # Only the invoking session gets the interaction events.
    assert [r.user_id for r in sim.events.accepted()] == [alice.user_id]


async def test_explicit_nulls_do_not_break_the_session(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    parsed: list[discord.Message] = []

    async def on_message(message: discord.Message) -> None:
        parsed.append(message)

    conn.client.event(on_message)
    odd = await sim.bot.post_message(
        conn.account.channel_id,
        "odd shape",
        raw={
            "components": None,
            "thread": None,
            "embeds": None,
            "attachments": None,
            "mentions": None,
            "interaction": None,
            "message_reference": None,
            "sticker_items": None,
        },
    )
    await sim.bot.post_message(conn.account.channel_id, "normal one")
    await conn.wait_raw(lambda raw: len(raw) >= 2)
    # The raw listener saw the payload exactly as sent, nulls included.
    assert conn.raw[0][1]["id"] == odd["id"]
    assert conn.raw[0][1]["components"] is None
    # And the library parsed both, the session going on.
    await asyncio.wait_for(_until(lambda: len(parsed) == 2), TIMEOUT)
    assert [m.content for m in parsed] == ["odd shape", "normal one"]


async def test_unparseable_message_still_reaches_raw_listener(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    # No `author`: 2.1.0 cannot build a Message from it.
    await sim.bot.post_message(conn.account.channel_id, "broken", raw={"author": None, "type": "x"})
    await sim.bot.post_message(conn.account.channel_id, "fine")
    await conn.wait_raw(lambda raw: len(raw) >= 2)
    assert [d["content"] for d in conn.raw_creates()] == ["broken", "fine"]
    assert conn.client.is_ready()


async def test_make_client_patches_survive_reidentify(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    await sim.faults.invalidate_sessions(conn.account.user_id)
    await conn.wait_ready_again(1)
    parsers = conn.client._connection.parsers
    assert parsers["INTERACTION_FAILURE"] == parsers["INTERACTION_FAILED"]
    assert conn.client.ws._discord_parsers is parsers
    sim.faults.fail_interactions(1)
    assert (await create(conn)).successful is False


def test_make_client_is_light() -> None:
    client = make_client()
    state = client._connection
    assert state._chunk_guilds is False
    assert state.max_messages is None
    assert state.member_cache_flags.value == 0


async def _until(predicate: Any) -> None:
    while not predicate():  # noqa: ASYNC110 - state mutated by client callbacks
        await asyncio.sleep(0.01)


async def test_h2c_upgrade_header_is_ignored(sim: SimDiscord) -> None:
    # curl sends `Upgrade: h2c` over plain http; the request must be served as HTTP/1.1.
    acct = sim.add_account()
    reader, writer = await asyncio.open_connection(sim.host, sim.port)
    writer.write(
        b"GET /api/v9/users/@me HTTP/1.1\r\nHost: sim\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nAuthorization: "
        + acct.token.encode()
        + b"\r\n\r\n"
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    writer.close()
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Content-Type: application/json\r\n" in head


async def test_startup_uses_only_known_routes(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    await conn.channel.application_commands()
    assert sim.events.unknown_routes == {}
