"""Odd messages from the PixVerse bot, posted mid-run by the sim's bot, never break a session.

Explicit nulls, missing fields, huge or strange unicode, unknown component types, wrong types:
each is kept for the operator (``GET /v1/pixverse/messages``) without a traceback in the logs,
the job in flight still completes, and a later job completes too.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Harness
from worker.sim import SimDiscord
from worker.sim import payloads as sim_payloads

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "messages"
STRANGE = "😀🎬\u202eمرحباZ̶̵̴👨‍👩‍👧\ud7ff𝕏\u0000\ufeff\u200b\U0010fffd"


def odd_messages(bot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> fields overriding a normal bot message (``None`` values are explicit nulls)."""
    return {
        "explicit-nulls": {
            "content": "maintenance soon",
            "components": None,
            "embeds": None,
            "attachments": None,
            "mentions": None,
            "mention_roles": None,
            "interaction": None,
            "interaction_metadata": None,
            "message_reference": None,
            "sticker_items": None,
            "edited_timestamp": None,
            "flags": None,
            "webhook_id": None,
        },
        "null-content": {"content": None},
        "huge-unicode": {"content": STRANGE * 2000},
        "strange-short": {"content": "\u0000\u0001\x7f\ud7ff\U000e0001 (prompt:) style: Author: <@>"},
        "unknown-components": {
            "content": "buttons of the future",
            "components": [
                {"type": 99, "components": [{"type": 42, "custom_id": None, "label": {"x": 1}}]},
                {"type": 1, "components": [{"type": 2, "style": 77, "label": None, "custom_id": 5}]},
                {"type": 1},
                None,
                "button",
            ],
        },
        "wrong-types": {
            "content": 12345,
            "attachments": "not a list",
            "embeds": {"video": "not a list"},
            "mentions": [1, "two", None],
            "flags": "many",
            "timestamp": "yesterday",
            "edited_timestamp": 5,
            "pinned": "no",
            "tts": [],
        },
        "wrong-nested-types": {
            "content": "odd attachments",
            "attachments": [None, 7, {"id": None, "url": 5, "filename": [], "size": "big", "width": {}}],
            "embeds": [None, 3, {"video": "x", "url": [], "fields": "none", "type": None}],
            "message_reference": {"message_id": None, "channel_id": {}},
        },
    }


async def wait_for(predicate: Any, timeout: float = 20, what: str = "") -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_odd_bot_messages_never_break_a_session(
    harness: Harness, sim: SimDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 1.5
    await harness.start([account])
    channel = account.channel_id
    bot = sim_payloads.user(sim.world.bot_user)

    status, in_flight = await harness.create(prompt="a fox in the snow")
    assert status == 200 and in_flight["status"] == "started", in_flight

    posted: dict[str, str] = {}
    for name, fields in odd_messages(bot).items():
        content = fields.get("content") if isinstance(fields.get("content"), str) else ""
        msg = await sim.bot.post_message(channel, content, raw=copy.deepcopy(fields))
        posted[name] = str(msg["id"])
    # Missing fields: only an id, the channel and the author.
    msg = sim.world.post_raw(channel, {"author": bot, "content": "bare"})
    posted["missing-fields"] = str(msg["id"])
    # The recorded odd shapes, re-addressed to this channel and signed by the sim's bot.
    for name in ("nulls", "huge_unicode", "unknown_components"):
        data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
        data.pop("id", None)
        data.update(channel_id=str(channel), guild_id=str(sim.world.guild.id), author=bot)
        posted[f"fixture-{name}"] = str(sim.world.post_raw(channel, data)["id"])
    # Not recognisably the bot (no author at all, or ``bot`` null): ignored, and harmless.
    sim.world.post_raw(channel, {"content": "who sent this", "author": None, "type": "x"})
    await sim.bot.post_message(channel, "odd author", raw={"author": {**bot, "bot": None, "username": None}})

    # The job that was in flight when the odd messages arrived completes.
    done = await harness.wait_job(in_flight["jobid"])
    assert done["status"] == "completed", done

    by_id: dict[str, dict[str, Any]] = {}

    async def kept() -> bool:
        _, body = await harness.get("messages", limit="1000")
        by_id.update({m["messageId"]: m for m in body["messages"]})
        return all(mid in by_id for mid in posted.values())

    try:
        await wait_for(kept, timeout=10, what="every odd message to be kept")
    except AssertionError:
        raise AssertionError(f"not kept: {[n for n, mid in posted.items() if mid not in by_id]}") from None
    for name, mid in posted.items():
        reason = by_id[mid]["reason"]
        assert reason != "unparsable", (name, by_id[mid])
        if not name.startswith("fixture-"):
            assert reason == "unclassified", (name, by_id[mid])

    # The session is still up, and a later job completes.
    _, accounts = await harness.get("account")
    assert accounts[str(channel)]["state"] == "ready", accounts
    status, later = await harness.create(prompt="after the odd messages")
    assert status == 200, later
    assert (await harness.wait_job(later["jobid"]))["status"] == "completed"

    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR and (r.exc_info or r.exc_text)]
    assert not crashes, [r.getMessage() for r in crashes]
