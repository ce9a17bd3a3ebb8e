"""Session lifecycle against the sim: ready, errors with backoff, reconnects, account changes."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable

import pytest

from worker.discord.driver import DiscordDriver
from worker.driver import AccountView, SessionState
from worker.metrics import Metrics
from worker.sim.server import SimDiscord

from .conftest import RecordingSink, view, wait_until


def _gauge(metrics: Metrics, state: str) -> float:
    value = metrics.registry.get_sample_value("pixverse_sessions", {"state": state})
    return value or 0.0


async def test_sessions_reach_ready_and_stop(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver], sink: RecordingSink, metrics: Metrics
) -> None:
    accts = sim.add_accounts(3)
    accounts = [view(a) for a in accts]
    driver = make_driver()
    await driver.start(accounts)
    assert await driver.wait_ready(timeout=20)

    statuses = driver.statuses()
    assert {c: s.state for c, s in statuses.items()} == {a.channel: SessionState.READY for a in accounts}
    for acct in accts:
        status = driver.status(str(acct.channel_id))
        assert status is not None and status.available and status.user_id == str(acct.user_id)
    await wait_until(lambda: len(sink.of("ready")) == 3, what="on_ready for every account")
    assert {(s.channel, s.user_id) for s in sink.of("ready")} == {
        (str(a.channel_id), str(a.user_id)) for a in accts
    }
    assert _gauge(metrics, "ready") == 3

    await driver.stop()
    await driver.stop()  # idempotent
    assert driver.statuses() == {}
    assert not sim.hub.connections or all(c.closed for c in sim.hub.connections)
    assert _gauge(metrics, "ready") == 0


async def test_disabled_account_gets_no_session(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver]
) -> None:
    a, b = sim.add_accounts(2)
    driver = make_driver()
    await driver.start([view(a), view(b, enabled=False)])
    assert await driver.wait_ready([str(a.channel_id)], timeout=20)
    status = driver.status(str(b.channel_id))
    assert status is not None and status.state is SessionState.DISABLED
    assert sim.events.identifies == 1


async def test_bad_token_errors_and_is_retried_with_backoff(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = sim.add_account("good")
    bad = AccountView(
        channel="123456789012345678",
        server=str(good.guild_id),
        token="MTIzNDU2.bad-token.c2VjcmV0c2VjcmV0c2VjcmV0",
        max_jobs=10,
    )
    driver = make_driver()
    await driver.start([view(good), bad])
    assert await driver.wait_ready([str(good.channel_id)], timeout=20)

    await wait_until(
        lambda: (s := driver.status(bad.channel)) is not None and s.state is SessionState.ERROR,
        what="bad account in error",
    )
    status = driver.status(bad.channel)
    assert status is not None
    assert status.reason == "Discord rejected the token (401)"
    assert not status.available

    # Retried, not abandoned and not hot-looping: several attempts, each a fresh login.
    session = driver.session(bad.channel)
    assert session is not None
    await wait_until(lambda: session.attempts >= 3, what="retries of the bad account")
    # Each attempt is a login the sim saw (the good account logged in once).
    await wait_until(
        lambda: sim.events.rest_requests["GET /users/@me"] >= 1 + 3, what="logins seen by the sim"
    )
    # The good account never noticed.
    good_status = driver.status(str(good.channel_id))
    assert good_status is not None and good_status.state is SessionState.READY
    assert sim.events.identifies == 1
    assert bad.token not in caplog.text


async def test_revoked_token_closes_4004_then_login_fails(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver]
) -> None:
    acct = sim.add_account()
    account = view(acct)
    driver = make_driver()
    reasons: list[str | None] = []
    driver.add_status_listener(
        lambda ch, st: reasons.append(st.reason) if st.state is SessionState.ERROR else None
    )
    await driver.start([account])
    assert await driver.wait_ready(timeout=20)

    await sim.faults.revoke_token(acct.token)
    await wait_until(
        lambda: "Discord rejected the token (401)" in reasons, what="login refused after revocation"
    )
    assert reasons[0] == "gateway closed with 4004: authentication failed"


async def test_reconnects_resume_or_reidentify(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver], sink: RecordingSink
) -> None:
    acct = sim.add_account()
    channel = str(acct.channel_id)
    driver = make_driver()
    history: list[SessionState] = []
    driver.add_status_listener(lambda ch, st: history.append(st.state))
    await driver.start([view(acct)])
    assert await driver.wait_ready(timeout=20)
    await wait_until(lambda: len(sink.of("ready")) == 1, what="first on_ready")
    session = driver.session(channel)
    assert session is not None
    client = session.client

    async def expect_reconnect(fault: str) -> None:
        history.clear()
        resumes = sim.events.resumes
        if fault == "op7":
            await sim.faults.reconnect(acct.user_id)
        elif fault == "4000":
            await sim.faults.close_sessions(acct.user_id, code=4000)
        else:
            await sim.faults.drop_connections(acct.user_id)
        await wait_until(lambda: SessionState.READY in history, seconds=30, what=f"ready again after {fault}")
        assert history[0] is SessionState.RECONNECTING, (fault, history)
        assert sim.events.resumes == resumes + 1, fault

    for fault in ("op7", "4000", "drop"):
        await expect_reconnect(fault)
    # RESUMEs replay missed events: no new READY, no reconcile.
    assert len(sink.of("ready")) == 1
    assert session.client is client  # the library reconnected the same client

    history.clear()
    await sim.faults.invalidate_sessions(acct.user_id)
    await wait_until(lambda: len(sink.of("ready")) == 2, seconds=30, what="on_ready after op 9")
    assert SessionState.RECONNECTING in history
    status = driver.status(channel)
    assert status is not None and status.state is SessionState.READY


async def test_apply_changes_touches_only_changed_sessions(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver]
) -> None:
    a, b = sim.add_accounts(2)
    va, vb = view(a), view(b)
    driver = make_driver()
    await driver.start([va, vb])
    assert await driver.wait_ready(timeout=20)
    session_b = driver.session(vb.channel)
    assert session_b is not None
    client_b = session_b.client
    conn_b = next(s.connection for s in sim.hub.sessions_of(b.user_id))

    def b_untouched() -> None:
        assert driver.session(vb.channel) is session_b
        assert session_b.client is client_b
        assert next(s.connection for s in sim.hub.sessions_of(b.user_id)) is conn_b
        status = driver.status(vb.channel)
        assert status is not None and status.state is SessionState.READY

    # Disable A.
    driver.apply_changes([view(a, enabled=False)], [])
    await wait_until(
        lambda: (s := driver.status(va.channel)) is not None and s.state is SessionState.DISABLED,
        what="A disabled",
    )
    b_untouched()
    with pytest.raises(Exception, match="not ready"):
        from .conftest import make_job

        await driver.submit(make_job(va), va)

    # Enable A again: a new session.
    driver.apply_changes([va], [])
    assert await driver.wait_ready([va.channel], timeout=20)
    b_untouched()

    # A non-credential change to B keeps its session.
    driver.apply_changes([view(b, max_jobs=3)], [])
    b_untouched()
    assert session_b.account.max_jobs == 3

    # Remove A.
    session_a = driver.session(va.channel)
    driver.apply_changes([], [va])
    assert driver.status(va.channel) is None
    await wait_until(
        lambda: session_a is not None and session_a.state is SessionState.STOPPED, what="A closed"
    )
    b_untouched()


async def test_adhoc_session_opens_on_demand_and_closes_when_idle(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver]
) -> None:
    acct = sim.add_account()
    account = view(acct, source="adhoc")
    driver = make_driver(adhoc_idle_seconds=0.4)
    await driver.start([])
    busy = {"value": True}
    driver.set_busy_checker(lambda channel: busy["value"])

    status = await driver.ensure_session(account)
    assert status.state is SessionState.READY
    # Busy (jobs in flight): kept well past the idle time.
    import asyncio

    await asyncio.sleep(1.0)
    assert driver.status(account.channel) is not None
    busy["value"] = False
    await wait_until(
        lambda: driver.status(account.channel) is None, seconds=10, what="idle ad-hoc session closed"
    )
    await wait_until(
        lambda: all(s.connection is None for s in sim.hub.sessions_of(acct.user_id)),
        what="gateway connection closed",
    )


async def test_ensure_session_reports_error_for_bad_credentials(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver]
) -> None:
    acct = sim.add_account()
    driver = make_driver()
    await driver.start([])
    status = await driver.ensure_session(view(acct, token="bad.token.value", source="adhoc"))
    assert status.state is SessionState.ERROR
    assert status.reason == "Discord rejected the token (401)"


async def test_identifies_are_staggered(
    sim: SimDiscord, make_driver: Callable[..., DiscordDriver], sink: RecordingSink
) -> None:
    accounts = [view(a) for a in sim.add_accounts(3)]
    driver = make_driver(identify_stagger_seconds=0.3)
    await driver.start(accounts)
    assert await driver.wait_ready(timeout=20)
    await wait_until(lambda: len(sink.of("ready")) == 3, what="three READYs")
    times = sorted(s.at for s in sink.of("ready"))
    assert all(b - a >= 0.25 for a, b in itertools.pairwise(times))
