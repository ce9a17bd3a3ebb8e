"""The replyUrl receiver is down for a long stretch (connection refused, then 503s), then up:
the final status is delivered exactly once, with one delivery id, and every attempt is counted."""

from __future__ import annotations

import asyncio
import json

from worker.sim import SimDiscord

from .conftest import FlakyReceiver, Harness, wait_until


async def test_receiver_down_then_up_delivers_exactly_once(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    receiver = FlakyReceiver()  # not listening yet: connection refused
    await harness.start(
        [account], callbacks={"initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.2, "timeout_seconds": 2}
    )
    # The outbox's periodic scan is pushed out of the test's reach: every retry below must go out
    # on its own backoff (<= 0.2 s), not ride on the scan.
    assert harness.daemon is not None
    harness.daemon.outbox._poll_interval = 3600.0
    try:
        status, body = await harness.create(prompt="a fox", replyUrl=receiver.url)
        assert status == 200, body
        jobid = body["jobid"]
        job = await harness.wait_job(jobid)
        assert job["status"] == "completed"

        async def delivery() -> dict | None:
            _, listed = await harness.get("callbacks", state="all")
            mine = [d for d in listed["deliveries"] if d["jobid"] == jobid]
            return mine[0] if mine else None

        async def refused_a_few_times() -> dict | None:
            d = await delivery()
            return d if d and d["attempts"] >= 3 else None

        d = await wait_until(refused_a_few_times, timeout=20, what="3 refused attempts")
        assert d["state"] == "pending" and d["lastStatus"] is None and d["lastError"]
        _, failed = await harness.get("callbacks")  # default: failed ones
        assert failed["deliveries"] == []  # down is not "failed for good"

        # Up, but answering 503 four times before it accepts.
        receiver.script = [503, 503, 503, 503]
        await receiver.start()
        await receiver.wait_delivered(1, timeout=20)
        await asyncio.sleep(1.0)  # a second delivery would have come by now

        assert [s for _, _, s in receiver.calls] == [503, 503, 503, 503, 200]
        ids = {h["X-Pixverse-Delivery"] for h, _, _ in receiver.calls}
        assert ids == {d["deliveryId"]}
        [(_headers, payload)] = receiver.delivered
        assert payload["jobid"] == jobid and payload["status"] == "completed"
        assert payload["attachments"] == job["attachments"]

        final = await delivery()
        assert final is not None
        assert final["state"] == "delivered" and final["lastStatus"] == 200 and final["deliveredAt"]
        # Refusals are counted too (one more may land between reading d and the receiver starting).
        assert final["attempts"] >= d["attempts"] + len(receiver.calls)
        job = await harness.job(jobid)
        assert job["callback"]["state"] == "delivered"
        assert job["callback"]["attempts"] == final["attempts"]
    finally:
        await receiver.stop()


async def test_receiver_hanging_then_fine(harness: Harness, sim: SimDiscord) -> None:
    """A receiver that never answers costs one timed-out attempt each, then delivery happens."""
    [account] = sim.world.add_accounts(1)
    receiver = FlakyReceiver()
    hang = asyncio.Event()
    hung = 0

    original = receiver._hook

    async def hook(request):  # type: ignore[no-untyped-def]
        nonlocal hung
        if hung < 2:
            hung += 1
            await hang.wait()
        return await original(request)

    receiver._hook = hook  # type: ignore[method-assign]
    await receiver.start()
    await harness.start(
        [account], callbacks={"initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.2, "timeout_seconds": 0.5}
    )
    try:
        status, body = await harness.create(prompt="a fox", replyUrl=receiver.url)
        assert status == 200, body
        await receiver.wait_delivered(1, timeout=20)
        await asyncio.sleep(0.5)
        assert len(receiver.delivered) == 1
        _, listed = await harness.get("callbacks", state="all")
        [d] = listed["deliveries"]
        assert d["state"] == "delivered" and d["attempts"] == 3
        assert json.loads(json.dumps(receiver.delivered[0][1]))["jobid"] == body["jobid"]
    finally:
        hang.set()
        await receiver.stop()
