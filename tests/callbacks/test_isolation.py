"""One slow, dead or misbehaving receiver must not hold back anyone else, nor crash the worker."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from tests.callbacks.conftest import Behaviour, Env, eventually, respond


def hanging(release: asyncio.Event) -> Behaviour:
    async def behaviour(request: web.Request, n: int) -> web.StreamResponse:
        await release.wait()
        return web.Response(text="late")

    return behaviour


async def test_hanging_host_does_not_hold_back_another_host_hot_path(env: Env) -> None:
    release = asyncio.Event()
    slow = await env.receiver(hanging(release), host="127.0.0.1")
    fast = await env.receiver(respond(200), host="127.0.0.2")
    await env.outbox(concurrency=2, per_host_concurrency=1, timeout_seconds=60)

    for _ in range(4):
        await env.job(slow.url)
    jobid = await env.job(fast.url)

    await env.wait_state(jobid, "delivered")
    assert len(fast.arrivals) == 1
    assert len(slow.arrivals) == 1  # its per-host share, still hanging
    release.set()


async def test_backlog_for_a_hanging_host_does_not_starve_others_on_scan(env: Env) -> None:
    release = asyncio.Event()
    slow = await env.receiver(hanging(release), host="127.0.0.1")
    fast = await env.receiver(respond(200), host="127.0.0.2")
    # Written while no outbox runs: the scan, not the hot path, finds them; the backlog comes first.
    outbox = await env.outbox(start=False, concurrency=3, per_host_concurrency=2, timeout_seconds=60)
    for _ in range(20):
        await env.job(slow.url)
    fast_jobs = [await env.job(fast.url) for _ in range(3)]

    await outbox.start()

    for jobid in fast_jobs:
        await env.wait_state(jobid, "delivered")
    assert len(slow.arrivals) == 2
    release.set()


async def test_misbehaving_receivers_cost_an_attempt_and_nothing_more(env: Env) -> None:
    async def raw_server(reply: bytes) -> tuple[asyncio.Server, str]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                await reader.read(65536)
                writer.write(reply)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        return server, f"http://127.0.0.1:{port}/hook"

    async def giant(request: web.Request, n: int) -> web.StreamResponse:
        response = web.StreamResponse(status=500)
        await response.prepare(request)
        # The outbox reads a few hundred bytes and hangs up: writing the rest fails, as it should.
        with contextlib.suppress(ConnectionError):
            for _ in range(64):
                await response.write(b"x" * 65536)
        return response

    async def redirect(request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": "/hook"})

    garbage, garbage_url = await raw_server(b"this is not HTTP at all\r\n\r\n")
    reset, reset_url = await raw_server(b"")
    big = await env.receiver(giant)
    loop = await env.receiver(redirect)
    good = await env.receiver(respond(200))
    await env.outbox(timeout_seconds=2)

    try:
        bad_jobs = [await env.job(url) for url in (garbage_url, reset_url, big.url, loop.url)]

        async def each_failed_twice() -> bool:
            return all(d.attempts >= 2 for d in [await env.delivery(j) for j in bad_jobs])

        await eventually(each_failed_twice)
        for jobid in bad_jobs:
            d = await env.delivery(jobid)
            assert d.state == "pending" and d.last_error
        assert "HTTP 500" in (await env.delivery(bad_jobs[2])).last_error
        redirected = await env.delivery(bad_jobs[3])
        assert redirected.last_status == 302 and "not followed" in redirected.last_error
        # A redirect is never followed: every arrival is a POST to the original path.
        assert len(loop.arrivals) >= 2

        jobid = await env.job(good.url)
        await env.wait_state(jobid, "delivered")
    finally:
        garbage.close()
        reset.close()


async def test_refused_private_target_is_a_permanent_failure(env: Env) -> None:
    receiver = await env.receiver(respond(200))
    await env.outbox(refuse_private_targets=True)
    jobid = await env.job(receiver.url)

    d = await env.wait_state(jobid, "failed")

    assert receiver.arrivals == []
    assert "127.0.0.1 is loopback" in d.last_error
    assert d.attempts == 1


async def test_invalid_stored_url_is_a_permanent_failure(env: Env) -> None:
    await env.outbox()
    jobid = await env.job("ftp://example.com/hook")

    d = await env.wait_state(jobid, "failed")

    assert "must use http or https" in d.last_error
