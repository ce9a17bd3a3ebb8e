"""Login, READY, and what a client sees of the PixVerse guild."""

from __future__ import annotations

import discord
import pytest

from worker.sim import SimDiscord
from worker.sim.commands import ASPECT_RATIOS, CHARACTERS, STYLES

from .conftest import Connect


async def test_login_and_on_ready(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect(sim.add_account("alice"))
    assert conn.client.user is not None
    assert conn.client.user.id == conn.account.user_id
    assert conn.client.user.name == "alice"
    assert conn.ready_count == 1


async def test_guild_me_and_private_thread(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    # guild.me needs READY's merged_members aligned with guilds and READY_SUPPLEMENTAL.
    assert conn.guild.me is not None
    assert conn.guild.me.id == conn.account.user_id
    thread = conn.channel
    assert isinstance(thread, discord.Thread)
    assert thread.type is discord.ChannelType.private_thread
    assert thread.parent is not None and thread.parent.name == "pixverse"


async def test_each_account_sees_only_its_own_thread(sim: SimDiscord, connect: Connect) -> None:
    a, b = sim.add_accounts(2)
    conn = await connect(a)
    assert conn.guild.get_thread(a.channel_id) is not None
    assert conn.guild.get_thread(b.channel_id) is None


async def test_command_discovery(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    cmds = {c.name: c for c in await conn.channel.application_commands()}
    assert set(cmds) == {"create", "create_single", "animate", "meme_face"}
    create = cmds["create"]
    assert create.application_id == sim.world.bot_user.id
    assert create.version == sim.world.commands.version
    opts = {o.name: o for o in create.options}
    assert list(opts) == ["prompt", "style", "negative-prompt", "aspect-ratio", "character"]
    assert opts["prompt"].required and opts["style"].required
    assert [c.value for c in opts["style"].choices] == list(STYLES)
    assert [c.value for c in opts["aspect-ratio"].choices] == list(ASPECT_RATIOS)
    assert [c.value for c in opts["character"].choices] == list(CHARACTERS)


async def test_bad_token_is_login_failure(sim: SimDiscord) -> None:
    from worker.discord.client import make_client

    client = make_client()
    async with client:
        with pytest.raises(discord.LoginFailure):
            await client.login("not-a-token")


async def test_unknown_route_is_discords_json_404(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    with pytest.raises(discord.NotFound) as info:
        await conn.client.http.request(discord.http.Route("GET", "/no/such/route"))
    assert info.value.status == 404
    assert info.value.code == 0
