"""Operating the daemon: signals, hot reload, health, logs — on the real process."""

from __future__ import annotations

import asyncio
import json
import signal

from worker.sim import SimDiscord

from .conftest import API_TOKEN, DaemonProcess, account_entry


async def test_sigterm_with_a_job_in_flight_exits_0_and_the_job_resumes(
    daemon: DaemonProcess, sim: SimDiscord
) -> None:
    [account] = sim.world.add_accounts(1)
    sim.bot.settings.result_delay = 2.0
    daemon.write_config([account_entry(account)])
    await daemon.start()
    await daemon.wait_ready()
    status, body = await daemon.create(prompt="in flight at shutdown")
    assert status == 200 and body["status"] == "started"

    daemon.signal(signal.SIGTERM)
    assert await daemon.wait_exit() == 0
    logs = daemon.logs()
    assert "SIGTERM received" in logs
    assert "1 job(s) still in flight; they are resumed at the next start" in logs

    # The bot finishes while the daemon is down; the next start picks the result up.
    await asyncio.sleep(2.5)
    await daemon.start()
    job = await daemon.wait_job(body["jobid"], ("completed", "failed"))
    assert job["status"] == "completed" and len(job["attachments"]) == 4


async def test_sigterm_refuses_new_creates_and_lets_open_ones_finish(
    daemon: DaemonProcess, sim: SimDiscord
) -> None:
    [account] = sim.world.add_accounts(1)
    daemon.write_config([account_entry(account)], api={"shutdown_grace_seconds": 10})
    await daemon.start()
    await daemon.wait_ready()
    sim.bot.settings.ack_delay = 1.5
    open_create = asyncio.create_task(daemon.create(prompt="answered during shutdown"))
    await asyncio.sleep(0.4)
    daemon.signal(signal.SIGTERM)
    await daemon.wait_log("intake closed")
    status, body = await daemon.create(prompt="too late")
    assert (status, body) == (503, {"error": "Service is shutting down", "code": 503})
    status, body = await open_create
    assert status == 200 and body["status"] == "started"
    assert await daemon.wait_exit() == 0


