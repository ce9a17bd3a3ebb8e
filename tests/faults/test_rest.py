"""Discord's REST API misbehaves on ``POST /interactions``.

What actually happens (discord.py-self 2.1.0 under the daemon), and is asserted here:

* 500: the library does not retry a 500 -> ``DiscordServerError`` -> the job fails at once with
  code 503 "Discord account <channel> is not available: Discord server error (HTTP 500)"; the
  create answers that (503), the failed job's callback is sent, the account stays ready.
* 502 / 504: the library retries by itself after 1 s (then 3 s, 5 s ...): a single one is
  invisible to the caller, the create answers 200 and the job completes.
* 429 with a retry_after above 30 s (the daemon's ``max_ratelimit_timeout``): the library
  gives up at once -> the create answers 429 with Discord's body in ``errorDetails``, within
  seconds, not after the retry_after.
* 429 with a short retry_after: the library sleeps it and retries -> 200.
"""

from __future__ import annotations

import json

import pytest

from worker.sim import SimDiscord

from .conftest import Harness


async def test_500_on_interactions_fails_the_job_clearly_and_next_create_works(
    harness: Harness, sim: SimDiscord
) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    sim.faults.rest_error(500, "/interactions$", count=1)
    status, body = await harness.create(prompt="a fox", replyUrl=harness.receiver.url)
    assert status == 503, body
    assert body["status"] == "failed" and body["code"] == 503
    assert body["error"] == f"Discord account {account.channel_id} is not available: Discord server error (HTTP 500)"
    assert "Traceback" not in json.dumps(body)
    # Nothing was sent to the bot, and the final status still reached the receiver.
    assert sim.events.accepted("create") == []
    await harness.receiver.wait_for(1)
    assert json.loads(harness.receiver.calls[0][1])["status"] == "failed"
    # The slot was freed, the account is still ready, the next create goes through.
    _, executing = await harness.get("jobs")
    assert executing == []
    _, accounts = await harness.get("account")
    assert accounts[str(account.channel_id)]["state"] == "ready"
    status, body = await harness.create(prompt="a fox again")
    assert status == 200, body
    assert (await harness.wait_job(body["jobid"]))["status"] == "completed"


@pytest.mark.parametrize("status_code", [502, 504])
async def test_single_502_504_is_retried_by_the_library(
    harness: Harness, sim: SimDiscord, status_code: int
) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    sim.faults.rest_error(status_code, "/interactions$", count=1)
    status, body = await harness.create(prompt="a fox")
    assert status == 200, body
    assert [i.status for i in sim.events.interactions] == [204]  # the faulted try never reached the bot
    job = await harness.wait_job(body["jobid"])
    assert job["status"] == "completed" and len(job["attachments"]) == 4


async def test_long_429_answers_429_quickly_with_error_details(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    sim.faults.rate_limit("/interactions$", retry_after=300, count=1)
    # Had the create slept through the 300 s, the per-test timeout would end this test.
    status, body = await harness.create(prompt="a fox", replyUrl=harness.receiver.url)
    assert status == 429, body
    assert body["error"] == "Discord /interactions failed with HTTP status 429"
    details = json.loads(body["errorDetails"])
    assert details["retry_after"] == 300
    await harness.receiver.wait_for(1)
    assert json.loads(harness.receiver.calls[0][1])["status"] == "failed"
    status, body = await harness.create(prompt="a fox again")
    assert status == 200, body


async def test_short_429_is_slept_through_and_the_create_succeeds(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    sim.faults.rate_limit("/interactions$", retry_after=0.5, count=1)
    status, body = await harness.create(prompt="a fox")
    assert status == 200, body
    assert body["status"] == "started"
    job = await harness.wait_job(body["jobid"])
    assert job["status"] == "completed" and len(job["attachments"]) == 4
    assert len(sim.events.accepted("create")) == 1  # retried once, sent once
