"""A local replyUrl receiver: the downstream webhook, for the demo, tests and benchmarks.

It records every POST: ``calls`` holds ``(headers, body)`` pairs and ``arrived_at`` the
``time.perf_counter()`` of each. What it answers is up to ``respond``: by default 200
``{"ok": true}``; tests and the soak pass their own to fail, hang or count.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

Call = tuple[dict[str, str], bytes]
Responder = Callable[[dict[str, str], bytes], Awaitable[web.StreamResponse]]


async def _ok(headers: dict[str, str], body: bytes) -> web.StreamResponse:
    return web.json_response({"ok": True})


class WebhookReceiver:
    def __init__(self, respond: Responder = _ok, *, host: str = "127.0.0.1", path: str = "/hook") -> None:
        self.respond = respond
        self.host = host
        self.path = path
        self.calls: list[Call] = []
        self.arrived_at: list[float] = []
        self.url = ""
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(self.path, self._hook)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{self.host}:{port}{self.path}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = dict(request.headers)
        self.arrived_at.append(time.perf_counter())
        self.calls.append((headers, body))
        async with self._arrived:
            self._arrived.notify_all()
        return await self.respond(headers, body)

    async def wait_for(self, count: int, timeout: float = 20) -> list[Call]:
        """Wait until ``count`` POSTs have arrived; raises AssertionError after ``timeout``."""
        try:
            async with self._arrived:
                await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.calls) >= count), timeout)
        except TimeoutError:
            raise AssertionError(f"expected {count} callbacks, got {len(self.calls)}") from None
        return self.calls

    async def wait_for_job(self, jobid: str, timeout: float = 30) -> float:
        """When the first POST for ``jobid`` (by its X-Pixverse-Jobid header) arrived."""

        def found() -> float | None:
            for (headers, _), at in zip(self.calls, self.arrived_at, strict=True):
                if headers.get("X-Pixverse-Jobid") == jobid:
                    return at
            return None

        try:
            async with self._arrived:
                await asyncio.wait_for(self._arrived.wait_for(lambda: found() is not None), timeout)
        except TimeoutError:
            raise AssertionError(f"no callback for job {jobid}") from None
        at = found()
        assert at is not None
        return at