async def test_second_signal_exits_at_once(daemon: DaemonProcess, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    daemon.write_config([account_entry(account)], api={"shutdown_grace_seconds": 30})
    await daemon.start()
    await daemon.wait_ready()
    # Hold a request open so the first SIGTERM has something to wait for.
    sim.bot.settings.ack_delay = 20
    pending = asyncio.create_task(daemon.create(prompt="slow ack"))
    await asyncio.sleep(0.5)
    daemon.signal(signal.SIGTERM)
    await daemon.wait_log("SIGTERM received")
    daemon.signal(signal.SIGTERM)
    assert await daemon.wait_exit(timeout=5) == 1
    assert "second SIGTERM: exiting at once" in daemon.logs()
    pending.cancel()


async def test_sighup_adds_and_removes_accounts_while_another_job_completes(
    daemon: DaemonProcess, sim: SimDiscord
) -> None:
    keep, remove, add = sim.world.add_accounts(3)
    sim.bot.settings.result_delay = 1.5
    daemon.write_config([account_entry(keep), account_entry(remove)])
    await daemon.start()
    await daemon.wait_ready()
    identifies_before = sim.events.identifies
    status, body = await daemon.create(prompt="survives the reload", channel=str(keep.channel_id))
    assert status == 200

    daemon.write_config([account_entry(keep), account_entry(add)])
    daemon.signal(signal.SIGHUP)
    await daemon.wait_log("config reloaded: 1 account(s) added or changed, 1 removed")

    for _ in range(100):
        _, accounts = await daemon.get("account")
        if accounts.get(str(add.channel_id), {}).get("state") == "ready":
            break
        await asyncio.sleep(0.05)
    assert set(accounts) == {str(keep.channel_id), str(add.channel_id)}
    assert accounts[str(add.channel_id)]["state"] == "ready"
    # Only the new account identified: the kept account's session was not touched.
    assert sim.events.identifies == identifies_before + 1

    job = await daemon.wait_job(body["jobid"], ("completed", "failed"))
    assert job["status"] == "completed"
    status, _ = await daemon.create(prompt="x", channel=str(remove.channel_id))
    assert status == 404


async def test_broken_yaml_is_reported_and_the_running_config_kept(
    daemon: DaemonProcess, sim: SimDiscord
) -> None:
    [account] = sim.world.add_accounts(1)
    daemon.write_config([account_entry(account)])
    await daemon.start()
    await daemon.wait_ready()
    daemon.write_text("accounts:\n  - discord: abc\n    maxJobs: 99\n")
    daemon.signal(signal.SIGHUP)
    await daemon.wait_log("config reload failed, keeping the running config")
    assert "accounts[0].maxJobs: must be between 1 and 10" in daemon.logs()
    _, accounts = await daemon.get("account")
    assert list(accounts) == [str(account.channel_id)]
    status, body = await daemon.create(prompt="still serving")
    assert status == 200, body


async def test_readyz_follows_the_sessions_and_file_edits_reload(daemon: DaemonProcess, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    daemon.write_config([account_entry(account, enabled=False)])
    await daemon.start()
    status, body = await daemon.get_root("/readyz")
    assert status == 503 and "no Discord account is ready" in body["problems"]
    assert (await daemon.get_root("/healthz"))[0] == 200

    # No signal: saving the file is enough.
    daemon.write_config([account_entry(account, enabled=True)])
    await daemon.wait_ready()
    status, body = await daemon.get_root("/readyz")
    assert status == 200 and body["readyAccounts"] == 1


async def test_json_logs_one_line_per_transition_and_no_secret_anywhere(
    daemon: DaemonProcess, sim: SimDiscord
) -> None:
    accounts = sim.world.add_accounts(2)
    daemon.json_logs = True
    daemon.write_config(
        [account_entry(a) for a in accounts],
        callbacks={"signing_secret": "signing-secret-abcdef-123456"},
        logging={"level": "DEBUG"},
    )
    await daemon.start()
    await daemon.wait_ready()
    status, body = await daemon.create(prompt="logged", replyUrl="http://127.0.0.1:9/unreachable")
    assert status == 200
    await daemon.wait_job(body["jobid"], ("completed",))
    await daemon.create(prompt="nsfw one")  # moderated
    await daemon.get("account")
    await daemon.get_root("/metrics")
    daemon.signal(signal.SIGTERM)
    assert await daemon.wait_exit() == 0

    lines = [line for line in daemon.logs().splitlines() if line.strip()]
    def parsed(line: str) -> dict[str, str] | None:
        try:
            return json.loads(line)
        except ValueError:
            return None

    assert [line for line in lines if parsed(line) is None] == []  # every line is JSON
    records = [json.loads(line) for line in lines]
    transitions = [r["msg"] for r in records if r["msg"].startswith(f"job {body['jobid']} ")]
    assert transitions == [
        f"job {body['jobid']} created account={body['channel']}",
        f"job {body['jobid']} created -> started account={body['channel']}",
        f"job {body['jobid']} started -> completed account={body['channel']}",
    ]
    text = daemon.logs()
    for secret in [API_TOKEN, "signing-secret-abcdef-123456", *(a.token for a in accounts)]:
        assert secret not in text


async def test_metrics_move_with_an_end_to_end_job(daemon: DaemonProcess, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    daemon.write_config([account_entry(account)])
    await daemon.start()
    await daemon.wait_ready()

    def value(metrics: str, name: str) -> float:
        for line in metrics.splitlines():
            if not line.startswith("#") and line.rsplit(" ", 1)[0] == name:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    _, before = await daemon.get_root("/metrics")
    _, body = await daemon.create(prompt="counted")
    await daemon.wait_job(body["jobid"], ("completed",))
    _, after = await daemon.get_root("/metrics")
    assert value(after, 'pixverse_job_transitions_total{status="completed"}') == value(
        before, 'pixverse_job_transitions_total{status="completed"}'
    ) + 1
    assert value(after, "pixverse_create_latency_seconds_count") == value(
        before, "pixverse_create_latency_seconds_count"
    ) + 1
    assert value(after, 'pixverse_jobs{status="completed"}') == 1
    assert value(after, 'pixverse_sessions{state="ready"}') == 1
    assert value(after, "pixverse_bot_reply_latency_seconds_count") >= 1
