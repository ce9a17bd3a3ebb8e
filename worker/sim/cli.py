"""Run the sim standalone and print a daemon config snippet pointing at it.

``pixverse-worker sim`` calls :func:`main`; ``python -m worker.sim.cli`` works too. Control it
while it runs through ``/_sim/...`` (see ``admin.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

import yaml

from .bot import SimBotSettings
from .server import SimDiscord
from .world import SimAccount

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pixverse-worker sim", description="Run the simulated Discord + PixVerse bot."
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--accounts", type=int, default=2, help="accounts to create (one private thread each)")
    p.add_argument("--max-jobs", type=int, default=2, help="maxJobs written into the config snippet")
    p.add_argument("--ack-delay", type=float, default=0.5)
    p.add_argument("--result-delay", type=float, default=5.0)
    p.add_argument("--progress", default="25,50,75", help="comma-separated progress percents ('' for none)")
    p.add_argument("--progress-interval", type=float, default=1.0)
    p.add_argument("--throttle-limit", type=int, default=2)
    p.add_argument("--failure-rate", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--rate-limit", type=float, default=None, help="interactions per second per user before 429"
    )
    p.add_argument("--log-level", default="INFO")
    return p


def settings_from_args(args: argparse.Namespace) -> SimBotSettings:
    steps = [int(x) for x in args.progress.split(",") if x.strip()]
    return SimBotSettings(
        ack_delay=args.ack_delay,
        result_delay=args.result_delay,
        progress_steps=steps,
        progress_interval=args.progress_interval,
        throttle_limit=args.throttle_limit,
        failure_rate=args.failure_rate,
        seed=args.seed,
    )


def config_snippet(sim: SimDiscord, accounts: Sequence[SimAccount], max_jobs: int) -> str:
    return yaml.safe_dump(sim.daemon_config(accounts, max_jobs=max_jobs), sort_keys=False)


async def serve(args: argparse.Namespace, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with SimDiscord(args.host, args.port, bot=settings_from_args(args)) as sim:
        sim.rate_limit_interactions_per_sec = args.rate_limit
        accounts = sim.add_accounts(args.accounts)
        sys.stdout.write(config_snippet(sim, accounts, args.max_jobs))
        sys.stdout.write(f"# admin: {sim.base_url}/_sim/state\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
