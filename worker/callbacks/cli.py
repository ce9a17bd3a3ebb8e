"""``pixverse-worker callbacks list | redeliver``: the outbox, offline, from the config's database.

Works whether or not the daemon runs: a redelivery made here only writes the rows (pending,
due now); a running daemon's outbox notices them within its poll interval (a few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from worker.callbacks.outbox import STATES, get_delivery, list_deliveries, redeliver
from worker.config import Config

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

T = TypeVar("T")

_COLUMNS = (
    ("deliveryId", "DELIVERY"),
    ("jobid", "JOB"),
    ("event", "EVENT"),
    ("state", "STATE"),
    ("attempts", "TRIES"),
    ("lastStatus", "STATUS"),
    ("lastAttemptAt", "LAST ATTEMPT"),
    ("lastError", "LAST ERROR"),
)
_MAX_CELL = 60


def register_cli(subparsers: Any) -> None:
    callbacks = subparsers.add_parser("callbacks", help="replyUrl deliveries: list, redeliver")
    sub = callbacks.add_subparsers(dest="callbacks_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="list deliveries (default: the failed ones)")
    listing.add_argument("--state", choices=[*STATES, "all"], default="failed")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_list)

    again = sub.add_parser("redeliver", help="send deliveries again (same delivery id)")
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="delivery_id", help="one delivery id")
    which.add_argument("--all", dest="all_failed", action="store_true", help="every failed delivery")
    again.add_argument("--json", action="store_true", help="print JSON")
    again.set_defaults(func=cmd_redeliver)


def cmd_list(args: argparse.Namespace, config: Config) -> int:
    deliveries = _run(config, lambda s: list_deliveries(s, args.state, args.limit))
    if args.json:
        print(json.dumps(deliveries, ensure_ascii=False, indent=2))
    elif not deliveries:
        print(f"no {args.state} deliveries" if args.state != "all" else "no deliveries")
    else:
        print(format_table(deliveries))
    return EXIT_OK


def cmd_redeliver(args: argparse.Namespace, config: Config) -> int:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> int | None:
        if args.delivery_id and await get_delivery(sessions, args.delivery_id) is None:
            return None
        return await redeliver(sessions, args.delivery_id, all_failed=bool(args.all_failed))

    count = _run(config, work)
    if count is None:
        message = f"Unable to locate delivery {args.delivery_id}"
        print(json.dumps({"error": message, "code": 404}) if args.json else message)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps({"redelivered": count, "code": 200}))
    else:
        print(f"{count} deliveries made pending again; a running daemon sends them within seconds")
    return EXIT_OK


def format_table(deliveries: list[dict[str, Any]]) -> str:
    rows = [[_cell(d.get(key)) for key, _ in _COLUMNS] for d in deliveries]
    headers = [title for _, title in _COLUMNS]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    text = "-" if value is None else " ".join(str(value).split())
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _run(config: Config, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    from worker.db.engine import make_engine, make_sessionmaker
    from worker.db.migrate import upgrade

    async def main() -> T:
        engine = make_engine(config.database.url, busy_timeout_ms=config.database.busy_timeout_ms)
        try:
            await upgrade(engine)
            return await work(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())
