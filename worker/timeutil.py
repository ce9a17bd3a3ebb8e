"""Time helpers: the API's timestamp format is ISO 8601 UTC with milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso_ms(value: datetime | None) -> str | None:
    """``2023-09-09T02:04:49.667Z``, as the hosted API formats ``created`` and ``updated``."""
    if value is None:
        return None
    if value.tzinfo is None:
        # SQLite hands back naive datetimes; everything we store is UTC.
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
