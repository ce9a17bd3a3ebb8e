"""The texts that identify each kind of PixVerse bot reply, as operator-editable data.

Only the ack, result and moderation texts of the real bot are known; the others are guesses
(and the simulated bot's stand-ins). So they live in config (`pixverse.matchers` in YAML) and an
operator can fix a misclassification without a release. Patterns are validated and compiled
when the config is loaded, so a typo fails at start-up rather than mid-run.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator

__all__ = ["PATTERN_KINDS", "ReplyMatchers"]

PATTERN_KINDS: tuple[str, ...] = (
    "ack",
    "progress",
    "moderated",
    "no_subscription",
    "throttled",
    "failed",
)


class ReplyMatchers(BaseModel):
    """Regular expressions (Python `re` syntax, searched anywhere in the text) per kind of bot
    reply. Error kinds and the ack are matched against the message text with the echoed
    `(prompt: …)` block removed, so a prompt such as "something went wrong" cannot turn an
    ack into a failure. A kind matches when ANY of its patterns matches; list order is only
    the order of trial (the first match is reported as `matched_pattern`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ack: list[str] = Field(
        default_factory=lambda: [r"We are making videos"],
        description="The bot accepted the command and started generating (its first reply).",
    )
    progress: list[str] = Field(
        default_factory=lambda: [r"(?i)progress:?\s*(?P<percent>\d{1,3})\s*%", r"(?P<percent>\d{1,3})\s*%"],
        description=(
            "Progress of a running job; each pattern MUST have a named group `percent` (0-100). "
            "Counted only on an edited message or on a message that also matches `ack`."
        ),
    )
    moderated: list[str] = Field(
        default_factory=lambda: [
            r"Apologies! Our AI moderator",
            r"(?i)potentially violating our \[?community guidelines",
        ],
        description="The prompt or images were rejected by the bot's moderation (API status 422).",
    )
    no_subscription: list[str] = Field(
        default_factory=lambda: [
            r"(?i)don't have an active subscription",
            r"(?i)no (active )?subscription",
            r"(?i)subscription (has )?expired",
        ],
        description="The account has no (active) PixVerse subscription (API status 402).",
    )
    throttled: list[str] = Field(
        default_factory=lambda: [
            r"(?i)maximum number of concurrent",
            r"(?i)too many (requests|jobs|generations)",
            r"(?i)please wait for your current",
        ],
        description="The bot refused because the account runs too many jobs (API status 429).",
    )
    failed: list[str] = Field(
        default_factory=lambda: [
            r"(?i)generation failed",
            r"(?i)something went wrong",
            r"(?i)failed to generate",
        ],
        description="The bot accepted the job but could not produce it.",
    )
    result_min_videos: int = Field(
        default=1,
        ge=1,
        description="A bot message carrying at least this many videos is a (possibly partial) result.",
    )
    videos_per_result: int = Field(
        default=4,
        ge=1,
        description=(
            "A job is complete once this many videos have been collected; the bot may split them "
            "over several messages (/create makes 4)."
        ),
    )

    _compiled: dict[str, tuple[re.Pattern[str], ...]] = PrivateAttr(default_factory=dict)

    _REQUIRED_GROUPS: ClassVar[dict[str, str]] = {"progress": "percent"}

    @field_validator(*PATTERN_KINDS, mode="after")
    @classmethod
    def _valid_patterns(cls, patterns: list[str], info: ValidationInfo) -> list[str]:
        name = info.field_name or "?"
        for index, pattern in enumerate(patterns):
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{name}[{index}]: invalid regular expression {pattern!r}: {exc}") from exc
            group = cls._REQUIRED_GROUPS.get(name)
            if group and group not in compiled.groupindex:
                raise ValueError(f"{name}[{index}]: pattern {pattern!r} needs a named group (?P<{group}>...)")
            if compiled.search("") is not None:
                # An empty-matching pattern would claim every message of the bot.
                raise ValueError(f"{name}[{index}]: pattern {pattern!r} matches the empty string")
        return patterns

    def model_post_init(self, __context: Any) -> None:
        # The model is frozen, so compiling once here stays valid for its lifetime.
        self._compiled = {kind: tuple(re.compile(p) for p in getattr(self, kind)) for kind in PATTERN_KINDS}

    def compiled(self, kind: str) -> tuple[re.Pattern[str], ...]:
        """The compiled patterns of `kind` (one of PATTERN_KINDS), in configured order."""
        return self._compiled[kind]

    def search(self, kind: str, text: str) -> re.Match[str] | None:
        """The first configured pattern of `kind` found in `text`."""
        for pattern in self._compiled[kind]:
            found = pattern.search(text)
            if found is not None:
                return found
        return None
