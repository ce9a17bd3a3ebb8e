"""Odd bot messages land in the job's channel between its ack and its result: explicit nulls
(which crash discord.py-self 2.1.0's own parser), unknown component and message types, a huge
content, half-empty attachments, no author. The session must survive them, the job must
complete, and the odd messages must be kept for the operator (GET /v1/pixverse/messages)."""

from __future__ import annotations

from typing import Any

from worker.sim import SimDiscord

from .conftest import Harness, finish_bot_job, wait_until

HUGE = "PixVerse status report. " + "x" * 200_000


def _odd_messages() -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "Queue is full, please be patient",
            {
                "components": None,
                "embeds": None,
                "attachments": None,
                "mentions": None,
                "mention_roles": None,
                "thread": None,
                "interaction": None,
                "message_reference": None,
                "sticker_items": None,
                "reactions": None,
            },
        ),
        (
            "Try our new buttons",
            {
                "components": [
                    {"type": 99, "components": [{"type": 42, "custom_id": "mystery", "label": None}]},
                    {"type": 1, "components": [{"type": 77, "whatever": {"nested": [None, 1, "a"]}}]},
                ]
            },
        ),
        (HUGE, {}),
        ("A message of an unknown type", {"type": 9999, "flags": 1 << 30}),
        (
            "Attachments without urls",
            {
                "attachments": [{"id": "1", "filename": None}, {"id": "2"}],
                "embeds": [{"type": "video", "video": None, "thumbnail": {"url": None}}],
            },
        ),
    ]


async def test_odd_messages_mid_job_do_not_break_the_session(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 300  # the test posts the result itself, after the odd messages
    await harness.start([account])
    status, body = await harness.create(prompt="odd neighbours", replyUrl=harness.receiver.url)
    assert status == 200, body
    jobid = body["jobid"]
    identifies, resumes = sim.events.identifies, sim.events.resumes

    odd = _odd_messages()
    for content, raw in odd:
        await sim.bot.post_message(account.channel_id, content, raw=raw)
    # Not a bot message at all: no author.
    await sim.bot.post_message(account.channel_id, "who wrote this", raw={"author": None})

    async def all_kept() -> list[dict[str, Any]] | None:
        _, listed = await harness.get("messages", limit="100")
        return listed["messages"] if len(listed["messages"]) >= len(odd) else None

    kept = await wait_until(all_kept, timeout=20, what="the odd messages to be kept")
    contents = {m.get("content") for m in kept}
    assert {c for c, _ in odd} <= contents
    assert all(m["raw"] and m["reason"] in ("unclassified", "unparsable") for m in kept)
    huge = next(m for m in kept if m.get("content") == HUGE)
    assert huge["raw"]["content"] == HUGE  # kept whole, not truncated away

    # The job is untouched by them, and its result still lands on the same session.
    job = await harness.job(jobid)
    assert job["status"] == "started" and "attachments" not in job
    finish_bot_job(sim, account)
    job = await harness.wait_job(jobid)
    assert job["status"] == "completed" and len(job["attachments"]) == 4
    await harness.receiver.wait_for(1)
    assert sim.events.identifies == identifies and sim.events.resumes == resumes  # no reconnect at all
    _, accounts = await harness.get("account")
    assert accounts[str(account.channel_id)]["state"] == "ready"

    # And the next job on that session works from start to end.
    sim.bot.settings.result_delay = 0.3
    status, body = await harness.create(prompt="after the odd ones")
    assert status == 200, body
    assert (await harness.wait_job(body["jobid"]))["status"] == "completed"
