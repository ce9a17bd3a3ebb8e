"""Benchmarks 1 and 2: create overhead, and result message -> callback.

One sim, two accounts, one event loop. Each iteration, alternately:

* daemon: ``POST create`` -> 200 (timed, from the HTTP client), then the bot's result message
  -> the callback at a local receiver (timed from the moment the sim hands the result message to
  its gateway fan-out, to the receiver's handler);
* bare: a bare discord.py-self client with the daemon's light settings runs ``/create`` the
  library's way (``await command(channel, prompt=..., style=...)``) and waits for the same
  acknowledgement message (``on_message``) (timed), then the result message (``on_message``),
  timed from the same sim moment.

Alternating the two cancels drift (CPU frequency, GC, SQLite file growth) between them.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import API_TOKEN, Row, daemon_config, ms, p50, percentile
from worker.sim.receiver import WebhookReceiver


class BareClient:
    """A bare discord.py-self client, as light as the daemon's (same options, no wrappers)."""

    def __init__(self, account: Any) -> None:
        import discord

        self.account = account
        self.client = discord.Client(
            chunk_guilds_at_startup=False,
            max_messages=None,
            member_cache_flags=discord.MemberCacheFlags.none(),
        )
        self.ready = asyncio.Event()
        self.ack: asyncio.Future[tuple[float, int]] | None = None
        self.result: asyncio.Future[float] | None = None
        self.task: asyncio.Task[None] | None = None
        self.command: Any = None
        self.channel: Any = None
        self.client.event(self.on_ready)
        self.client.event(self.on_message)

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_message(self, message: Any) -> None:
        now = time.perf_counter()
        if message.channel.id != self.account.channel_id or not message.author.bot:
            return
        if message.interaction is not None:
            if self.ack is not None and not self.ack.done():
                self.ack.set_result((now, message.interaction.id))
        elif message.attachments and self.result is not None and not self.result.done():
            self.result.set_result(now)

    async def start(self) -> None:
        await self.client.login(self.account.token)
        self.task = asyncio.create_task(self.client.connect(reconnect=True))
        await asyncio.wait_for(self.ready.wait(), 60)
        guild = self.client.get_guild(self.account.guild_id)
        assert guild is not None
        self.channel = guild.get_thread(self.account.channel_id) or guild.get_channel(self.account.channel_id)
        assert self.channel is not None
        commands = await self.channel.application_commands()
        self.command = next(c for c in commands if c.name == "create")

    async def create(self, prompt: str) -> tuple[float, float]:
        """``/create`` until the acknowledgement arrives: (seconds taken, result future armed)."""
        loop = asyncio.get_running_loop()
        self.ack = loop.create_future()
        self.result = loop.create_future()
        started = time.perf_counter()
        interaction = await self.command(self.channel, prompt=prompt, style="Realistic")
        arrived, interaction_id = await asyncio.wait_for(self.ack, 30)
        assert interaction_id == interaction.id, (interaction_id, interaction.id)
        return started, arrived

    async def close(self) -> None:
        await self.client.close()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def run(jobs: int, warmup: int = 5) -> list[Row]:
    from worker.daemon import Daemon
    from worker.sim import SimBotSettings, SimDiscord

    settings = SimBotSettings(ack_delay=0.01, result_delay=0.05, throttle_limit=1_000_000, seed=1)
    receiver = WebhookReceiver()
    await receiver.start()
    published: dict[int, float] = {}

    def on_world(event: str, data: dict[str, Any], channel_id: int) -> None:
        # First in line, before the gateway fan-out: "the moment the sim sends the result".
        if event == "MESSAGE_CREATE" and data.get("attachments") and data.get("author", {}).get("bot"):
            published[channel_id] = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        async with SimDiscord(bot=settings, interaction_event_delay=0.02) as sim:
            sim.world._observers.insert(0, on_world)
            d_acct, b_acct = sim.add_accounts(2)
            config = daemon_config(
                db_url=f"sqlite+aiosqlite:///{Path(tmp) / 'latency.db'}",
                accounts=[d_acct],
                rest_base=sim.rest_base,
                gateway_base=sim.gateway_base,
                callbacks={"default_reply_url": receiver.url},
            )
            daemon = Daemon(config)
            await daemon.start()
            http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_TOKEN}"})
            bare = BareClient(b_acct)
            try:
                assert await daemon.driver.wait_ready(timeout=60), daemon.driver.statuses()
                await bare.start()
                url = f"http://127.0.0.1:{daemon.port}/v1/pixverse/create"
                d_create: list[float] = []
                b_create: list[float] = []
                d_result: list[float] = []
                b_result: list[float] = []
                for i in range(warmup + jobs):
                    keep = i >= warmup
                    # -- daemon
                    started = time.perf_counter()
                    async with http.post(url, json={"prompt": f"bench daemon {i}", "style": "Realistic"}) as resp:
                        body = await resp.json()
                    took = time.perf_counter() - started
                    assert resp.status == 200 and body.get("status") in ("started", "progress"), (resp.status, body)
                    arrived = await receiver.wait_for_job(body["jobid"])
                    if keep:
                        d_create.append(took)
                        d_result.append(arrived - published[d_acct.channel_id])
                    # -- bare client
                    started, acked = await bare.create(f"bench bare {i}")
                    assert bare.result is not None
                    seen = await asyncio.wait_for(bare.result, 30)
                    if keep:
                        b_create.append(acked - started)
                        b_result.append(seen - published[b_acct.channel_id])
            finally:
                await http.close()
                await bare.close()
                await daemon.stop()
    await receiver.stop()

    n = f"{jobs} jobs"
    bare_label = "bare discord.py-self client"
    return [
        Row(
            "1 create",
            f"POST create → 200, p50 ({n})",
            "ms",
            ms(p50(d_create)),
            ms(p50(b_create)),
            f"{bare_label}: /create → ack",
            "overhead < 5 ms",
            ("delta", "ratio"),
        ),
        Row(
            "1 create",
            f"POST create → 200, p99 ({n})",
            "ms",
            ms(percentile(d_create, 99)),
            ms(percentile(b_create, 99)),
            f"{bare_label}: /create → ack",
            "",
            ("delta", "ratio"),
        ),
        Row(
            "2 result",
            f"result message → callback received, p50 ({n})",
            "ms",
            ms(p50(d_result)),
            ms(p50(b_result)),
            f"{bare_label}: on_message",
            "",
            ("delta", "ratio"),
        ),
        Row(
            "2 result",
            f"result message → callback received, p99 ({n})",
            "ms",
            ms(percentile(d_result, 99)),
            ms(percentile(b_result, 99)),
            f"{bare_label}: on_message",
            "< 20 ms",
            ("delta", "ratio"),
        ),
    ]
