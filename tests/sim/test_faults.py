"""Each fault the sim injects, as a real client observes it."""

from __future__ import annotations

import asyncio

import discord
import pytest

from worker.sim import SimDiscord

from .conftest import TIMEOUT, Connect
from .test_create import OPTIONS, create, has_result


async def test_outdated_command_version_is_50035(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    cmd = await conn.command("create")
    sim.world.bump_command_version()
    with pytest.raises(discord.HTTPException) as info:
        await cmd(conn.channel, **OPTIONS)
    assert info.value.status == 400
    assert info.value.code == 50035
    assert "outdated" in str(info.value)
    # Rediscovery picks up the new version and works.
    fresh = await conn.command("create")
    assert fresh.version == sim.world.commands.version
    assert (await fresh(conn.channel, **OPTIONS)).successful


async def test_missing_required_option_is_rejected(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    cmd = await conn.command("create")
    # The library does not check required options; Discord does.
    with pytest.raises(discord.HTTPException) as info:
        await cmd(conn.channel, prompt="no style")
    assert info.value.code == 50035
    assert sim.events.accepted() == []


@pytest.mark.parametrize("fault", ["reconnect", "close_4000", "drop"])
async def test_gateway_loss_then_resume_replays(sim: SimDiscord, connect: Connect, fault: str) -> None:
    conn = await connect()
    uid = conn.account.user_id
    sim.bot.settings.result_delay = 0.5
    await create(conn)
    if fault == "reconnect":
        assert await sim.faults.reconnect(uid) == 1
    elif fault == "close_4000":
        assert await sim.faults.close_sessions(uid, code=4000) == 1
    else:
        assert await sim.faults.drop_connections(uid) == 1
    await asyncio.wait_for(conn.resumed.wait(), TIMEOUT)
    # The result posted around the outage still arrives, on the same session, no re-identify.
    await conn.wait_raw(has_result)
    assert conn.ready_count == 1
    assert sim.events.resumes >= 1


async def test_invalid_session_reidentifies(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    old_session = conn.client.ws.session_id
    await sim.faults.invalidate_sessions(conn.account.user_id)
    await conn.wait_ready_again(1)
    assert conn.client.ws.session_id != old_session
    assert (await create(conn)).successful


async def test_429_is_retried_after_retry_after(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    sim.faults.rate_limit("/interactions$", retry_after=0.2, count=1)
    interaction = await create(conn)
    assert interaction.successful
    statuses = [r.status for r in sim.events.interactions]
    assert statuses == [204]  # the 429 came before validation; the retry went through
    assert sim.events.rest_requests["POST /interactions"] == 2


async def test_interaction_rate_limit(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    sim.rate_limit_interactions_per_sec = 1
    await create(conn)
    second = await create(conn, prompt="again", style="Anime")  # 429 first, then retried by the library
    assert second.successful
    assert sim.events.rest_requests["POST /interactions"] == 3


async def test_rest_500_is_server_error(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    sim.faults.rest_error(500, r"/application-command-index$", count=5)
    with pytest.raises(discord.DiscordServerError):
        await conn.channel.application_commands()


async def test_revoked_token_closes_4004_and_rest_401(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    await sim.faults.revoke_token(conn.account.token)
    assert conn.task is not None
    with pytest.raises(discord.ConnectionClosed) as info:
        await asyncio.wait_for(conn.task, TIMEOUT)
    assert info.value.code == 4004
    from worker.discord.client import make_client

    async with make_client() as client:
        with pytest.raises(discord.LoginFailure):
            await client.login(conn.account.token)


async def test_unanswered_interaction_is_failure(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    sim.faults.fail_interactions(1)
    interaction = await create(conn)
    # INTERACTION_FAILURE is aliased by make_client, so the wait ends with successful=False.
    assert interaction.successful is False
    await asyncio.sleep(sim.bot.settings.result_delay)
    assert conn.raw_creates() == []


@pytest.mark.parametrize("action", ["drop", "duplicate", "delay", "reorder"])
async def test_dispatch_faults(sim: SimDiscord, connect: Connect, action: str) -> None:
    conn = await connect()
    uid = conn.account.user_id
    sim.faults.add_dispatch_rule(action, "MESSAGE_CREATE", count=1, delay=0.3, user_id=uid)
    await create(conn)
    if action == "drop":
        await asyncio.sleep(sim.bot.settings.result_delay + 0.3)
        assert [d["type"] for d in conn.raw_creates()] == [0]  # the ack was lost
        return
    await conn.wait_raw(lambda raw: len(raw) >= (3 if action == "duplicate" else 2))
    types = [d["type"] for d in conn.raw_creates()]
    if action == "duplicate":
        assert types == [20, 20, 0]
    elif action == "delay":
        # 0.3 s of delay on the ack vs 0.1 s to the result: the result overtakes it.
        assert types == [0, 20]
    else:
        assert types == [0, 20]


async def test_sim_restart_same_port_clients_resume(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    port = sim.port
    sim.bot.settings.result_delay = 0.5
    await create(conn)
    await sim.restart(down_for=0.1)
    assert sim.port == port
    await asyncio.wait_for(conn.resumed.wait(), TIMEOUT)
    await conn.wait_raw(has_result)
    assert conn.ready_count == 1
