"""Bot messages kept for the operator: unclassified, unmatched, late or unparsable.

The PixVerse bot's real texts are only partly known, so nothing the daemon cannot place is
dropped: it is stored with its raw payload, counted in the metrics, listed by
``GET /v1/pixverse/messages`` and ``pixverse-worker messages``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from worker.db.models import BotMessage
from worker.timeutil import iso_ms, utcnow

log = logging.getLogger(__name__)

REASONS = ("unclassified", "unmatched", "late", "unparsable")


class BotMessageStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(
        self,
        *,
        event: str,
        reason: str,
        data: dict[str, Any],
        kind: str | None = None,
        jobid: str | None = None,
    ) -> None:
        content = data.get("content") if isinstance(data.get("content"), str) else None
        message_id = data.get("id")
        channel = data.get("channel_id")
        row = BotMessage(
            message_id=str(message_id) if message_id is not None else None,
            channel=str(channel) if channel is not None else None,
            event=event,
            reason=reason,
            kind=kind,
            jobid=jobid,
            content=content,
            raw=json.dumps(data, ensure_ascii=False, default=str),
            received=utcnow(),
        )
        async with self._sessions.begin() as session:
            session.add(row)
        log.warning(
            "bot message %s in channel %s kept as %s%s: %.120r",
            row.message_id,
            row.channel,
            reason,
            f" (job {jobid})" if jobid else "",
            content,
        )

    async def list(self, *, reason: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(BotMessage).order_by(BotMessage.id.desc()).limit(limit)
        if reason:
            query = query.where(BotMessage.reason == reason)
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars().all()
        return [_to_json(row) for row in rows]

    async def counts(self) -> dict[str, int]:
        async with self._sessions() as session:
            rows = (
                await session.execute(select(BotMessage.reason, func.count()).group_by(BotMessage.reason))
            ).all()
        return {reason: count for reason, count in rows}


def _to_json(row: BotMessage) -> dict[str, Any]:
    try:
        raw: Any = json.loads(row.raw)
    except ValueError:
        raw = row.raw
    body = {
        "id": row.id,
        "received": iso_ms(row.received),
        "reason": row.reason,
        "kind": row.kind,
        "event": row.event,
        "jobid": row.jobid,
        "channel": row.channel,
        "messageId": row.message_id,
        "content": row.content,
        "raw": raw,
    }
    return {k: v for k, v in body.items() if v is not None}
