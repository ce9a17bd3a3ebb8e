"""Many real clients in one event loop against one sim."""

from __future__ import annotations

import asyncio

from worker.sim import SimDiscord

from .conftest import Connect
from .test_create import create, has_result

N_CLIENTS = 50


async def test_fifty_clients_create_at_once(sim: SimDiscord, connect: Connect) -> None:
    accounts = sim.add_accounts(N_CLIENTS)
    conns = await asyncio.gather(*(connect(a) for a in accounts))
    assert all(c.guild.me is not None for c in conns)

    interactions = await asyncio.gather(
        *(create(c, prompt=f"prompt {i}", style="Anime") for i, c in enumerate(conns))
    )
    assert all(i.successful for i in interactions)
    await asyncio.gather(*(c.wait_raw(has_result, within=60) for c in conns))

    for i, conn in enumerate(conns):
        uid = conn.account.user_id
        ack, result = conn.raw_creates()
        assert f"prompt: prompt {i} style: Anime" in ack["content"]
        assert result["content"] == f"<@{uid}> (prompt: prompt {i} style: Anime) Author: <@{uid}>"
        assert len(result["attachments"]) == 4
    assert len(sim.events.accepted("create")) == N_CLIENTS
