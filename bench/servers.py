"""Servers the benchmarks run in child processes (so the load generator does not share their GIL).

``python -m bench.servers daemon DB_PATH``  the daemon (no accounts) on a prepared database
``python -m bench.servers fixed BODY_PATH``  a bare aiohttp handler answering fixed JSON bytes
``python -m bench.servers receiver``         a webhook receiver that counts POSTs (GET /count),
                                             plus a hanging one on 127.0.0.2 (never answers)

Each prints ``{"port": ...}`` (and ``"hang_port"``) once listening and serves until stdin closes.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from aiohttp import web

from bench.common import daemon_config, emit, quiet_logging, raise_fd_limit, wait_for_stdin_eof


async def _site(app: web.Application, host: str = "127.0.0.1") -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def serve_daemon(db_path: str) -> None:
    from worker.daemon import Daemon

    daemon = Daemon(daemon_config(db_url=f"sqlite+aiosqlite:///{db_path}"))
    await daemon.start()
    emit({"port": daemon.port})
    await wait_for_stdin_eof()
    await daemon.stop()


async def serve_fixed(body_path: str) -> None:
    with open(body_path, "rb") as f:  # noqa: ASYNC230 - before any load
        body = f.read()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/v1/pixverse/jobs/", handler)
    runner, port = await _site(app)
    emit({"port": port})
    await wait_for_stdin_eof()
    await runner.cleanup()


async def serve_receiver() -> None:
    count = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal count
        await request.read()
        count += 1
        return web.Response(status=204)

    async def get_count(request: web.Request) -> web.Response:
        return web.json_response({"count": count})

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/count", get_count)
    runner, port = await _site(app)
    hang_app = web.Application()
    hang_app.router.add_post("/hook", hang)
    hang_runner, hang_port = await _site(hang_app, "127.0.0.2")
    emit({"port": port, "hang_port": hang_port})
    await wait_for_stdin_eof()
    # Hanging handlers would hold the cleanup: just leave.
    del runner, hang_runner
    sys.stdout.flush()
    os._exit(0)


def main(argv: list[str]) -> None:
    raise_fd_limit()
    quiet_logging()
    kind = argv[0]
    coro: Any
    if kind == "daemon":
        coro = serve_daemon(argv[1])
    elif kind == "fixed":
        coro = serve_fixed(argv[1])
    elif kind == "receiver":
        coro = serve_receiver()
    else:
        raise SystemExit(f"unknown server {kind}")
    asyncio.run(coro)


if __name__ == "__main__":
    main(sys.argv[1:])
