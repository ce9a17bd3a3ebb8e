"""Gateway events lost, duplicated or out of order around one job.

Lost INTERACTION_SUCCESS / INTERACTION_CREATE: the daemon cannot know the interaction's outcome
(2.1.0 would raise InvalidData after 12 s) but the bot's ack is in the channel: the create must
answer "started" within create_wait and the job must complete by content correlation.

Duplicated / reordered MESSAGE_CREATE and MESSAGE_UPDATE: exactly one completion, four videos,
one callback.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from worker.sim import SimDiscord

from .conftest import Harness

CREATE_WAIT = 5.0


@pytest.mark.parametrize(
    "lost", [("INTERACTION_SUCCESS",), ("INTERACTION_CREATE",), ("INTERACTION_CREATE", "INTERACTION_SUCCESS")]
)
async def test_lost_interaction_events_create_answers_in_time_and_job_completes(
    harness: Harness, sim: SimDiscord, lost: tuple[str, ...]
) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 1.0
    await harness.start([account], api={"create_wait_seconds": CREATE_WAIT})
    for event in lost:
        sim.faults.drop_events(event, count=1)
    status, body = await harness.create(prompt="lost events", replyUrl=harness.receiver.url)
    # Answered with the bot's ack: had the create waited on the lost event past create_wait,
    # it would have failed the job (504).
    assert status == 200, body
    assert body["status"] == "started"
    assert body["content"].startswith(f"<@{account.user_id}> We are making videos.")
    job = await harness.wait_job(body["jobid"])
    assert job["status"] == "completed" and len(job["attachments"]) == 4
    await harness.receiver.wait_for(1)
    if len(lost) < 2:
        return
    # The account is not wedged by the unknown outcome: the next job goes through (its send waits
    # for the account's previous invocation to give up on its outcome: one command at a time).
    status, body = await harness.create(prompt="next one")
    assert status == 200, body
    assert (await harness.wait_job(body["jobid"]))["status"] == "completed"


async def test_duplicated_messages_complete_once(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.progress_steps = [25, 50, 75]
    sim.bot.settings.result_delay = 0.5
    await harness.start([account])
    # Every MESSAGE_CREATE (ack and result) and every MESSAGE_UPDATE (progress) twice.
    sim.faults.duplicate_events("MESSAGE_CREATE", count=10)
    sim.faults.duplicate_events("MESSAGE_UPDATE", count=10)
    sim.faults.duplicate_events("INTERACTION_CREATE", count=1)
    status, body = await harness.create(prompt="twice", replyUrl=harness.receiver.url)
    assert status == 200, body
    await _assert_exactly_one_completion(harness, body["jobid"])


async def test_reordered_messages_complete_once(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.progress_steps = [25, 50, 75]
    sim.bot.settings.result_delay = 0.5
    await harness.start([account])
    # The ack (MESSAGE_CREATE) arrives after its first progress edit, and the last progress edit
    # after the result.
    sim.faults.reorder_events("MESSAGE_CREATE", count=1)
    status, body = await harness.create(prompt="out of order", replyUrl=harness.receiver.url)
    assert status == 200, body
    sim.faults.reorder_events("MESSAGE_UPDATE", count=10)
    await _assert_exactly_one_completion(harness, body["jobid"])


async def test_result_duplicated_across_two_jobs_with_the_same_prompt(harness: Harness, sim: SimDiscord) -> None:
    """Two same-prompt jobs, every message duplicated and reordered: each gets its own four videos."""
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 0.8
    await harness.start([account], max_jobs=2)
    sim.faults.duplicate_events("MESSAGE_CREATE", count=10)
    first = await harness.create(prompt="same", replyUrl=harness.receiver.url)
    sim.faults.reorder_events("MESSAGE_CREATE", count=2)
    second = await harness.create(prompt="same", replyUrl=harness.receiver.url)
    assert first[0] == second[0] == 200, (first, second)
    jobs = [await harness.wait_job(b["jobid"]) for _, b in (first, second)]
    assert [j["status"] for j in jobs] == ["completed", "completed"]
    urls = [frozenset(a["url"] for a in j["attachments"]) for j in jobs]
    assert all(len(u) == 4 for u in urls) and not (urls[0] & urls[1])
    await harness.receiver.wait_for(2)
    await asyncio.sleep(0.5)
    assert sorted(json.loads(c[1])["jobid"] for c in harness.receiver.calls) == sorted(j["jobid"] for j in jobs)


async def _assert_exactly_one_completion(harness: Harness, jobid: str) -> None:
    job = await harness.wait_job(jobid)
    assert job["status"] == "completed", job
    assert len(job["attachments"]) == 4
    assert len({a["url"] for a in job["attachments"]}) == 4
    await harness.receiver.wait_for(1)
    await asyncio.sleep(1.0)  # late duplicates / held events have had time to land
    again = await harness.job(jobid)
    assert again["status"] == "completed" and again["attachments"] == job["attachments"]
    assert len(harness.receiver.calls) == 1
    assert json.loads(harness.receiver.calls[0][1])["attachments"] == job["attachments"]
    _, deliveries = await harness.get("callbacks", state="all")
    assert [d["jobid"] for d in deliveries["deliveries"]] == [jobid]
