"""``pixverse-worker``: run | check | migrate | sim | demo | messages | callbacks.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or invalid configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from worker import __version__
from worker.config import CONFIG_ENV, Config, config_path, load_config
from worker.errors import ConfigError
from worker.logs import setup_logging

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixverse-worker",
        description="Drive the PixVerse Discord bot behind a PixVerse API v1 compatible HTTP API.",
    )
    parser.add_argument("--version", action="version", version=f"pixverse-worker {__version__}")
    parser.add_argument(
        "--config", "-c", help=f"YAML config file (default: ${CONFIG_ENV}, else ./config.yaml)"
    )
    parser.add_argument("--log-level", help="override logging.level (DEBUG, INFO, WARNING, ERROR)")
    parser.add_argument("--json-logs", action="store_true", help="write logs as JSON lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="run the daemon (HTTP API + Discord sessions)")
    run.add_argument("--host", help="override api.host")
    run.add_argument("--port", type=int, help="override api.port (e.g. $PORT)")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check", help="validate the config and the database; optionally try each login")
    check.add_argument("--login", action="store_true", help="also log in every enabled account")
    check.set_defaults(func=cmd_check)

    migrate = sub.add_parser("migrate", help="apply the database migrations")
    migrate.set_defaults(func=cmd_migrate)

    sim = sub.add_parser("sim", help="run the simulated Discord + PixVerse bot", add_help=False)
    sim.add_argument("sim_args", nargs=argparse.REMAINDER)
    sim.set_defaults(func=cmd_sim, needs_config=False)

    demo = sub.add_parser("demo", help="run sim + daemon, submit a real job and show the callback")
    demo.add_argument("--no-wait", action="store_true", help="exit after the job instead of serving on")
    demo.add_argument("--port", type=int, default=0, help="API port of the demo daemon (default: free)")
    demo.set_defaults(func=cmd_demo, needs_config=False)

    messages = sub.add_parser("messages", help="bot messages the daemon kept aside (unclassified, late, ...)")
    messages.add_argument("--reason", choices=["unclassified", "unmatched", "late", "unparsable"])
    messages.add_argument("--limit", type=int, default=50)
    messages.add_argument("--json", action="store_true", help="print JSON")
    messages.set_defaults(func=cmd_messages)

    try:
        from worker.callbacks.cli import register_cli
    except ImportError:  # pragma: no cover - the callbacks package is part of the project
        pass
    else:
        register_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "needs_config", True):
        setup_logging(args.log_level or "INFO", json_lines=args.json_logs)
        return int(args.func(args, None))
    path = config_path(args.config)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"pixverse-worker: invalid configuration\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(
        args.log_level or config.logging.level,
        json_lines=args.json_logs or config.logging.json_lines,
        secrets=config.secrets(),
    )
    args.config_path = path
    try:
        return int(args.func(args, config))
    except KeyboardInterrupt:
        return EXIT_FAILURE


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from worker.daemon import Daemon

    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if overrides:
        config = config.model_copy(update={"api": config.api.model_copy(update=overrides)})
    if not config.api.tokens:
        print("pixverse-worker: api.tokens is empty; the API would refuse every call", file=sys.stderr)
        return EXIT_CONFIG
    return asyncio.run(Daemon(config, config_path=args.config_path).run())


def cmd_migrate(args: argparse.Namespace, config: Config) -> int:
    from worker.db.engine import make_engine
    from worker.db.migrate import current_revision, upgrade

    async def run() -> str | None:
        engine = make_engine(config.database.url, busy_timeout_ms=config.database.busy_timeout_ms)
        try:
            await upgrade(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    revision = asyncio.run(run())
    print(f"database is at revision {revision}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace, config: Config) -> int:
    from worker.check import run_check

    return asyncio.run(run_check(config, login=args.login))


def cmd_sim(args: argparse.Namespace, config: Config | None) -> int:
    from worker.sim.cli import main as sim_main

    return int(sim_main(args.sim_args))


def cmd_demo(args: argparse.Namespace, config: Config | None) -> int:
    from worker.demo import run_demo

    return asyncio.run(run_demo(wait=not args.no_wait, port=args.port))


def cmd_messages(args: argparse.Namespace, config: Config) -> int:
    from worker.db.engine import make_engine, make_sessionmaker
    from worker.db.migrate import upgrade
    from worker.jobs.bot_messages import BotMessageStore

    async def run() -> list[dict[str, Any]]:
        engine = make_engine(config.database.url, busy_timeout_ms=config.database.busy_timeout_ms)
        try:
            await upgrade(engine)
            return await BotMessageStore(make_sessionmaker(engine)).list(reason=args.reason, limit=args.limit)
        finally:
            await engine.dispose()

    messages = asyncio.run(run())
    if args.json:
        print(json.dumps(messages, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not messages:
        print("no bot messages kept aside")
        return EXIT_OK
    for m in messages:
        print(
            f"#{m['id']} {m['received']} {m['reason']:<12} kind={m.get('kind') or '-'} "
            f"channel={m.get('channel') or '-'} message={m.get('messageId') or '-'} job={m.get('jobid') or '-'}"
        )
        content = (m.get("content") or "").replace("\n", " ")
        print(f"    {content[:200]}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
