"""The daemon as operators run it: `pixverse-worker --config FILE run` in its own process,
against the simulated Discord running in the test process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from worker.sim import SimAccount, SimBotSettings, SimDiscord

API_TOKEN = "daemon-test-api-token-9876543210"
BIN = Path(sys.executable).with_name("pixverse-worker")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def account_entry(account: SimAccount, **extra: Any) -> dict[str, Any]:
    return {
        "discord": account.token,
        "server": str(account.guild_id),
        "channel": str(account.channel_id),
        "maxJobs": 2,
        **extra,
    }


class DaemonProcess:
    def __init__(self, sim: SimDiscord, tmp_path: Path) -> None:
        self.sim = sim
        self.tmp_path = tmp_path
        self.config_path = tmp_path / "config.yaml"
        self.db_path = tmp_path / "daemon.db"
        self.port = free_port()
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = tmp_path / "daemon.log"
        self.http: aiohttp.ClientSession | None = None
        self.json_logs = False

    def write_config(self, accounts: list[dict[str, Any]], **sections: Any) -> None:
        config: dict[str, Any] = {
            "api": {"host": "127.0.0.1", "port": self.port, "tokens": [API_TOKEN], "shutdown_grace_seconds": 2},
            "database": {"url": f"sqlite+aiosqlite:///{self.db_path}"},
            "discord": {
                "rest_base": self.sim.rest_base,
                "gateway_base": self.sim.gateway_base,
                "interaction_gap_seconds": 0.05,
            },
            "pixverse": {"sweep_interval_seconds": 0.2},
            "accounts": accounts,
            "callbacks": {"initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.5},
            "logging": {"level": "INFO"},
        }
        for name, values in sections.items():
            config[name] = {**config.get(name, {}), **values}
        text = yaml.safe_dump(config, sort_keys=False)
        self.write_text(text)

    def write_text(self, text: str) -> None:
        # Write then rename, as editors do, so the watcher never reads half a file.
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.config_path)

    async def start(self, *extra_args: str) -> None:
        args = ["--config", str(self.config_path)]
        if self.json_logs:
            args.append("--json-logs")
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            str(BIN), *args, "run", *extra_args, stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL
        )
        log.close()
        if self.http is None:
            self.http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_TOKEN}"})
        await self.wait_http()

    async def wait_http(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.logs()}")
            try:
                async with self.http_session.get(f"{self.root}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"daemon did not listen:\n{self.logs()}")

    async def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, _ = await self.get_root("/readyz")
            if status == 200:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"daemon never ready:\n{self.logs()}")

    @property
    def http_session(self) -> aiohttp.ClientSession:
        assert self.http is not None
        return self.http

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"{self.root}/v1/pixverse"

    async def get_root(self, path: str) -> tuple[int, Any]:
        async with self.http_session.get(f"{self.root}{path}") as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        async with self.http_session.get(f"{self.base}/{path}", params=params) as resp:
            return resp.status, await resp.json()

    async def create(self, **fields: Any) -> tuple[int, dict[str, Any]]:
        fields.setdefault("style", "Realistic")
        async with self.http_session.post(f"{self.base}/create", json=fields) as resp:
            return resp.status, await resp.json()

    async def wait_job(self, jobid: str, statuses: tuple[str, ...], timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            _, job = await self.get("jobs/", jobid=jobid)
            if job.get("status") in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job stayed {job.get('status')}:\n{self.logs()}")
            await asyncio.sleep(0.05)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait_exit(self, timeout: float = 20) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def wait_log(self, needle: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.logs():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never logged:\n{self.logs()}")
            await asyncio.sleep(0.05)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self.http is not None:
            await self.http.close()


@pytest.fixture
async def sim() -> AsyncIterator[SimDiscord]:
    async with SimDiscord(bot=SimBotSettings(ack_delay=0.02, result_delay=0.3, seed=3)) as sim:
        yield sim


@pytest.fixture
async def daemon(sim: SimDiscord, tmp_path: Path) -> AsyncIterator[DaemonProcess]:
    process = DaemonProcess(sim, tmp_path)
    try:
        yield process
    finally:
        await process.close()
