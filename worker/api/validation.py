"""Pure request validation: form or JSON fields in, a typed request or ``ApiError(400)`` out.

Checks run in the order the hosted API documents its errors, so a request with several
problems gets the same first complaint as it would there. Texts marked (seed) are verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yarl import URL

from worker.api.constants import (
    ASPECT_RATIOS,
    CHARACTER_STYLE,
    CHARACTERS,
    MAX_JOBS_MAX,
    MAX_JOBS_MIN,
    PROMPT_MAX,
    REPLY_MAX,
    REPLY_URL_PATTERN,
    STYLES,
    one_of,
)
from worker.config import is_snowflake
from worker.errors import ApiError
from worker.jobs.requests import CreateRequest

# (seed)
MISSING = "prompt, discord, server or channel value is missing"
TOO_LONG = "prompt, negative_prompt, replyRef or replyUrl is too long"
STYLE_MISSING = "style is missing or empty"

# Enum-like values and ids never contain a double quote. Shell users copy the seed's
# ``-F 'style="Realistic"'``; curl 7.x strips the quotes, other tools may not.
_REPLY_URL = re.compile(REPLY_URL_PATTERN)
_UNQUOTE = frozenset({"style", "aspect_ratio", "character", "discord", "server", "channel", "maxJobs"})


@dataclass(frozen=True, slots=True)
class AccountRequest:
    """A validated ``POST account/{channel}`` body."""

    channel: str
    server: str
    discord: str
    max_jobs: int
    reply_url: str | None = None


def parse_create(fields: Mapping[str, Any]) -> CreateRequest:
    prompt = _text(fields, "prompt")
    discord = _text(fields, "discord")
    server = _text(fields, "server")
    channel = _text(fields, "channel")
    # Valid: none of the three (any account), channel alone (that account), or all three.
    credentials = (discord is not None, server is not None, channel is not None)
    if prompt is None or credentials not in {(False, False, False), (False, False, True), (True, True, True)}:
        raise ApiError(400, MISSING)

    negative_prompt = _text(fields, "negative_prompt")
    reply_url = _text(fields, "replyUrl")
    reply_ref = _text(fields, "replyRef")
    if (
        len(prompt) > PROMPT_MAX
        or (negative_prompt is not None and len(negative_prompt) > PROMPT_MAX)
        or (reply_url is not None and len(reply_url) > REPLY_MAX)
        or (reply_ref is not None and len(reply_ref) > REPLY_MAX)
    ):
        raise ApiError(400, TOO_LONG)

    raw_style = _text(fields, "style")
    if raw_style is None:
        raise ApiError(400, STYLE_MISSING)
    style = _choice(raw_style, STYLES)
    if style is None:
        raise ApiError(400, f"style {raw_style} not supported, must be one of {one_of(STYLES)}")

    aspect_ratio = _text(fields, "aspect_ratio")
    if aspect_ratio is not None and aspect_ratio not in ASPECT_RATIOS:
        raise ApiError(
            400, f"aspect_ratio {aspect_ratio} not supported, must be one of {one_of(ASPECT_RATIOS)}"
        )

    character: str | None = None
    raw_character = _text(fields, "character")
    if style == CHARACTER_STYLE and raw_character is not None:
        character = _choice(raw_character, CHARACTERS)
        if character is None:
            raise ApiError(
                400, f"character {raw_character} not supported, must be one of {one_of(CHARACTERS)}"
            )

    max_jobs = _max_jobs(fields)
    if reply_url is not None:
        _check_url(reply_url)
    if server is not None and not is_snowflake(server):
        raise ApiError(400, f"server {server} is not valid Discord server id")
    if channel is not None and not is_snowflake(channel):
        raise ApiError(400, f"channel {channel} is not valid Discord channel id")

    return CreateRequest(
        prompt=prompt,
        style=style,
        negative_prompt=negative_prompt,
        aspect_ratio=aspect_ratio,
        character=character,
        discord=discord,
        server=server,
        channel=channel,
        max_jobs=max_jobs,
        reply_url=reply_url,
        reply_ref=reply_ref,
    )


def parse_account(path_channel: str, fields: Mapping[str, Any]) -> AccountRequest:
    """``POST account/{channel}``: discord, server, channel and maxJobs are all required (sibling)."""
    discord = _text(fields, "discord")
    server = _text(fields, "server")
    channel = _text(fields, "channel")
    raw_max_jobs = _text(fields, "maxJobs")
    for name, value in (("discord", discord), ("server", server), ("channel", channel)):
        if value is None:
            raise ApiError(400, f"Required param {name} is missing or empty")
    if raw_max_jobs is None:
        raise ApiError(400, "Required param maxJobs is missing or empty")
    assert discord is not None and server is not None and channel is not None
    if not is_snowflake(channel):
        raise ApiError(400, f"Required param channel ({channel}) is not valid Discord channel id")
    if channel != path_channel:
        raise ApiError(
            400, f"Required param channel ({channel}) not matching to /pixverse/account/{path_channel}"
        )
    if not is_snowflake(server):
        raise ApiError(400, f"Required param server ({server}) is not valid Discord server id")
    number = _integer(raw_max_jobs)
    if number is not None and number > MAX_JOBS_MAX:
        # (sibling) "more that" is the hosted API's wording.
        raise ApiError(400, f"Required param maxJobs {raw_max_jobs} can't be more that {MAX_JOBS_MAX}")
    if number is None or number < MAX_JOBS_MIN:
        raise ApiError(
            400,
            f"Required param maxJobs {raw_max_jobs} is not valid, "
            f"must be between {MAX_JOBS_MIN} and {MAX_JOBS_MAX}",
        )
    reply_url = _text(fields, "replyUrl")
    if reply_url is not None:
        if len(reply_url) > REPLY_MAX:
            raise ApiError(400, "replyUrl is too long")
        _check_url(reply_url)
    return AccountRequest(
        channel=channel, server=server, discord=discord, max_jobs=number, reply_url=reply_url
    )


# -- helpers -------------------------------------------------------------------------------


def _text(fields: Mapping[str, Any], name: str) -> str | None:
    """The field as trimmed text; None when absent, null or empty."""
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ApiError(400, f"{name} must be a string")
    text = str(value).strip()
    if name in _UNQUOTE and len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    return text or None


def _choice(value: str, choices: tuple[str, ...]) -> str | None:
    folded = value.casefold()
    return next((c for c in choices if c.casefold() == folded), None)


def _integer(text: str) -> int | None:
    """``2``, ``"2"`` and ``2.0`` are 2; anything else is not an integer."""
    try:
        number = float(text)
    except ValueError:
        return None
    if not number.is_integer():
        return None
    return int(number)


def _max_jobs(fields: Mapping[str, Any]) -> int | None:
    raw = _text(fields, "maxJobs")
    if raw is None:
        return None
    number = _integer(raw)
    if number is None or not MAX_JOBS_MIN <= number <= MAX_JOBS_MAX:
        raise ApiError(400, f"maxJobs {raw} is not valid, must be between {MAX_JOBS_MIN} and {MAX_JOBS_MAX}")
    return number


def _check_url(url: str) -> None:
    parsed: URL | None = None
    if _REPLY_URL.match(url):
        try:
            parsed = URL(url)
            parsed.port  # noqa: B018 -- an out-of-range port raises here
        except (ValueError, TypeError):
            parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ApiError(400, f"replyUrl {url} is not a valid http(s) URL")
