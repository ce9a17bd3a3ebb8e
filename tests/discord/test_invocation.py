"""``submit`` against the sim: option mapping, pacing, outdated commands, errors, sink order."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable

import pytest

from worker.config import PixverseSettings
from worker.discord.driver import DiscordDriver
from worker.driver import AccountView, SessionState
from worker.errors import DiscordRateLimited, DiscordUnavailable, InteractionRejected
from worker.metrics import Metrics
from worker.sim.server import SimDiscord
from worker.sim.snowflake import DISCORD_EPOCH_MS

from .conftest import RecordingSink, make_job, view, wait_until


def _index_fetches(sim: SimDiscord) -> int:
    return sum(n for key, n in sim.events.rest_requests.items() if "application-command-index" in key)


def _ms(snowflake: str | int) -> int:
    return (int(snowflake) >> 22) + DISCORD_EPOCH_MS


async def _ready_driver(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver], n: int = 1, **settings: object
) -> tuple[DiscordDriver, list[AccountView]]:
    accounts = [view(a) for a in sim.add_accounts(n)]
    driver = make_driver(**settings)
    await driver.start(accounts)
    assert await driver.wait_ready(timeout=20)
    return driver, accounts


async def test_submit_sends_mapped_options(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver]
) -> None:
    driver, [account] = await _ready_driver(sim, make_driver)

    await driver.submit(
        make_job(
            account, prompt="a fox", style="anime", character="KLEE", aspect_ratio="9:16", negative_prompt=""
        ),
        account,
    )
    await driver.submit(
        make_job(account, prompt="a dog", style="Realistic", character="klee", negative_prompt="blur"),
        account,
    )

    first, second = sim.events.accepted("create")
    assert first.options == {"prompt": "a fox", "style": "Anime", "aspect-ratio": "9:16", "character": "klee"}
    assert second.options == {"prompt": "a dog", "style": "Realistic", "negative-prompt": "blur"}
    assert first.channel_id == second.channel_id == int(account.channel)


async def test_unknown_option_name_is_skipped(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver], caplog: pytest.LogCaptureFixture
) -> None:
    names = {"prompt": "prompt", "style": "style", "aspect_ratio": "ratio"}
    accounts = [view(a) for a in sim.add_accounts(1)]
    driver = make_driver(pixverse=PixverseSettings(option_names=names))
    await driver.start(accounts)
    assert await driver.wait_ready(timeout=20)
    await driver.submit(make_job(accounts[0], aspect_ratio="16:9"), accounts[0])
    await driver.submit(make_job(accounts[0], aspect_ratio="16:9"), accounts[0])
    assert [r.options for r in sim.events.accepted("create")] == [
        {"prompt": "a cat surfing a wave", "style": "Realistic"}
    ] * 2
    assert caplog.text.count("has no option 'ratio'") == 1


async def test_on_interaction_comes_before_the_bots_reply(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver], sink: RecordingSink
) -> None:
    # The bot answers as fast as it can: its ack must still reach the sink after the interaction id.
    sim.bot.settings.ack_delay = 0.0
    sim.interaction_event_delay = 0.0
    driver, [account] = await _ready_driver(sim, make_driver)
    job = make_job(account)
    await driver.submit(job, account)

    record = sim.events.accepted("create")[0]
    [seen] = sink.of("interaction")
    assert (seen.jobid, seen.interaction_id, seen.nonce) == (
        job.jobid,
        str(record.interaction_id),
        record.nonce,
    )

    def ack_index() -> int | None:
        for i, s in enumerate(sink.seen):
            if s.kind == "message" and (s.data.get("interaction") or {}).get("id") == str(
                record.interaction_id
            ):
                return i
        return None

    await wait_until(lambda: ack_index() is not None, what="the bot's ack in the sink")
    assert sink.seen.index(seen) < ack_index()  # type: ignore[operator]
    ack = sink.seen[ack_index()]  # type: ignore[index]
    assert ack.event == "MESSAGE_CREATE" and ack.channel == account.channel and ack.user_id


async def test_pacing_serializes_invocations_per_account(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver], sink: RecordingSink
) -> None:
    driver, [a, b] = await _ready_driver(sim, make_driver, n=2, interaction_gap_seconds=1.0)
    jobs_a = [make_job(a) for _ in range(3)]
    jobs_b = [make_job(b) for _ in range(2)]
    await asyncio.gather(*(driver.submit(j, a) for j in jobs_a), *(driver.submit(j, b) for j in jobs_b))

    def records(account: AccountView) -> list:
        return [r for r in sim.events.accepted("create") if r.channel_id == int(account.channel)]

    ra, rb = records(a), records(b)
    assert len(ra) == 3 and len(rb) == 2
    # In submission order, each one's interaction seen before the next send, and >= the gap apart.
    by_id = {s.interaction_id: s.jobid for s in sink.of("interaction")}
    assert [by_id[str(r.interaction_id)] for r in ra] == [j.jobid for j in jobs_a]
    assert [by_id[str(r.interaction_id)] for r in rb] == [j.jobid for j in jobs_b]
    for prev, nxt in itertools.pairwise(ra):
        assert _ms(nxt.nonce) - _ms(prev.nonce) >= 1000
        assert _ms(nxt.interaction_id) > _ms(prev.interaction_id)
    # Accounts do not wait for each other.
    assert abs(_ms(ra[0].nonce) - _ms(rb[0].nonce)) < 1000
    assert len({r.nonce for r in ra}) == 3


async def test_outdated_command_is_rediscovered_and_retried_once(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver]
) -> None:
    driver, [account] = await _ready_driver(sim, make_driver)
    await driver.submit(make_job(account), account)
    index_fetches = _index_fetches(sim)

    sim.world.bump_command_version()
    await driver.submit(make_job(account), account)

    statuses = [r.status for r in sim.events.interactions]
    assert statuses == [204, 400, 204]
    assert _index_fetches(sim) == index_fetches + 1


async def test_long_429_surfaces_with_discords_body(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver], metrics: Metrics
) -> None:
    driver, [account] = await _ready_driver(sim, make_driver)
    sim.faults.rate_limit(retry_after=120.0)
    with pytest.raises(DiscordRateLimited) as info:
        await driver.submit(make_job(account), account)
    assert info.value.retry_after == 120.0
    assert json.loads(info.value.body) == {
        "message": "You are being rate limited.",
        "retry_after": 120.0,
        "global": False,
    }
    assert metrics.registry.get_sample_value("pixverse_discord_rate_limited_total") == 1


async def test_short_429_is_retried_by_the_library(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver]
) -> None:
    driver, [account] = await _ready_driver(sim, make_driver)
    sim.faults.rate_limit(retry_after=0.2)
    await driver.submit(make_job(account), account)
    assert len(sim.events.accepted("create")) == 1


async def test_other_4xx_is_rejected_with_status_and_body(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver]
) -> None:
    driver, [account] = await _ready_driver(sim, make_driver)
    job = make_job(account, style="Watercolor")  # not one of the bot's choices: Discord says 400
    with pytest.raises(InteractionRejected) as info:
        await driver.submit(job, account)
    assert info.value.status == 400
    assert info.value.discord_code == 50035
    assert "APPLICATION_COMMAND_OPTION_INVALID_CHOICE" in info.value.body

    sim.faults.rest_error(403)
    with pytest.raises(InteractionRejected) as info:
        await driver.submit(make_job(account), account)
    assert info.value.status == 403


async def test_interaction_failure_is_a_rejection(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver], sink: RecordingSink
) -> None:
    driver, [account] = await _ready_driver(sim, make_driver)
    sim.faults.fail_interactions(1)
    job = make_job(account)
    with pytest.raises(InteractionRejected) as info:
        await driver.submit(job, account)
    assert (info.value.status, info.value.body, info.value.discord_code) == (0, "INTERACTION_FAILURE", None)
    assert [s.jobid for s in sink.of("interaction")] == [job.jobid]


async def test_missing_interaction_events_mean_unknown_not_failed(
    sim: SimDiscord,
    make_driver: Callable[..., DiscordDriver],
    sink: RecordingSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import worker.discord.session as session_module

    monkeypatch.setattr(session_module, "INTERACTION_TIMEOUT_SECONDS", 0.5)
    driver, [account] = await _ready_driver(sim, make_driver)
    sim.faults.drop_events("INTERACTION_CREATE")
    sim.faults.drop_events("INTERACTION_SUCCESS")
    await driver.submit(make_job(account), account)  # returns normally
    assert len(sim.events.accepted("create")) == 1
    assert sink.of("interaction") == []


async def test_submit_when_not_ready(sim: SimDiscord, make_driver: Callable[..., DiscordDriver]) -> None:
    driver, [account] = await _ready_driver(sim, make_driver)
    stranger = view(sim.add_account())
    with pytest.raises(DiscordUnavailable, match=r"not ready \(no session\)"):
        await driver.submit(make_job(stranger), stranger)
    await driver.stop()
    with pytest.raises(DiscordUnavailable, match="not ready"):
        await driver.submit(make_job(account), account)


async def test_command_not_found_is_unavailable(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver]
) -> None:
    accounts = [view(a) for a in sim.add_accounts(1)]
    driver = make_driver(pixverse=PixverseSettings(application_name="Midjourney Bot"))
    await driver.start(accounts)
    assert await driver.wait_ready(timeout=20)
    with pytest.raises(DiscordUnavailable, match="Midjourney Bot"):
        await driver.submit(make_job(accounts[0]), accounts[0])
    assert sim.events.interactions == []


async def test_sink_errors_do_not_stop_delivery(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver], sink: RecordingSink
) -> None:
    driver, [account] = await _ready_driver(sim, make_driver)
    sink.fail_messages = True
    for i in range(3):
        await sim.bot.post_message(int(account.channel), f"hello {i}")
    await wait_until(lambda: len(sink.of("message")) == 3, what="three messages despite sink errors")
    assert [s.data["content"] for s in sink.of("message")] == ["hello 0", "hello 1", "hello 2"]
    status = driver.status(account.channel)
    assert status is not None and status.available


async def test_messages_are_filtered_by_channel_and_stripped_of_nulls(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver], sink: RecordingSink
) -> None:
    _driver, [a, b] = await _ready_driver(sim, make_driver, n=2)
    await sim.bot.post_message(int(a.channel), "for a", raw={"components": None, "thread": None})
    sim.world.update_message(int(sim.world.messages(int(a.channel))[-1]["id"]), content="for a, edited")
    await sim.bot.post_message(int(b.channel), "for b")
    await wait_until(lambda: len(sink.of("message")) == 3, what="messages")
    seen_a = sink.of("message", a.channel)
    assert [(s.event, s.data["content"]) for s in seen_a] == [
        ("MESSAGE_CREATE", "for a"),
        ("MESSAGE_UPDATE", "for a, edited"),
    ]
    assert "components" not in seen_a[0].data and "thread" not in seen_a[0].data
    assert [s.data["content"] for s in sink.of("message", b.channel)] == ["for b"]


async def test_fetch_history_pages_oldest_first(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver]
) -> None:
    driver, [account] = await _ready_driver(sim, make_driver)
    channel = int(account.channel)
    posted = [sim.world.create_message(channel, sim.world.bot_user, f"m{i}") for i in range(230)]
    ids = [m["id"] for m in posted]
    session = driver.session(account.channel)
    assert session is not None

    after = await session.fetch_history(ids[9])
    assert [m["id"] for m in after] == ids[10:]
    assert after[0]["content"] == "m10" and after[0]["channel_id"] == account.channel

    assert [m["id"] for m in await session.fetch_history(ids[9], limit=150)] == ids[10:160]
    assert [m["id"] for m in await session.fetch_history(None, limit=120)] == ids[-120:]
    assert await session.fetch_history(ids[-1]) == []


async def test_401_on_interactions_takes_the_account_out_and_back(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver]
) -> None:
    driver, [account] = await _ready_driver(sim, make_driver)
    history: list[tuple[SessionState, str | None]] = []
    driver.add_status_listener(lambda ch, st: history.append((st.state, st.reason)))
    sim.faults.rest_error(401)
    with pytest.raises(InteractionRejected) as info:
        await driver.submit(make_job(account), account)
    assert info.value.status == 401
    await wait_until(lambda: (SessionState.READY, None) in history, what="ready again after the backoff")
    assert (SessionState.ERROR, "Discord rejected the token (401)") in history
    await driver.submit(make_job(account), account)
