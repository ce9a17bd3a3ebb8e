"""A token revoked while its account has jobs in flight."""

from __future__ import annotations

import json

from worker.sim import SimDiscord

from .conftest import Harness, wait_until


async def test_revoked_token_mid_run_fails_its_jobs_and_others_carry_on(
    harness: Harness, sim: SimDiscord
) -> None:
    alive, doomed = sim.world.add_accounts(2)
    sim.bot.settings.result_delay = 20  # the doomed jobs are in flight when the token dies
    await harness.start([alive, doomed], max_jobs=3)
    doomed_jobs = []
    for i in range(2):
        status, body = await harness.create(
            prompt=f"doomed {i}", channel=str(doomed.channel_id), replyUrl=harness.receiver.url
        )
        assert status == 200 and body["status"] == "started", body
        doomed_jobs.append(body["jobid"])
    status, body = await harness.create(
        prompt="survivor in flight", channel=str(alive.channel_id), replyUrl=harness.receiver.url
    )
    assert status == 200, body
    survivor = body["jobid"]

    await sim.faults.revoke_token(doomed.token)

    # The account goes to error with a reason, the token never shown.
    async def errored() -> dict | None:
        _, accounts = await harness.get("account")
        state = accounts[str(doomed.channel_id)]
        return accounts if state["state"] == "error" else None

    accounts = await wait_until(errored, timeout=15, what="the revoked account to be in error")
    assert accounts[str(doomed.channel_id)]["error"]
    assert doomed.token not in json.dumps(accounts)
    assert accounts[str(alive.channel_id)]["state"] == "ready"

    # Its in-flight jobs fail clearly (not stuck until the job timeout), with their callbacks.
    for jobid in doomed_jobs:
        job = await harness.wait_job(jobid, timeout=15)
        assert job["status"] == "failed" and job["code"] == 503, job
        assert job["error"].startswith(f"Discord account {doomed.channel_id} is in error:")
        assert doomed.token not in json.dumps(job)

    # The other account carries on: its in-flight job and new ones complete.
    sim.bot.settings.result_delay = 0.3
    for i in range(2):
        status, body = await harness.create(prompt=f"still working {i}", replyUrl=harness.receiver.url)
        assert status == 200 and body["channel"] == str(alive.channel_id), body
        assert (await harness.wait_job(body["jobid"]))["status"] == "completed"
    status, body = await harness.create(prompt="x", channel=str(doomed.channel_id))
    assert status == 503 and "error" in body["error"]

    # Every final status reached the receiver: 2 failed + 2 completed so far.
    await harness.receiver.wait_for(4)
    by_job = {json.loads(raw)["jobid"]: json.loads(raw)["status"] for _, raw in harness.receiver.calls}
    assert all(by_job[j] == "failed" for j in doomed_jobs)
    assert survivor not in by_job or by_job[survivor] == "completed"
    _, job = await harness.get("jobs/", jobid=survivor)
    assert job["status"] in ("started", "completed")
