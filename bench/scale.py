"""Benchmark 3: accounts in one process, the daemon against bare discord.py-self clients.

The sim runs here; each (kind, N) runs in a fresh child process (``bench.scale_child``) so the
memory figures start from the same state. Per-account memory is the RSS growth from the
baseline (imports done) to "all ready", divided by N; the marginal figure (between the two
largest N) leaves the fixed costs (database, HTTP app, first client) out.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import Child, Row, raise_fd_limit


async def measure(sim: Any, kind: str, accounts: list[Any], tmp: Path) -> dict[str, Any]:
    path = tmp / f"{kind}-{len(accounts)}.json"
    path.write_text(json.dumps([asdict(a) for a in accounts]))
    db = tmp / f"{kind}-{len(accounts)}.db"
    child = Child("bench.scale_child", kind, str(path), sim.rest_base, sim.gateway_base, str(db))
    try:
        return await child.start(timeout=900)
    finally:
        await child.stop()


async def run(sizes: list[int]) -> list[Row]:
    from worker.sim import SimBotSettings, SimDiscord

    raise_fd_limit()
    results: dict[tuple[str, int], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for n in sizes:
            for kind in ("bare", "daemon"):
                # A fresh sim per run: the previous child's sessions are gone, not resumable.
                async with SimDiscord(bot=SimBotSettings(seed=1)) as sim:
                    accounts = sim.add_accounts(n)
                    results[(kind, n)] = await measure(sim, kind, accounts, Path(tmp))

    rows: list[Row] = []
    for n in sizes:
        d, b = results[("daemon", n)], results[("bare", n)]
        label = f"{n} bare discord.py-self clients"
        rows.append(Row("3 accounts", f"{n} accounts: time to all ready", "s", d["seconds"], b["seconds"], label))
        rows.append(Row("3 accounts", f"{n} accounts: peak RSS", "MiB", d["peak_mb"], b["peak_mb"], label))
        rows.append(
            Row(
                "3 accounts",
                f"{n} accounts: RSS growth per account",
                "MiB",
                (d["ready_mb"] - d["base_mb"]) / n,
                (b["ready_mb"] - b["base_mb"]) / n,
                label,
                "≤ 1.3× bare" if n == sizes[-1] else "",
            )
        )
    if len(sizes) >= 2:
        lo, hi = sizes[-2], sizes[-1]

        def marginal(kind: str) -> float:
            return (results[(kind, hi)]["ready_mb"] - results[(kind, lo)]["ready_mb"]) / (hi - lo)

        rows.append(
            Row(
                "3 accounts",
                f"marginal RSS per account ({lo} → {hi})",
                "MiB",
                marginal("daemon"),
                marginal("bare"),
                "bare clients, same step",
                "≤ 1.3× bare",
            )
        )
    return rows
