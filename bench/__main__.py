"""``python -m bench`` (``make bench``): every benchmark, each against a baseline measured in the
same run; prints the table and writes it to ``bench/RESULTS.md`` with the machine's details.

``--smoke`` runs tiny sizes (under a minute, for CI: it checks that every row is produced, the
figures mean nothing) and writes nothing unless ``--out`` is given. ``--only 1,4`` runs a subset.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import callbacks, growth, latency, reads, scale
from bench.common import Row, fmt, machine_info, quiet_logging, raise_fd_limit

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

FULL: dict[str, Any] = {
    "jobs": 200,
    "warmup": 10,
    "accounts": [1, 50, 200, 500],
    "reads_stored": 100_000,
    "reads_workers": 16,
    "reads_seconds": 5.0,
    "growth_small": 10_000,
    "growth_large": 1_000_000,
    "growth_ops": 500,
    "callbacks_good": 2_000,
    "callbacks_hanging": 50,
}
SMOKE: dict[str, Any] = {
    "jobs": 4,
    "warmup": 1,
    "accounts": [1, 3],
    "reads_stored": 2_000,
    "reads_workers": 4,
    "reads_seconds": 0.5,
    "growth_small": 1_000,
    "growth_large": 5_000,
    "growth_ops": 20,
    "callbacks_good": 40,
    "callbacks_hanging": 4,
}

HEADER = ("Benchmark", "Figure", "pixverse-worker", "Baseline (same run)", "Baseline is", "Comparison", "Target")


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    for r in rows:
        cells = (
            r.bench,
            r.figure,
            fmt(r.value, r.unit),
            fmt(r.baseline, r.unit),
            r.baseline_label,
            r.compare(),
            r.target,
        )
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def report(rows: list[Row], notes: dict[str, str], sizes: dict[str, Any], smoke: bool) -> str:
    info = machine_info()
    out = ["# pixverse-worker benchmarks", ""]
    if smoke:
        out += ["**Smoke run (tiny sizes): the figures mean nothing.**", ""]
    out += [
        "Produced by `make bench` (`python -m bench`). Every figure has a baseline measured in the",
        "same run on the same machine, against the same simulated Discord (`worker/sim`).",
        "",
        "## Machine",
        "",
    ]
    out += [f"- **{k}**: {v}" for k, v in info.items()]
    out += ["", "## Results", "", table(rows), "", "## Notes", ""]
    out += [f"- {k}: {v}" for k, v in notes.items()]
    out += [
        "",
        "## How each figure is measured",
        "",
        "1. **create**: `POST create` → 200 through the daemon's HTTP API (timed at the client), against a",
        "   bare discord.py-self client (same light options: no guild chunking, no message or member cache)",
        "   running `/create` the library's way and waiting for the same acknowledgement message. Both on one",
        "   sim (ack 10 ms, interaction events 20 ms after the 204), alternating, one job at a time. The",
        "   daemon's pacing (`interaction_gap_seconds`) is 0 here: it is a policy, not overhead.",
        "2. **result**: from the moment the sim hands the result message to its gateway fan-out to the",
        "   moment a local webhook receiver has the callback, against the bare client's `on_message`.",
        "3. **accounts**: each (kind, N) in a fresh child process against a sim in the parent; RSS from",
        "   `/proc/self/status`, peak from `ru_maxrss`; growth is measured from after the imports. The",
        "   daemon runs with `identify_stagger_seconds: 0`, like the bare clients.",
        "4. **reads**: the daemon with no accounts on a database of N stored jobs, against a bare aiohttp",
        "   handler returning the same bytes; one pure-Python load generator (aiohttp, N workers, keep-alive)",
        "   in its own process, each server in its own process.",
        "5. **growth**: the daemon's `JobStore` on two prepared databases, timed in alternating blocks.",
        "6. **callbacks**: a backlog of pending deliveries drained by the daemon's `CallbackOutbox`",
        "   (default settings) into a receiver in another process; the hanging receiver never answers.",
    ]
    return "\n".join(out) + "\n"


async def main(args: argparse.Namespace) -> int:
    sizes = SMOKE if args.smoke else FULL
    only = {s.strip() for s in args.only.split(",")} if args.only else None
    rows: list[Row] = []
    notes: dict[str, str] = {}

    def want(key: str) -> bool:
        return only is None or key in only

    async def step(key: str, name: str, fn: Callable[[], Awaitable[list[Row]]]) -> None:
        if not want(key):
            return
        print(f"[bench] {key}. {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        new = await fn()
        took = time.perf_counter() - started
        notes[f"{key}. {name}: wall time"] = f"{took:.1f} s"
        for r in new:
            print(
                f"[bench]   {r.figure}: {fmt(r.value, r.unit)} vs {fmt(r.baseline, r.unit)} ({r.compare()})",
                file=sys.stderr,
                flush=True,
            )
        rows.extend(new)

    async def do_reads() -> list[Row]:
        new, extra = await reads.run(sizes["reads_stored"], sizes["reads_workers"], sizes["reads_seconds"])
        notes.update({f"4. {k}": (f"{v:.1f} s" if "fill" in k else f"{v:.0f}") for k, v in extra.items()})
        return new

    async def do_growth() -> list[Row]:
        new, extra = await growth.run(sizes["growth_small"], sizes["growth_large"], sizes["growth_ops"])
        notes.update({f"5. {k}": f"{v:.1f} s" for k, v in extra.items()})
        return new

    started = time.perf_counter()
    await step("1", "create overhead + 2. result → callback", lambda: latency.run(sizes["jobs"], sizes["warmup"]))
    await step("3", "account scale", lambda: scale.run(sizes["accounts"]))
    await step("4", "reads", do_reads)
    await step("5", "growth", do_growth)
    await step("6", "callbacks", lambda: callbacks.run(sizes["callbacks_good"], sizes["callbacks_hanging"]))
    notes["total wall time"] = f"{time.perf_counter() - started:.0f} s"

    text = report(rows, notes, sizes, args.smoke)
    print(text)
    out = args.out or (None if args.smoke else str(RESULTS))
    if out:
        Path(out).write_text(text)  # noqa: ASYNC240 - once, at the end
        print(f"[bench] written to {out}", file=sys.stderr)
    return 0


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI (< 60 s)")
    parser.add_argument("--out", help="write the report here (default bench/RESULTS.md; none with --smoke)")
    parser.add_argument("--only", help="comma-separated benchmark numbers: 1 (with 2), 3, 4, 5, 6")
    args = parser.parse_args(argv)
    raise_fd_limit()
    quiet_logging()
    return asyncio.run(main(args))


if __name__ == "__main__":
    sys.exit(cli())
