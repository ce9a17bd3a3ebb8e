"""Discord snowflakes and timestamps, generated the way Discord does.

Ids are real snowflakes built from the wall clock, so that ordering by id is ordering by time
(clients page history with ``before``/``after`` on ids) and ``timestamp`` fields agree with
``discord.utils.snowflake_time(id)``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

DISCORD_EPOCH_MS = 1420070400000


class SnowflakeGenerator:
    """Strictly increasing snowflakes: (ms since Discord epoch) << 22 | worker | process | increment."""

    def __init__(self, worker_id: int = 1, process_id: int = 0) -> None:
        self._prefix = ((worker_id & 0x1F) << 17) | ((process_id & 0x1F) << 12)
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
            candidate = (ms << 22) | self._prefix
            # Many ids in one millisecond: bump the increment; past 4095 borrow from the next ms,
            # which keeps ids unique and ordered at the cost of a sub-ms drift in their time.
            if candidate <= self._last:
                candidate = self._last + 1
            self._last = candidate
            return candidate


def snowflake_time(snowflake: int) -> dt.datetime:
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def iso(when: dt.datetime) -> str:
    """Discord's timestamp format: ``2023-09-09T02:04:51.926000+00:00``."""
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


def iso_from_snowflake(snowflake: int) -> str:
    return iso(snowflake_time(snowflake))


def now_iso() -> str:
    return iso(dt.datetime.now(dt.UTC))
