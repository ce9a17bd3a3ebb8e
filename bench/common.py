"""Shared pieces of the benchmarks: result rows, statistics, machine facts, helpers.

Every benchmark returns :class:`Row` objects: a figure for pixverse-worker and a baseline
measured in the same run (a bare discord.py-self client, a bare aiohttp handler, a bare aiohttp
POST loop, or the same code at a smaller size), so the ratio compares like with like.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
API_TOKEN = "bench-api-token-0123456789"


@dataclass
class Row:
    """One line of the table: ``value`` (pixverse-worker) against ``baseline`` (same run)."""

    bench: str
    figure: str
    unit: str
    value: float
    baseline: float | None
    baseline_label: str
    target: str = ""
    # "ratio" (value / baseline) or "delta" (value - baseline, in the unit) or both.
    show: tuple[str, ...] = ("ratio",)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def compare(self) -> str:
        parts = []
        if "delta" in self.show and self.baseline is not None:
            parts.append(f"{self.value - self.baseline:+.2f} {self.unit}")
        if "ratio" in self.show and self.ratio is not None:
            parts.append(f"{self.ratio:.2f}×")
        return ", ".join(parts) or "—"


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); the p99 of 200 samples is the 198th smallest."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def p50(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> float:
    return seconds * 1000.0


# -- memory --------------------------------------------------------------------------------


def rss_mb() -> float:
    """Current resident set size of this process, in MiB (from /proc)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
        except (ValueError, OSError):
            pass


# -- machine -------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_total() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


LIBRARIES = ("discord.py-self", "curl_cffi", "aiohttp", "SQLAlchemy", "aiosqlite", "pydantic")


def machine_info() -> dict[str, str]:
    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    try:
        import sqlite3

        versions.append(f"SQLite {sqlite3.sqlite_version}")
    except ImportError:
        pass
    return {
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": cpu_model(),
        "Cores": str(os.cpu_count()),
        "Memory": memory_total(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Libraries": ", ".join(versions),
    }


# -- subprocesses --------------------------------------------------------------------------


class Child:
    """A ``python -m bench.<module>`` subprocess that prints one JSON line when it is up,
    and (optionally) one JSON line with its result when it ends."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 60) -> dict[str, Any]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), **(self.env or {})}
        self.proc = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            *self.args,
            cwd=str(ROOT),
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return await self.read_json(timeout)

    async def read_json(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{' '.join(self.args)}: no answer within {timeout:g} s")
            line = await asyncio.wait_for(self.proc.stdout.readline(), left)
            if not line:
                code = await self.proc.wait()
                raise RuntimeError(f"{' '.join(self.args)} exited with {code} before answering")
            text = line.decode().strip()
            if text.startswith("{"):
                return json.loads(text)

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def emit(data: dict[str, Any]) -> None:
    """A child's answer to its parent: one JSON line on stdout."""
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def wait_for_stdin_eof() -> None:
    """A child serves until its parent closes stdin (or dies)."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


def quiet_logging() -> None:
    """The daemon logs one INFO line per job move; a benchmark measures the code, not a tty.

    WARNING and above still reach stderr.
    """
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord").setLevel(logging.ERROR)


def daemon_config(
    *,
    db_url: str,
    accounts: Sequence[Any] = (),
    rest_base: str = "http://127.0.0.1:9/api/v9",
    gateway_base: str = "ws://127.0.0.1:9/",
    max_jobs: int = 10,
    **sections: dict[str, Any],
) -> Any:
    """A daemon ``Config`` for the benchmarks (accounts are ``SimAccount`` s)."""
    from worker.config import Config

    data: dict[str, Any] = {
        "api": {"host": "127.0.0.1", "port": 0, "tokens": [API_TOKEN], "create_wait_seconds": 30},
        "database": {"url": db_url},
        "discord": {
            "rest_base": rest_base,
            "gateway_base": gateway_base,
            # Pacing is a policy against bans, not overhead: off, so the code is measured.
            "interaction_gap_seconds": 0.0,
            "identify_stagger_seconds": 0.0,
            "error_backoff_initial_seconds": 1,
            "error_backoff_max_seconds": 5,
            "ready_timeout_seconds": 120,
        },
        "pixverse": {"job_timeout_seconds": 3600, "sweep_interval_seconds": 5},
        "accounts": [
            {"discord": a.token, "server": str(a.guild_id), "channel": str(a.channel_id), "maxJobs": max_jobs}
            for a in accounts
        ],
        "callbacks": {"initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.5},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return Config.model_validate(data)
