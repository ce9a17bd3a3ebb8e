"""The command line as scripts use it: exit codes and messages."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import yaml

from worker.sim import SimDiscord

from .conftest import account_entry

BIN = Path(sys.executable).with_name("pixverse-worker")


async def run(*args: str, cwd: Path | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        str(BIN), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=cwd
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return int(proc.returncode or 0), out.decode()


async def test_help_everywhere() -> None:
    for command in ([], ["run"], ["check"], ["migrate"], ["messages"], ["callbacks"], ["demo"]):
        code, out = await run(*command, "--help")
        assert code == 0, out
        assert "usage: pixverse-worker" in out


async def test_invalid_config_exits_2_with_the_key_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("accounts:\n  - discord: t\n    server: '1140860020586713128'\n    channel: x\n")
    code, out = await run("--config", str(config), "check")
    assert code == 2
    assert "accounts[0].channel: must be a Discord id" in out
    assert "Traceback" not in out
    code, out = await run("--config", str(tmp_path / "missing.yaml"), "run")
    assert code == 2 and "cannot read config file" in out


async def test_migrate_check_and_login_against_the_sim(tmp_path: Path, sim: SimDiscord) -> None:
    good, revoked = sim.world.add_accounts(2)
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "api": {"tokens": ["cli-token-123456"]},
                "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"},
                "discord": {"rest_base": sim.rest_base, "gateway_base": sim.gateway_base},
                "accounts": [account_entry(good), account_entry(revoked)],
            }
        )
    )
    code, out = await run("--config", str(config), "check")
    assert code == 0, out
    assert "head is" in out  # not migrated yet: check says so, and does not migrate
    code, out = await run("--config", str(config), "migrate")
    assert code == 0 and "database is at revision" in out
    code, out = await run("--config", str(config), "check")
    assert code == 0 and "schema up to date" in out

    sim.world.revoke_token(revoked.token)
    code, out = await run("--config", str(config), "check", "--login")
    assert code == 1, out
    assert f"account {good.channel_id}: login ok" in out
    assert f"account {revoked.channel_id}: login FAILED" in out
    assert good.token not in out and revoked.token not in out

    code, out = await run("--config", str(config), "messages")
    assert code == 0 and "no bot messages kept aside" in out
    code, out = await run("--config", str(config), "callbacks", "list")
    assert code == 0, out


async def test_run_refuses_to_serve_without_api_tokens(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {{url: 'sqlite+aiosqlite:///{tmp_path / 'x.db'}'}}\n")
    code, out = await run("--config", str(config), "run")
    assert code == 2 and "api.tokens is empty" in out
