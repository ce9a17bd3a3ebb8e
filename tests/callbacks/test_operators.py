"""What operators see and do: the job's callback state, listing, redelivery by API and CLI."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.callbacks.conftest import Env, respond
from worker.api.middleware import make_middleware
from worker.callbacks.cli import register_cli
from worker.callbacks.routes import register_routes
from worker.jobs.status import JobStatus

TOKEN = "operator-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def parse_cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


async def run_cli(env: Env, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    args = parse_cli(*argv)
    # The handler is synchronous and runs its own event loop, as from the shell.
    code = await asyncio.to_thread(args.func, args, env.config())
    return code, capsys.readouterr().out


async def test_state_for_shows_the_latest_delivery(env: Env) -> None:
    receiver = await env.receiver(respond(503, 200))
    outbox = await env.outbox()
    assert await outbox.state_for("no-such-job") is None
    jobid = await env.job(receiver.url)

    d = await env.wait_state(jobid, "delivered")

    state = await outbox.state_for(jobid)
    assert state is not None
    assert state["deliveryId"] == d.delivery_id
    assert state["state"] == "delivered" and state["attempts"] == 2 and state["lastStatus"] == 200
    assert state["lastError"] is None and state["deliveredAt"].endswith("Z")


async def test_cli_redelivery_is_picked_up_by_the_running_outbox(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = [404]

    async def behaviour(request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=answers[-1])

    receiver = await env.receiver(behaviour)
    await env.outbox(poll_interval=0.2)
    jobid = await env.job(receiver.url)
    failed = await env.wait_state(jobid, "failed")

    code, out = await run_cli(env, capsys, "callbacks", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [d["deliveryId"] for d in listed] == [failed.delivery_id]
    assert listed[0]["lastStatus"] == 404 and listed[0]["state"] == "failed"

    code, out = await run_cli(env, capsys, "callbacks", "list")
    assert code == 0 and failed.delivery_id in out and "DELIVERY" in out

    answers.append(200)
    code, out = await run_cli(env, capsys, "callbacks", "redeliver", "--id", failed.delivery_id, "--json")
    assert code == 0 and json.loads(out) == {"redelivered": 1, "code": 200}

    d = await env.wait_state(jobid, "delivered")
    assert d.delivery_id == failed.delivery_id and d.attempts == 1
    assert [a.headers["X-Pixverse-Delivery"] for a in receiver.arrivals] == [d.delivery_id] * 2

    code, out = await run_cli(env, capsys, "callbacks", "redeliver", "--id", "nope")
    assert code == 1 and "Unable to locate delivery nope" in out


async def test_redeliver_all_failed_and_superseded_are_left_alone(env: Env) -> None:
    env.store.progress_callbacks = True
    refusing = await env.receiver(respond(400))
    outbox = await env.outbox(start=False)
    jobids = [await env.job(refusing.url) for _ in range(3)]
    progressing = await env.job(refusing.url, final=None)
    await env.store.transition(progressing, JobStatus.PROGRESS, progress=5)
    await env.store.transition(progressing, JobStatus.COMPLETED)
    superseded = (await env.deliveries(progressing))[0]
    assert superseded.state == "superseded"

    await outbox.start()
    for jobid in [*jobids, progressing]:
        await env.wait_state(jobid, "failed")
    assert len(await outbox.list_deliveries("failed")) == 4
    assert await outbox.redeliver(superseded.delivery_id) == 0

    await outbox.stop()
    assert await outbox.redeliver(all_failed=True) == 4
    assert await outbox.list_deliveries("failed") == []
    pending = await outbox.list_deliveries("pending")
    assert len(pending) == 4 and all(d["attempts"] == 0 for d in pending)
    assert len(await outbox.list_deliveries("all")) == 5
    with pytest.raises(ValueError):
        await outbox.redeliver()


@pytest.fixture
async def api(env: Env) -> Any:
    outbox = await env.outbox(start=False)
    app = web.Application(
        middlewares=[make_middleware(tokens=[TOKEN], max_body_bytes=65536, metrics=env.metrics)]
    )
    register_routes(app, outbox)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client, outbox
    finally:
        await client.close()


async def test_routes_list_and_redeliver(env: Env, api: Any) -> None:
    client, outbox = api
    refusing = await env.receiver(respond(422))
    jobid = await env.job(refusing.url)
    await outbox.start()
    failed = await env.wait_state(jobid, "failed")

    resp = await client.get("/v1/pixverse/callbacks", headers=AUTH)
    body = await resp.json()
    assert resp.status == 200 and body["code"] == 200
    assert [d["deliveryId"] for d in body["deliveries"]] == [failed.delivery_id]

    resp = await client.get("/v1/pixverse/callbacks?state=delivered", headers=AUTH)
    assert (await resp.json())["deliveries"] == []

    resp = await client.get("/v1/pixverse/callbacks?state=bogus", headers=AUTH)
    assert resp.status == 400 and "state bogus not supported" in (await resp.json())["error"]

    resp = await client.get("/v1/pixverse/callbacks")
    assert resp.status == 401

    resp = await client.post("/v1/pixverse/callbacks/redeliver", json={"deliveryId": "missing"}, headers=AUTH)
    assert resp.status == 404
    assert await resp.json() == {"error": "Unable to locate delivery missing", "code": 404}

    resp = await client.post("/v1/pixverse/callbacks/redeliver", data={"all": "true"}, headers=AUTH)
    assert await resp.json() == {"redelivered": 1, "code": 200}
    await env.wait_state(jobid, "failed")  # refused again, once more

    resp = await client.post(
        "/v1/pixverse/callbacks/redeliver", json={"deliveryId": failed.delivery_id}, headers=AUTH
    )
    assert await resp.json() == {"redelivered": 1, "code": 200}

    resp = await client.post("/v1/pixverse/callbacks/redeliver", json={}, headers=AUTH)
    assert resp.status == 400
