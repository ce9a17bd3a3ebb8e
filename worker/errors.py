"""The project's error hierarchy. One middleware maps ``ApiError`` to HTTP responses."""

from __future__ import annotations

from typing import Any


class WorkerError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(WorkerError):
    """The configuration file is unreadable or invalid; the message names the key."""


class ApiError(WorkerError):
    """An error answered to an API client as ``{"error": ..., "code": ...}`` (+ extra fields)."""

    def __init__(self, code: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.code = code
        self.error = error
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def body(self) -> dict[str, Any]:
        return {"error": self.error, **self.extra, "code": self.code}


class IllegalTransition(WorkerError):
    """A status move that the job lifecycle does not allow."""

    def __init__(self, jobid: str, current: str, target: str) -> None:
        super().__init__(f"job {jobid}: {current} -> {target} is not allowed")
        self.jobid = jobid
        self.current = current
        self.target = target


class DiscordUnavailable(WorkerError):
    """The account's Discord session cannot take a command now (not ready, in error)."""


class SessionClosed(DiscordUnavailable):
    """The account has no open gateway session (closed, or between connections)."""


class DiscordRateLimited(WorkerError):
    """Discord answered 429 to an interaction; carries Discord's body and retry_after."""

    def __init__(self, body: str, retry_after: float | None) -> None:
        super().__init__("Discord /interactions failed with HTTP status 429")
        self.body = body
        self.retry_after = retry_after


class InteractionRejected(WorkerError):
    """Discord refused the interaction (4xx other than 429); carries status and body."""

    def __init__(self, status: int, body: str, code: int | None = None) -> None:
        super().__init__(f"Discord /interactions failed with HTTP status {status}")
        self.status = status
        self.body = body
        self.discord_code = code
