"""Benchmark 3's child: N accounts in this fresh process, against a sim run by the parent.

``python -m bench.scale_child daemon|bare ACCOUNTS_JSON REST_BASE GATEWAY_BASE DB_PATH``

Prints one JSON line: RSS once the imports are done, RSS and peak RSS once all N sessions are
ready, and the seconds from the first login to the last READY. Then waits for stdin to close.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from types import SimpleNamespace
from typing import Any

from bench.common import emit, peak_rss_mb, quiet_logging, raise_fd_limit, rss_mb, wait_for_stdin_eof


async def bare(accounts: list[Any], rest: str, gateway: str) -> tuple[float, list[Any], float]:
    import discord

    from worker.discord.client import configure_endpoints, install_offline_headers

    configure_endpoints(rest, gateway)
    install_offline_headers()
    gc.collect()
    base = rss_mb()
    started = time.perf_counter()
    clients = []
    tasks = []
    ready = 0
    all_ready = asyncio.Event()

    async def one(acct: Any) -> None:
        nonlocal ready
        client = discord.Client(
            chunk_guilds_at_startup=False,
            max_messages=None,
            member_cache_flags=discord.MemberCacheFlags.none(),
        )
        clients.append(client)

        async def on_ready() -> None:
            nonlocal ready
            ready += 1
            if ready == len(accounts):
                all_ready.set()

        client.event(on_ready)
        await client.login(acct.token)
        await client.connect(reconnect=True)

    tasks = [asyncio.create_task(one(a)) for a in accounts]
    await asyncio.wait_for(all_ready.wait(), 600)
    took = time.perf_counter() - started
    return base, [clients, tasks], took


async def daemon(accounts: list[Any], rest: str, gateway: str, db_path: str) -> tuple[float, list[Any], float]:
    from bench.common import daemon_config
    from worker.daemon import Daemon

    config = daemon_config(
        db_url=f"sqlite+aiosqlite:///{db_path}", accounts=accounts, rest_base=rest, gateway_base=gateway
    )
    gc.collect()
    base = rss_mb()
    started = time.perf_counter()
    d = Daemon(config)
    await d.start()
    assert await d.driver.wait_ready(timeout=600), "not every account became ready"
    took = time.perf_counter() - started
    return base, [d], took


async def main() -> None:
    kind, accounts_json, rest, gateway, db_path = sys.argv[1:6]
    raise_fd_limit()
    quiet_logging()
    # Import what the kind needs before the baseline reading: the fixed cost of the imports is
    # reported apart from the cost of the sessions.
    if kind == "daemon":
        import worker.daemon
    else:
        import discord  # noqa: F401

        import worker.discord.client  # noqa: F401
    imported = rss_mb()
    with open(accounts_json) as f:  # noqa: ASYNC230 - before any load
        accounts = [SimpleNamespace(**a) for a in json.load(f)]
    if kind == "daemon":
        base, keep, took = await daemon(accounts, rest, gateway, db_path)
    else:
        base, keep, took = await bare(accounts, rest, gateway)
    await asyncio.sleep(0.5)  # let the post-READY work (command prefetch, replay) finish
    gc.collect()
    emit({"imported_mb": imported, "base_mb": base, "ready_mb": rss_mb(), "peak_mb": peak_rss_mb(), "seconds": took})
    await wait_for_stdin_eof()
    # Tearing down hundreds of sessions is not what is measured: leave at once.
    sys.stdout.flush()
    os._exit(0)
    del keep


if __name__ == "__main__":
    asyncio.run(main())
