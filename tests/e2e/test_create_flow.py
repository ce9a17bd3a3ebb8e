"""The create flow end to end: HTTP API -> real discord.py-self sessions -> simulated Discord and
PixVerse bot -> replies tracked -> job final -> callback delivered."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from worker.sim import SimDiscord

from .conftest import Harness

PROMPT = "Milla Jovovich riding motorcycle in extreme stormy weather thru California desert"


async def test_happy_path_four_videos_and_callback(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    status, body = await harness.create(
        prompt=PROMPT,
        style="Anime",
        negative_prompt="sand",
        aspect_ratio="16:9",
        character="kamisatoayaka",
        replyUrl=harness.receiver.url,
        replyRef="ref-42",
    )
    assert status == 200, body
    assert body["status"] == "started" and body["code"] == 200
    assert body["content"].startswith(f"<@{account.user_id}> We are making videos.")
    assert "character: kamisatoayaka" in body["content"]
    assert body["messageId"] and body["timestamp"]
    assert body["discord"] == f"{account.token[:3]}…secured…{account.token[-3:]}"
    assert account.token not in json.dumps(body)

    [sent] = sim.events.accepted("create")
    assert sent.options == {
        "prompt": PROMPT,
        "style": "Anime",
        "negative-prompt": "sand",
        "aspect-ratio": "16:9",
        "character": "kamisatoayaka",
    }

    job = await harness.wait_job(body["jobid"])
    assert job["status"] == "completed"
    assert len(job["attachments"]) == 4
    assert all(a["url"].startswith(sim.base_url) for a in job["attachments"])
    assert {"U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "ReDo"} <= set(job["buttons"])
    assert job["replyRef"] == "ref-42"

    # The videos are really there to be fetched.
    assert harness.http is not None
    async with harness.http.get(job["attachments"][0]["url"]) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"

    await harness.receiver.wait_for(1)
    headers, raw = harness.receiver.calls[0]
    delivered = json.loads(raw)
    assert delivered["jobid"] == job["jobid"] and delivered["status"] == "completed"
    assert delivered["attachments"] == job["attachments"] and delivered["replyRef"] == "ref-42"
    assert headers["X-Pixverse-Delivery"]


async def test_character_is_dropped_unless_anime(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    status, body = await harness.create(prompt="a fox", style="Realistic", character="klee")
    assert status == 200, body
    assert "character" not in body
    assert "character" not in sim.events.accepted("create")[0].options


async def test_moderated_prompt_is_422(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    status, body = await harness.create(prompt="some gore please", replyUrl=harness.receiver.url)
    assert status == 422
    assert body["status"] == "moderated" and body["code"] == 422 and body["jobid"]
    assert body["error"].startswith("Apologies! Our AI moderator thinks this prompt")
    await harness.receiver.wait_for(1)
    assert json.loads(harness.receiver.calls[0][1])["status"] == "moderated"


async def test_no_subscription_is_402(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.no_subscription_user_ids.add(account.user_id)
    await harness.start([account])
    status, body = await harness.create(prompt="a fox")
    assert status == 402
    assert body["error"] == "Account has no subscription or subscription expired"
    assert body["status"] == "failed"


async def test_parallel_limit_is_429_with_executing_jobs(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 30
    await harness.start([account], max_jobs=1)
    status, first = await harness.create(prompt="first")
    assert status == 200
    status, body = await harness.create(prompt="second")
    assert status == 429
    assert body == {
        "error": "Maximum of 1 jobs executing in parallel supported",
        "executingJobs": [first["jobid"]],
        "code": 429,
    }


async def test_bot_throttle_is_429(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 30
    sim.bot.settings.throttle_limit = 1
    await harness.start([account], max_jobs=5)
    assert (await harness.create(prompt="first"))[0] == 200
    status, body = await harness.create(prompt="second")
    assert status == 429
    assert "maximum number of concurrent" in body["error"]
    assert body["status"] == "failed"
    # The throttled job freed its slot: only the first one is executing.
    _, executing = await harness.get("jobs")
    assert [j["prompt"] for j in executing] == ["first"]


async def test_discord_rate_limit_is_429_with_error_details(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    sim.faults.rate_limit("/interactions$", retry_after=120, count=1)
    status, body = await harness.create(prompt="a fox")
    assert status == 429
    assert body["error"] == "Discord /interactions failed with HTTP status 429"
    details = json.loads(body["errorDetails"])
    assert details["retry_after"] == 120 and "rate limited" in details["message"]
    # The account is not stuck: the next create goes through.
    assert (await harness.create(prompt="a fox again"))[0] == 200


async def test_random_choice_spreads_over_accounts(harness: Harness, sim: SimDiscord) -> None:
    accounts = sim.world.add_accounts(3)
    sim.bot.settings.result_delay = 30
    await harness.start(accounts, max_jobs=4)
    channels: Counter[str] = Counter()
    for i in range(9):
        status, body = await harness.create(prompt=f"job {i}")
        assert status == 200, body
        channels[body["channel"]] += 1
    assert set(channels) == {str(a.channel_id) for a in accounts}
    assert max(channels.values()) <= 4


async def test_channel_alone_picks_that_account(harness: Harness, sim: SimDiscord) -> None:
    accounts = sim.world.add_accounts(3)
    await harness.start(accounts)
    target = str(accounts[1].channel_id)
    for _ in range(2):
        status, body = await harness.create(prompt="a fox", channel=target)
        assert status == 200 and body["channel"] == target
    status, body = await harness.create(prompt="a fox", channel="1234567890123456789")
    assert status == 404 and body["error"] == "Configuration for channel 1234567890123456789 not found"


async def test_ad_hoc_credentials_open_their_own_session(harness: Harness, sim: SimDiscord) -> None:
    configured, adhoc = sim.world.add_accounts(2)
    await harness.start([configured])
    status, body = await harness.create(
        prompt="a fox",
        discord=adhoc.token,
        server=str(adhoc.guild_id),
        channel=str(adhoc.channel_id),
    )
    assert status == 200, body
    assert body["channel"] == str(adhoc.channel_id)
    assert body["discord"] == f"{adhoc.token[:3]}…secured…{adhoc.token[-3:]}"
    job = await harness.wait_job(body["jobid"])
    assert job["status"] == "completed"
    # Ad-hoc accounts are not listed among the configured ones.
    _, accounts = await harness.get("account")
    assert str(adhoc.channel_id) not in accounts


async def test_ad_hoc_bad_token_is_refused_clearly(harness: Harness, sim: SimDiscord) -> None:
    configured, adhoc = sim.world.add_accounts(2)
    await harness.start([configured])
    bad = "bad" + "x" * 56
    status, body = await harness.create(
        prompt="a fox", discord=bad, server=str(adhoc.guild_id), channel=str(adhoc.channel_id)
    )
    assert status == 400
    assert body["error"].startswith(f"Discord session for channel {adhoc.channel_id} could not be opened")
    assert bad not in json.dumps(body)


async def test_cancel_frees_the_slot_at_once(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 1.0
    await harness.start([account], max_jobs=1)
    _, first = await harness.create(prompt="first", replyUrl=harness.receiver.url)
    assert (await harness.create(prompt="second"))[0] == 429
    status, body = await harness.get("jobs/cancel/", jobid=first["jobid"])
    assert (status, body) == (200, {"jobid": first["jobid"], "status": "cancelled", "code": 200})
    assert (await harness.create(prompt="third"))[0] == 200
    # The bot's late result for the cancelled job is kept aside, not applied.
    await asyncio.sleep(1.5)
    job = await harness.job(first["jobid"])
    assert job["status"] == "cancelled" and "attachments" not in job
    _, kept = await harness.get("messages", reason="late")
    assert first["jobid"] in [m.get("jobid") for m in kept["messages"]]
    await harness.receiver.wait_for(1)
    assert json.loads(harness.receiver.calls[0][1])["status"] == "cancelled"


async def test_job_without_result_times_out_and_frees_its_slot(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 60
    await harness.start([account], max_jobs=1, pixverse={"job_timeout_seconds": 1})
    _, body = await harness.create(prompt="slow")
    job = await harness.wait_job(body["jobid"], timeout=10)
    assert job["status"] == "failed" and job["code"] == 504
    assert job["error"] == "No result from the PixVerse bot within 1 s"
    assert (await harness.create(prompt="next"))[0] == 200


async def test_bot_that_never_answers_fails_the_create_clearly(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account], api={"create_wait_seconds": 1.5})
    sim.faults.fail_interactions(1)
    status, body = await harness.create(prompt="a fox")
    assert status in (502, 504)
    assert body["status"] == "failed" and body["error"]
    assert (await harness.create(prompt="a fox"))[0] == 200


async def test_five_identical_prompts_on_one_account_get_their_own_results(
    harness: Harness, sim: SimDiscord
) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 0.8
    await harness.start([account], max_jobs=5)
    created = await asyncio.gather(*(harness.create(prompt="the same prompt") for _ in range(5)))
    assert [status for status, _ in created] == [200] * 5
    jobs = [await harness.wait_job(body["jobid"]) for _, body in created]
    assert [j["status"] for j in jobs] == ["completed"] * 5
    video_sets = [frozenset(a["url"] for a in j["attachments"]) for j in jobs]
    assert all(len(s) == 4 for s in video_sets)
    assert len(frozenset().union(*video_sets)) == 20  # no result given twice, none lost
    assert len({j["messageId"] for j in jobs}) == 5


async def test_split_and_link_results_still_complete(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account], max_jobs=3)
    sim.bot.settings.result_split = True
    _, split = await harness.create(prompt="split one")
    sim.bot.settings.result_split = False
    sim.bot.settings.result_as_links = True
    _, links = await harness.create(prompt="links one")
    for body in (split, links):
        job = await harness.wait_job(body["jobid"])
        assert job["status"] == "completed" and len(job["attachments"]) == 4


async def test_restart_while_the_bot_finishes_still_completes(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 1.0
    await harness.start([account])
    status, body = await harness.create(prompt="finish while away", replyUrl=harness.receiver.url)
    assert status == 200
    await harness.stop_daemon()
    # The bot posts the result while no daemon is running.
    await asyncio.sleep(1.5)
    assert any("finish while away" in (m.get("content") or "") and m.get("attachments")
               for m in sim.world.messages(account.channel_id))
    await harness.start([account])
    job = await harness.wait_job(body["jobid"])
    assert job["status"] == "completed" and len(job["attachments"]) == 4
    await harness.receiver.wait_for(1)


async def test_outdated_command_is_rediscovered(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    assert (await harness.create(prompt="before"))[0] == 200
    sim.world.bump_command_version()
    status, body = await harness.create(prompt="after")
    assert status == 200, body
    rejected = [i for i in sim.events.interactions if i.status == 400]
    assert len(rejected) == 1  # the stale version was refused once, then the fresh one went through


async def test_dead_account_leaves_the_others_working(harness: Harness, sim: SimDiscord) -> None:
    alive, doomed = sim.world.add_accounts(2)
    await harness.start([alive, doomed], max_jobs=5)
    await sim.faults.revoke_token(doomed.token)
    for _ in range(100):
        _, accounts = await harness.get("account")
        if accounts[str(doomed.channel_id)]["state"] == "error":
            break
        await asyncio.sleep(0.05)
    state = accounts[str(doomed.channel_id)]
    assert state["state"] == "error" and state["error"]
    assert doomed.token not in json.dumps(accounts)
    assert accounts[str(alive.channel_id)]["state"] == "ready"
    for _ in range(3):
        status, body = await harness.create(prompt="still working")
        assert status == 200 and body["channel"] == str(alive.channel_id)
    status, body = await harness.create(prompt="x", channel=str(doomed.channel_id))
    assert status == 503 and "error" in body["error"]


async def test_unknown_bot_message_is_visible_to_the_operator(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    await sim.bot.post_message(account.channel_id, "PixVerse is under maintenance, back in 10 minutes")
    await sim.bot.post_message(account.channel_id, "", raw={"components": None, "embeds": None})
    for _ in range(100):
        _, body = await harness.get("messages")
        if len(body["messages"]) >= 2:
            break
        await asyncio.sleep(0.05)
    contents = [m.get("content") for m in body["messages"]]
    assert "PixVerse is under maintenance, back in 10 minutes" in contents
    assert all(m["raw"] for m in body["messages"])
    # And the session survived the odd message: a job still completes.
    _, created = await harness.create(prompt="after odd message")
    assert (await harness.wait_job(created["jobid"]))["status"] == "completed"


async def test_ad_hoc_job_in_flight_survives_a_restart(harness: Harness, sim: SimDiscord) -> None:
    configured, adhoc, idle = sim.world.add_accounts(3)
    sim.bot.settings.result_delay = 1.0
    await harness.start([configured])
    _, idle_job = await harness.create(
        prompt="done before", discord=idle.token, server=str(idle.guild_id), channel=str(idle.channel_id)
    )
    await harness.wait_job(idle_job["jobid"])
    status, body = await harness.create(
        prompt="ad hoc across a restart", discord=adhoc.token, server=str(adhoc.guild_id), channel=str(adhoc.channel_id)
    )
    assert status == 200, body
    await harness.stop_daemon()
    identifies = sim.events.identifies
    await harness.start([configured])
    job = await harness.wait_job(body["jobid"])
    assert job["status"] == "completed" and len(job["attachments"]) == 4
    # Only the configured account and the ad-hoc one with a job in flight got a session again.
    assert sim.events.identifies == identifies + 2
