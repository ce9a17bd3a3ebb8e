"""SQLAlchemy models. Dialect-neutral: SQLite today, PostgreSQL later."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from worker.timeutil import utcnow


class Base(DeclarativeBase):
    pass


class Job(Base):
    """One API job. ``status`` is written only by ``JobStore.transition``."""

    __tablename__ = "jobs"

    # Integer key: submission order, which the reply correlator uses as "oldest first".
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    jobid: Mapped[str] = mapped_column(String(160), unique=True, index=True)
    verb: Mapped[str] = mapped_column(String(40), default="pixverse-create")
    status: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    prompt: Mapped[str | None] = mapped_column(Text)
    style: Mapped[str | None] = mapped_column(String(40))
    negative_prompt: Mapped[str | None] = mapped_column(Text)
    aspect_ratio: Mapped[str | None] = mapped_column(String(10))
    character: Mapped[str | None] = mapped_column(String(40))

    channel: Mapped[str] = mapped_column(String(32))
    server: Mapped[str | None] = mapped_column(String(32))
    discord_masked: Mapped[str | None] = mapped_column(String(64))
    discord_user_id: Mapped[str | None] = mapped_column(String(32))
    max_jobs: Mapped[int | None] = mapped_column(Integer)
    reply_url: Mapped[str | None] = mapped_column(Text)
    reply_ref: Mapped[str | None] = mapped_column(Text)

    interaction_id: Mapped[str | None] = mapped_column(String(32))
    nonce: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message_id: Mapped[str | None] = mapped_column(String(32))
    content: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[str | None] = mapped_column(String(40))
    progress: Mapped[int | None] = mapped_column(Integer)
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    buttons: Mapped[list[str] | None] = mapped_column(JSON)
    embeds: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    result_message_ids: Mapped[list[str] | None] = mapped_column(JSON)

    error: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[str | None] = mapped_column(Text)
    code: Mapped[int | None] = mapped_column(Integer)
    parent_job_id: Mapped[str | None] = mapped_column(String(160))

    __table_args__ = (
        Index("ix_jobs_status_channel", "status", "channel"),
        Index("ix_jobs_channel_created", "channel", "created"),
    )


class Account(Base):
    """Accounts added through the API, and credentials used ad hoc by a create call."""

    __tablename__ = "accounts"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    server: Mapped[str] = mapped_column(String(32))
    # The token is needed to open the session again after a restart.
    discord_token: Mapped[str] = mapped_column(Text)
    max_jobs: Mapped[int] = mapped_column(Integer, default=10)
    reply_url: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # "api": added through POST account; "adhoc": credentials given to one create call.
    source: Mapped[str] = mapped_column(String(8), default="api")
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CallbackDelivery(Base):
    """The replyUrl outbox: written in the same transaction as the job's transition."""

    __tablename__ = "callback_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    jobid: Mapped[str] = mapped_column(String(160), index=True)
    job_status: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    # The body is frozen at enqueue time so every retry sends the same bytes.
    body: Mapped[str] = mapped_column(Text)
    # pending | delivered | failed | superseded
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_callback_deliveries_state_next", "state", "next_attempt_at"),)


class CallbackAttempt(Base):
    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("callback_deliveries.delivery_id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)


class BotMessage(Base):
    """A bot message in a watched channel that no matcher claimed, or a late reply kept aside."""

    __tablename__ = "bot_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32), index=True)
    event: Mapped[str] = mapped_column(String(24))
    # unclassified | unmatched | late | unparsable
    reason: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str | None] = mapped_column(String(24))
    jobid: Mapped[str | None] = mapped_column(String(160))
    content: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    received: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
