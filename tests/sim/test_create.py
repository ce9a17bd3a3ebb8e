"""/create end to end: interaction, ack, progress, result, refusals, buttons, variants."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord

from worker.sim import SimDiscord, texts

from .conftest import Conn, Connect

OPTIONS = {"prompt": "a cat surfing", "style": "Realistic", "negative-prompt": "sand", "aspect-ratio": "16:9"}


async def create(conn: Conn, **options: Any) -> discord.Interaction:
    cmd = await conn.command("create")
    return await cmd(conn.channel, **(options or OPTIONS))


def has_result(raw: list[tuple[str, dict[str, Any]]]) -> bool:
    return any(e == "MESSAGE_CREATE" and d["type"] == 0 for e, d in raw)


async def test_create_interaction_succeeds(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    interaction = await create(conn)
    assert isinstance(interaction, discord.Interaction)
    assert interaction.successful
    assert interaction.name == "create"
    [record] = sim.events.accepted("create")
    assert record.options == OPTIONS
    assert record.interaction_id == interaction.id


async def test_ack_then_result(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    results: list[discord.Message] = []
    conn.client.event(_collector(results))
    interaction = await create(conn)
    await conn.wait_raw(has_result)
    uid = conn.account.user_id
    ack, result = conn.raw_creates()

    assert ack["type"] == 20
    assert ack["content"] == (
        f"<@{uid}> We are making videos. We will notify you when it's done. "
        f"(prompt: a cat surfing style: Realistic negative-prompt: sand aspect-ratio: 16:9) Author: <@{uid}>"
    )
    assert ack["interaction"]["id"] == str(interaction.id)
    assert ack["interaction"]["name"] == "create"
    assert ack["interaction_metadata"]["id"] == str(interaction.id)
    assert ack["interaction_metadata"]["user"]["id"] == str(uid)

    # The worst case on purpose: the result carries no interaction and no reference.
    echoed = "prompt: a cat surfing style: Realistic negative-prompt: sand aspect-ratio: 16:9"
    assert result["content"] == f"<@{uid}> ({echoed}) Author: <@{uid}>"
    assert "interaction" not in result and "message_reference" not in result
    assert [m["id"] for m in result["mentions"]] == [str(uid)]
    assert len(result["attachments"]) == 4
    assert all(
        a["content_type"] == "video/mp4" and a["filename"].endswith(".mp4") for a in result["attachments"]
    )
    labels = [c.get("label") or c["emoji"]["name"] for row in result["components"] for c in row["components"]]
    assert labels == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "ReDo", "🔀"]
    assert int(ack["id"]) < int(result["id"])

    # The library parsed both: message.interaction on the ack, attachments and buttons on the result.
    await _until(lambda: len(results) == 2)
    parsed_ack, parsed_result = results
    assert parsed_ack.interaction is not None and parsed_ack.interaction.id == interaction.id
    assert len(parsed_result.attachments) == 4
    assert [b.label for b in parsed_result.components[0].children] == ["U1", "U2", "U3", "U4"]


async def test_result_video_is_served_by_the_cdn(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    await create(conn)
    await conn.wait_raw(has_result)
    url = conn.raw_creates()[-1]["attachments"][0]["url"]
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        body = await resp.read()
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "video/mp4"
    assert body[4:8] == b"ftyp"


async def test_history_is_newest_first(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    await create(conn)
    await conn.wait_raw(has_result)
    history = [m async for m in conn.channel.history(limit=10)]
    assert [m.type for m in history] == [discord.MessageType.default, discord.MessageType.chat_input_command]
    after = [m async for m in conn.channel.history(after=history[1], oldest_first=True)]
    assert [m.id for m in after] == [history[0].id]
    fetched = await conn.channel.fetch_message(history[0].id)
    assert len(fetched.attachments) == 4


async def test_progress_edits_the_ack(sim: SimDiscord, connect: Connect) -> None:
    sim.bot.settings.progress_steps = [25, 50, 75]
    conn = await connect()
    await create(conn)
    await conn.wait_raw(has_result)
    updates = [d for e, d in conn.raw if e == "MESSAGE_UPDATE"]
    ack = conn.raw_creates()[0]
    assert [u["content"].rsplit("Progress: ", 1)[1] for u in updates] == ["25%", "50%", "75%"]
    assert all(u["id"] == ack["id"] and u["edited_timestamp"] for u in updates)
    assert updates[0]["content"] == ack["content"] + "\nProgress: 25%"


async def test_moderation(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    await create(conn, prompt="some gore here", style="Anime")
    await conn.wait_raw(lambda raw: len(raw) >= 1)
    await asyncio.sleep(sim.bot.settings.result_delay * 2)
    [reply] = conn.raw_creates()
    assert reply["type"] == 20
    assert reply["content"] == texts.MODERATION
    assert "community guidelines" in reply["content"]


async def test_no_subscription(sim: SimDiscord, connect: Connect) -> None:
    acct = sim.add_account()
    sim.bot.settings.no_subscription_user_ids.add(acct.user_id)
    conn = await connect(acct)
    await create(conn)
    await conn.wait_raw(lambda raw: len(raw) >= 1)
    [reply] = conn.raw_creates()
    assert reply["content"] == texts.no_subscription(acct.user_id)
    assert reply["type"] == 20


async def test_throttle_beyond_limit(sim: SimDiscord, connect: Connect) -> None:
    sim.bot.settings.throttle_limit = 2
    sim.bot.settings.result_delay = 1.0
    conn = await connect()
    for i in range(3):
        await create(
            conn, prompt=f"job {i}", style="Anime"
        )  # sequential: one account never invokes twice at once
    await conn.wait_raw(lambda raw: len(raw) >= 3)
    contents = [d["content"] for d in conn.raw_creates()[:3]]
    assert contents[2] == texts.throttled(conn.account.user_id)
    assert all("We are making videos" in c for c in contents[:2])


async def test_failure_message(sim: SimDiscord, connect: Connect) -> None:
    sim.bot.settings.failure_rate = 1.0
    conn = await connect()
    await create(conn)
    await conn.wait_raw(lambda raw: len(raw) >= 2)
    _ack, failure = conn.raw_creates()
    assert failure["content"] == texts.failed(conn.account.user_id, OPTIONS)
    assert failure["attachments"] == []


async def test_upscale_button(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    await create(conn)
    await conn.wait_raw(has_result)
    result = await conn.channel.fetch_message(int(conn.raw_creates()[-1]["id"]))
    u1 = result.components[0].children[0]
    assert u1.label == "U1"
    interaction = await u1.click()
    assert interaction.successful
    await conn.wait_raw(lambda raw: len([d for e, d in raw if e == "MESSAGE_CREATE"]) >= 3)
    upscaled = conn.raw_creates()[-1]
    assert upscaled["content"].startswith(f"<@{conn.account.user_id}> Upscaled video 1")
    assert len(upscaled["attachments"]) == 1


async def test_variant_split_links_embeds_reference(sim: SimDiscord, connect: Connect) -> None:
    s = sim.bot.settings
    conn = await connect()

    s.result_split = True
    await create(conn)
    await conn.wait_raw(lambda raw: len(raw) >= 5)
    parts = conn.raw_creates()[1:5]
    assert [len(p["attachments"]) for p in parts] == [1, 1, 1, 1]
    assert parts[-1]["components"] and not parts[0]["components"]

    s.result_split, s.result_as_links, s.result_reference = False, True, True
    conn.raw.clear()
    await create(conn)
    await conn.wait_raw(lambda raw: len(raw) >= 2)
    ack, links = conn.raw_creates()
    assert links["attachments"] == [] and links["content"].count(".mp4") == 4
    assert links["message_reference"]["message_id"] == ack["id"]

    s.result_as_links, s.result_as_embeds = False, True
    conn.raw.clear()
    await create(conn)
    await conn.wait_raw(lambda raw: len(raw) >= 2)
    assert [e["type"] for e in conn.raw_creates()[1]["embeds"]] == ["video"] * 4


async def test_ack_with_reference_defers_then_follows_up(sim: SimDiscord, connect: Connect) -> None:
    sim.bot.settings.ack_with_reference = True
    conn = await connect()
    await create(conn)
    await conn.wait_raw(has_result)
    events = [(e, d.get("type"), d.get("flags")) for e, d in conn.raw]
    assert events[:3] == [
        ("MESSAGE_CREATE", 20, 128),
        ("MESSAGE_CREATE", 19, 0),
        ("MESSAGE_DELETE", None, None),
    ]
    placeholder, ack = conn.raw_creates()[:2]
    assert ack["message_reference"]["message_id"] == placeholder["id"]


def _collector(out: list[discord.Message]) -> Any:
    async def on_message(message: discord.Message) -> None:
        out.append(message)

    return on_message


async def _until(predicate: Any, within: float = 10.0) -> None:
    async def _wait() -> None:
        while not predicate():  # noqa: ASYNC110 - state mutated by client callbacks
            await asyncio.sleep(0.01)

    await asyncio.wait_for(_wait(), within)


async def test_animate_with_an_uploaded_image_is_accepted(sim: SimDiscord, connect: Connect) -> None:
    import io

    conn = await connect()
    animate = await conn.command("animate")
    image = discord.File(io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32), filename="face.png")
    interaction = await animate(conn.channel, image=image, prompt="wave")
    assert interaction.successful
    await conn.wait_raw(lambda raw: len(raw) >= 1)
    assert conn.raw_creates()[0]["content"] == texts.NOT_SUPPORTED.format(uid=conn.account.user_id)
