"""The out-of-process controls (``/_sim``) and the standalone CLI."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import yaml

from worker.sim import SimDiscord
from worker.sim.cli import build_parser, config_snippet

from .conftest import TIMEOUT, Connect
from .test_create import create, has_result


async def test_admin_state_accounts_settings_and_faults(sim: SimDiscord, connect: Connect) -> None:
    async with aiohttp.ClientSession(base_url=sim.base_url) as http:
        async with http.post("/_sim/accounts", json={"count": 2}) as resp:
            accounts = await resp.json()
        assert len(accounts) == 2
        async with http.patch("/_sim/bot", json={"throttle_limit": 2, "result_delay": 0.05}) as resp:
            assert (await resp.json())["throttle_limit"] == 2
        assert sim.bot.settings.throttle_limit == 2

        acct = sim.accounts[-1]
        conn = await connect(acct)
        async with http.post(
            "/_sim/faults", json={"action": "reconnect", "user_id": str(acct.user_id)}
        ) as resp:
            assert (await resp.json()) == {"closed": 1}
        await asyncio.wait_for(conn.resumed.wait(), TIMEOUT)

        async with http.post("/_sim/faults", json={"action": "nonsense"}) as resp:
            assert resp.status == 400

        await create(conn)
        await conn.wait_raw(has_result)
        async with http.get(f"/_sim/messages/{acct.channel_id}") as resp:
            assert len(await resp.json()) == 2
        async with http.get("/_sim/state") as resp:
            state = await resp.json()
        assert state["rest_base"] == sim.rest_base
        assert state["events"]["interactions_accepted"] == 1


async def test_admin_restart_keeps_port_and_world(sim: SimDiscord, connect: Connect) -> None:
    conn = await connect()
    async with aiohttp.ClientSession() as http, http.post(f"{sim.base_url}/_sim/restart") as resp:
        assert resp.status == 200
    await asyncio.wait_for(conn.resumed.wait(), TIMEOUT)
    assert (await create(conn)).successful


async def test_rest_json_is_exactly_application_json(sim: SimDiscord) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{sim.rest_base}/users/@me") as resp:
        assert resp.status == 401
        assert resp.headers["Content-Type"] == "application/json"
        assert await resp.json() == {"message": "401: Unauthorized", "code": 0}


async def test_cli_prints_a_config_snippet() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "worker.sim.cli",
        "--accounts",
        "2",
        "--log-level",
        "WARNING",
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        lines = [await asyncio.wait_for(proc.stdout.readline(), TIMEOUT) for _ in range(12)]
    finally:
        proc.terminate()
        await proc.wait()
    config = yaml.safe_load(b"".join(lines))
    assert config["discord"]["rest_base"].endswith("/api/v9")
    assert len(config["accounts"]) == 2
    assert config["accounts"][0]["maxJobs"] == 2
    assert isinstance(config["accounts"][0]["server"], str)


def test_config_snippet_shape() -> None:
    sim = SimDiscord(port=5555)
    accts = sim.add_accounts(1)
    snippet = yaml.safe_load(config_snippet(sim, accts, 3))
    assert snippet["discord"] == {
        "rest_base": "http://127.0.0.1:5555/api/v9",
        "gateway_base": "ws://127.0.0.1:5555/",
    }
    assert snippet["accounts"][0]["channel"] == str(accts[0].channel_id)
    assert build_parser().parse_args([]).accounts == 2
