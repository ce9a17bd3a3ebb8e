"""The seam between the job service and Discord.

The job service stores a job, hands it to a ``Driver`` to send the bot's command, and
learns of the bot's replies through ``JobStore.transition`` (called by the reply tracker).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from worker.db.models import Job
from worker.timeutil import utcnow


class SessionState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    RECONNECTING = "reconnecting"
    ERROR = "error"
    DISABLED = "disabled"
    STOPPED = "stopped"


@dataclass(slots=True)
class SessionStatus:
    state: SessionState
    reason: str | None = None
    user_id: str | None = None
    since: datetime = field(default_factory=utcnow)

    @property
    def available(self) -> bool:
        return self.state is SessionState.READY


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account as the job service uses it, whatever its source."""

    channel: str
    server: str
    token: str
    max_jobs: int
    enabled: bool = True
    reply_url: str | None = None
    # "config" (YAML), "api" (POST account), "adhoc" (credentials given to one create call)
    source: str = "config"


class Driver(Protocol):
    def status(self, channel: str) -> SessionStatus | None:
        """The session state of the account behind ``channel``; None when it has no session."""

    async def ensure_session(self, account: AccountView) -> SessionStatus:
        """Open a session for ad-hoc credentials (or confirm one), waiting until ready or failed."""

    async def submit(self, job: Job, account: AccountView) -> None:
        """Send the bot's command for ``job``.

        Returns once Discord accepted the interaction; what the bot answers arrives later
        through the reply tracker. Raises ``DiscordRateLimited``, ``InteractionRejected`` or
        ``DiscordUnavailable``.
        """
