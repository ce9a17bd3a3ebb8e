"""What a PixVerse bot message means, as plain values (no Discord objects, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from worker.pixverse.snapshot import MessageSnapshot

__all__ = ["BotEvent", "BotEventKind", "EchoedParams"]


class BotEventKind(StrEnum):
    # Values equal the ReplyMatchers field names where a kind is pattern-matched.
    ACK = "ack"
    PROGRESS = "progress"
    RESULT = "result"
    MODERATED = "moderated"
    NO_SUBSCRIPTION = "no_subscription"
    THROTTLED = "throttled"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class EchoedParams:
    """The command parameters the bot echoes back as `(prompt: … style: … …)`.

    `body` is the whole text between `(prompt:` and the closing parenthesis: when a prompt
    contains key-like words the split can be ambiguous, and the correlator then checks the body
    against the job's own parameters instead of trusting one split."""

    prompt: str | None = None
    style: str | None = None
    negative_prompt: str | None = None
    aspect_ratio: str | None = None
    character: str | None = None
    body: str | None = None


@dataclass(frozen=True, slots=True)
class BotEvent:
    kind: BotEventKind
    snapshot: MessageSnapshot
    percent: int | None = None
    videos: tuple[dict[str, Any], ...] = ()
    buttons: tuple[str, ...] = ()
    # The message content as the bot wrote it: shown to API clients as `content` / `error`.
    text: str = ""
    echo: EchoedParams | None = None
    # Which configured pattern claimed the message, so an operator can see why.
    matched_pattern: str | None = None
