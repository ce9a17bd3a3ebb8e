"""The gateway goes away between the bot's ack and its result: the result must still be applied.

Each test creates a job, waits for the ack (the create answers "started"), breaks the account's
gateway connection, and makes the bot post the result WHILE the connection is down: the
result reaches the daemon only through RESUME's replay (op 7, close 4000, TCP drop, Discord
outage) or through the history reconciliation after a re-IDENTIFY (op 9). A second account
is running meanwhile and must not notice.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from worker.sim import SimDiscord

from .conftest import Harness, finish_bot_job, wait_until

LONG = 300.0  # the bot's own timer never fires within a test: the test posts the result


async def _start_two(harness: Harness, sim: SimDiscord):  # type: ignore[no-untyped-def]
    target, bystander = sim.world.add_accounts(2)
    sim.bot.settings.result_delay = LONG
    await harness.start([target, bystander], max_jobs=3)
    status, body = await harness.create(
        prompt="through the storm", channel=str(target.channel_id), replyUrl=harness.receiver.url
    )
    assert status == 200 and body["status"] == "started", body
    return target, bystander, body["jobid"]


async def _assert_completed_with_callback(harness: Harness, jobid: str) -> None:
    job = await harness.wait_job(jobid, timeout=30)
    assert job["status"] == "completed", job
    assert len(job["attachments"]) == 4
    assert len({a["url"] for a in job["attachments"]}) == 4
    await harness.receiver.wait_for(1, timeout=20)
    [(headers, raw)] = [c for c in harness.receiver.calls if json.loads(c[1])["jobid"] == jobid]
    assert json.loads(raw)["status"] == "completed" and headers["X-Pixverse-Delivery"]


async def _bystander_still_works(harness: Harness, sim: SimDiscord, bystander) -> None:  # type: ignore[no-untyped-def]
    sim.bot.settings.result_delay = 0.3
    status, body = await harness.create(prompt="meanwhile", channel=str(bystander.channel_id))
    assert status == 200, body
    assert (await harness.wait_job(body["jobid"]))["status"] == "completed"


@pytest.mark.parametrize("fault", ["op7_reconnect", "close_4000", "tcp_drop"])
async def test_connection_lost_mid_job_result_is_replayed_on_resume(
    harness: Harness, sim: SimDiscord, fault: str
) -> None:
    target, bystander, jobid = await _start_two(harness, sim)
    resumes = sim.events.resumes
    if fault == "op7_reconnect":
        closed = await sim.faults.reconnect(target.user_id)
    elif fault == "close_4000":
        closed = await sim.faults.close_sessions(target.user_id, code=4000)
    else:
        closed = await sim.faults.drop_connections(target.user_id)
    assert closed == 1
    # The session is detached now: the result is queued for it and can only arrive by RESUME.
    finish_bot_job(sim, target)
    await _assert_completed_with_callback(harness, jobid)
    assert sim.events.resumes > resumes  # it really was a RESUME, not a lucky live socket
    _, accounts = await harness.get("account")
    assert accounts[str(target.channel_id)]["state"] == "ready"
    await _bystander_still_works(harness, sim, bystander)


async def test_discord_outage_mid_job_result_applied_after_reconnect(harness: Harness, sim: SimDiscord) -> None:
    target, bystander, jobid = await _start_two(harness, sim)
    sim.spawn_restart(down_for=1.0)
    await wait_until(lambda: _async(not sim.running), timeout=5, what="the sim to go down")
    # Discord is down: the bot's result is stored and queued for the detached sessions.
    finish_bot_job(sim, target)
    _, body = await harness.get("jobs/", jobid=jobid)
    assert body["status"] == "started"  # the daemon keeps answering while Discord is away
    await wait_until(lambda: _async(sim.running), timeout=10, what="the sim to come back")
    await _assert_completed_with_callback(harness, jobid)
    assert harness.daemon is not None
    assert await harness.daemon.driver.wait_ready(timeout=30)
    await _bystander_still_works(harness, sim, bystander)


async def test_invalid_session_mid_job_reidentifies_and_reconciles_history(
    harness: Harness, sim: SimDiscord
) -> None:
    target, bystander, jobid = await _start_two(harness, sim)
    identifies = sim.events.identifies
    assert await sim.faults.invalidate_sessions(target.user_id) == 1
    # The old session is dead (not resumable): no session of this account receives this message.
    # Only the history read after the new READY can find it.
    finish_bot_job(sim, target)
    await _assert_completed_with_callback(harness, jobid)
    assert sim.events.identifies > identifies
    await _bystander_still_works(harness, sim, bystander)
    # And the re-identified account takes new work.
    status, body = await harness.create(prompt="after op 9", channel=str(target.channel_id))
    assert status == 200, body
    assert (await harness.wait_job(body["jobid"]))["status"] == "completed"


async def test_repeated_drops_during_one_job(harness: Harness, sim: SimDiscord) -> None:
    """op 7, then a TCP drop while resuming, then op 9: still exactly one completion."""
    target, bystander, jobid = await _start_two(harness, sim)
    await sim.faults.reconnect(target.user_id)
    await asyncio.sleep(0.3)
    await sim.faults.drop_connections(target.user_id)
    await asyncio.sleep(0.3)
    await sim.faults.invalidate_sessions(target.user_id)
    finish_bot_job(sim, target)
    await _assert_completed_with_callback(harness, jobid)
    await asyncio.sleep(0.5)
    assert len(harness.receiver.calls) == 1
    await _bystander_still_works(harness, sim, bystander)


async def _async(value: object) -> object:
    return value


@pytest.mark.parametrize("status_code", [500, 503])
async def test_history_read_failing_after_reidentify_is_retried(
    harness: Harness, sim: SimDiscord, status_code: int
) -> None:
    """op 9 mid-job, and the history read that should find the result fails once: the result
    is only in the history, so the reconciliation must try again rather than give up."""
    target, bystander, jobid = await _start_two(harness, sim)
    sim.faults.rest_error(status_code, r"/channels/\d+/messages$", method="GET", count=1)
    assert await sim.faults.invalidate_sessions(target.user_id) == 1
    finish_bot_job(sim, target)
    await _assert_completed_with_callback(harness, jobid)
    await _bystander_still_works(harness, sim, bystander)
