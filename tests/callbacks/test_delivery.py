"""Delivery behaviour against real receivers: success, retries, Retry-After, outages, restarts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket

import pytest
from aiohttp import web

from tests.callbacks.conftest import Env, Receiver, eventually, respond
from worker import __version__
from worker.callbacks.signing import verify
from worker.jobs.status import JobStatus


async def test_delivered_once_on_200(env: Env) -> None:
    receiver = await env.receiver(respond(200))
    outbox = await env.outbox()
    jobid = await env.job(receiver.url, reply_ref="ref-1")

    d = await env.wait_state(jobid, "delivered")
    await outbox.stop()

    assert len(receiver.arrivals) == 1
    arrival = receiver.arrivals[0]
    assert arrival.body == d.body.encode("utf-8")
    body = json.loads(arrival.body)
    assert body["jobid"] == jobid and body["status"] == "completed" and body["replyRef"] == "ref-1"
    assert arrival.headers["Content-Type"] == "application/json"
    assert arrival.headers["X-Pixverse-Delivery"] == d.delivery_id
    assert arrival.headers["X-Pixverse-Event"] == "completed"
    assert arrival.headers["X-Pixverse-Jobid"] == jobid
    assert arrival.headers["User-Agent"] == f"pixverse-worker/{__version__}"
    assert "X-Pixverse-Signature" not in arrival.headers
    assert d.attempts == 1 and d.last_status == 200 and d.last_error is None and d.delivered_at is not None
    attempts = await env.attempts(d.delivery_id)
    assert [(a.status, a.error) for a in attempts] == [(200, None)]
    assert attempts[0].duration_ms is not None


async def test_retried_through_500s_with_the_same_delivery_id(env: Env) -> None:
    receiver = await env.receiver(respond(500, 502, 500, 200))
    await env.outbox()
    jobid = await env.job(receiver.url)

    d = await env.wait_state(jobid, "delivered")

    assert len(receiver.arrivals) == 4
    assert {a.headers["X-Pixverse-Delivery"] for a in receiver.arrivals} == {d.delivery_id}
    assert {a.body for a in receiver.arrivals} == {d.body.encode("utf-8")}
    assert d.attempts == 4
    assert [a.status for a in await env.attempts(d.delivery_id)] == [500, 502, 500, 200]


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_respected(env: Env, status: int) -> None:
    receiver = await env.receiver(respond(status, 200, headers={"Retry-After": "1"}))
    await env.outbox()
    jobid = await env.job(receiver.url)

    await env.wait_state(jobid, "delivered")

    first, second = receiver.arrivals
    assert second.at - first.at >= 1.0


async def test_408_is_retried_and_other_4xx_are_final(env: Env) -> None:
    retried = await env.receiver(respond(408, 200))
    refused = await env.receiver(respond(404))
    gone = await env.receiver(respond(410))
    outbox = await env.outbox()

    ok_job = await env.job(retried.url)
    refused_job = await env.job(refused.url)
    gone_job = await env.job(gone.url)

    await env.wait_state(ok_job, "delivered")
    d404 = await env.wait_state(refused_job, "failed")
    d410 = await env.wait_state(gone_job, "failed")
    await outbox.stop()

    assert len(retried.arrivals) == 2
    assert len(refused.arrivals) == 1 and len(gone.arrivals) == 1
    assert d404.attempts == 1 and d404.last_status == 404 and d404.last_error.startswith("HTTP 404")
    assert d410.last_status == 410


async def test_receiver_down_then_up_gets_the_callback(env: Env) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    await env.outbox()
    jobid = await env.job(url)

    async def failed_twice() -> bool:
        d = await env.delivery(jobid)
        return d.attempts >= 2

    await eventually(failed_twice)
    d = await env.delivery(jobid)
    assert d.state == "pending" and d.last_status is None and d.last_error

    receiver = Receiver(port=port)
    env.receivers.append(receiver)
    await receiver.start()

    d = await env.wait_state(jobid, "delivered")
    assert len(receiver.arrivals) == 1
    assert receiver.arrivals[0].headers["X-Pixverse-Delivery"] == d.delivery_id


async def test_pending_at_shutdown_is_delivered_after_restart(env: Env) -> None:
    receiver = await env.receiver(respond(200))
    first = await env.outbox()
    await first.stop()
    jobid = await env.job(receiver.url)
    assert (await env.delivery(jobid)).state == "pending"

    await env.outbox()

    d = await env.wait_state(jobid, "delivered")
    assert len(receiver.arrivals) == 1 and d.attempts == 1


async def test_in_flight_at_shutdown_stays_pending_and_goes_out_after_restart(env: Env) -> None:
    release = asyncio.Event()

    async def hang_first(request: web.Request, n: int) -> web.StreamResponse:
        if n == 0:
            await release.wait()
        return web.Response(text="ok")

    receiver = await env.receiver(hang_first)
    first = await env.outbox(timeout_seconds=60)
    jobid = await env.job(receiver.url)
    await asyncio.wait_for(receiver.arrived.wait(), 15)

    await first.stop(grace=0.05)
    await first.stop()  # safe twice

    d = await env.delivery(jobid)
    assert d.state == "pending" and d.attempts == 0
    await env.outbox()
    d = await env.wait_state(jobid, "delivered")
    release.set()
    assert len(receiver.arrivals) == 2
    assert {a.headers["X-Pixverse-Delivery"] for a in receiver.arrivals} == {d.delivery_id}


async def test_signature_verifies_independently(env: Env) -> None:
    secret = "whsec-test-0123456789"
    receiver = await env.receiver(respond(500, 200))
    await env.outbox(signing_secret=secret)
    jobid = await env.job(receiver.url)

    await env.wait_state(jobid, "delivered")

    for arrival in receiver.arrivals:
        ts = arrival.headers["X-Pixverse-Timestamp"]
        expected = hmac.new(secret.encode(), ts.encode() + b"." + arrival.body, hashlib.sha256).hexdigest()
        assert arrival.headers["X-Pixverse-Signature"] == f"v1={expected}"
        assert verify(secret, ts, arrival.headers["X-Pixverse-Signature"], arrival.body)
        assert not verify("other-secret", ts, arrival.headers["X-Pixverse-Signature"], arrival.body)
        assert not verify(secret, ts, arrival.headers["X-Pixverse-Signature"], arrival.body + b" ")


async def test_gives_up_after_max_age(env: Env) -> None:
    receiver = await env.receiver(respond(500))
    await env.outbox(max_age_seconds=0.3)
    jobid = await env.job(receiver.url)

    d = await env.wait_state(jobid, "failed")

    assert d.last_error.startswith(f"gave up after {d.attempts} attempts over ")
    assert d.last_status == 500
    assert len(receiver.arrivals) == d.attempts


async def test_progress_is_never_sent_after_the_final(env: Env) -> None:
    env.store.progress_callbacks = True
    release = asyncio.Event()

    async def behaviour(request: web.Request, n: int) -> web.StreamResponse:
        if request.headers["X-Pixverse-Event"] == "progress":
            if n == 0:
                await release.wait()  # the first progress post is in flight when the job completes
            return web.Response(status=500)
        return web.Response(text="ok")

    receiver = await env.receiver(behaviour)
    await env.outbox()
    jobid = await env.job(receiver.url, final=None)
    await env.store.transition(jobid, JobStatus.PROGRESS, progress=10)
    await asyncio.wait_for(receiver.arrived.wait(), 15)
    await env.store.transition(jobid, JobStatus.PROGRESS, progress=50)
    await env.store.transition(jobid, JobStatus.COMPLETED)
    release.set()

    await env.wait_state(jobid, "delivered")
    await asyncio.sleep(0.3)  # room for a wrong extra post to show up

    events = [a.headers["X-Pixverse-Event"] for a in receiver.arrivals]
    assert events[-1] == "completed" and events.count("completed") == 1
    states = [d.state for d in await env.deliveries(jobid)]
    assert states == ["superseded", "superseded", "delivered"]


async def test_a_later_progress_supersedes_an_older_one(env: Env) -> None:
    env.store.progress_callbacks = True
    receiver = await env.receiver(respond(200))
    outbox = await env.outbox(start=False)
    jobid = await env.job(receiver.url, final=None)
    await env.store.transition(jobid, JobStatus.PROGRESS, progress=10)
    await env.store.transition(jobid, JobStatus.PROGRESS, progress=50)

    await outbox.start()
    await eventually(lambda: _states_settled(env, jobid))

    assert [d.state for d in await env.deliveries(jobid)] == ["superseded", "delivered"]
    assert [json.loads(a.body)["progress"] for a in receiver.arrivals] == [50]


async def _states_settled(env: Env, jobid: str) -> bool:
    return all(d.state != "pending" for d in await env.deliveries(jobid))
