"""Parsing the parameters the bot echoes: `(prompt: P style: S negative-prompt: N aspect-ratio: A
character: C) Author: <@UID>`.

Keys always appear in that order and only when given, but the prompt and negative prompt are
free text: they may contain parentheses, newlines, or words like "style:". So the echo is cut
out at the LAST `) Author:` (the bot's own suffix follows the user's text), and the prompt ends
at the LAST ` style: ` after which the rest is a well-formed key sequence.
"""

from __future__ import annotations

import re

from worker.pixverse.events import EchoedParams

__all__ = ["find_echo", "parse_echo", "parse_key_tail", "strip_echo"]

# Discord caps content at 2,000 (4,000 with Nitro) characters; bounding the scan keeps a hostile
# or corrupt payload from making the backtracking below expensive.
_MAX_SCAN = 16_000
_MAX_STYLE_CANDIDATES = 64
_MAX_CLOSE_CANDIDATES = 16

_START = re.compile(r"\(\s*prompt:[ \t]*", re.IGNORECASE)
_CLOSE_AUTHOR = re.compile(r"\)\s*Author:", re.IGNORECASE)
_STYLE_KEY = re.compile(r"\s+style:[ \t]*", re.IGNORECASE)
# Everything after ` style: `. Style values contain no colon ("3D Animation"); aspect ratio and
# character are single tokens; the negative prompt is free text, so it stretches lazily until
# the remaining keys fit.
_KEYS = (
    r"(?:\s+negative-prompt:[ \t]*(?P<negative_prompt>.*?))?"
    r"(?:\s+aspect-ratio:[ \t]*(?P<aspect_ratio>\S+?))?"
    r"(?:\s+character:[ \t]*(?P<character>\S+?))?"
    r"\s*"
)
_TAIL = re.compile(r"(?P<style>[^:\n]*?)" + _KEYS, re.IGNORECASE | re.DOTALL)
_KEYS_ONLY = re.compile(_KEYS, re.IGNORECASE | re.DOTALL)


def find_echo(content: str) -> tuple[int, int, str] | None:
    """(start, end, body) of the echo block in `content`: `content[start:end]` is the whole
    `(prompt: … )` span and `body` the text inside it after `prompt:`. None when absent."""
    located = _locate(content)
    return None if located is None else located[:3]


def parse_echo(content: str) -> EchoedParams | None:
    """The echoed command parameters in a bot message, or None when it echoes none."""
    located = _locate(content)
    return None if located is None else located[3]


def _locate(content: str) -> tuple[int, int, str, EchoedParams] | None:
    if not isinstance(content, str):
        return None
    text = content[:_MAX_SCAN]
    start = _START.search(text)
    if start is None:
        return None
    ends = _closing_candidates(text, start.end())
    for body_end, end in ends:
        params = _split(text[start.end() : body_end])
        if params is not None:
            return start.start(), end, text[start.end() : body_end], params
    # No split worked (a command without style, or a format we do not know yet): the whole
    # body is the prompt.
    body_end, end = ends[0]
    body = text[start.end() : body_end]
    return start.start(), end, body, EchoedParams(prompt=body.strip(), body=body.strip())


def _closing_candidates(text: str, rest_from: int) -> list[tuple[int, int]]:
    """(body_end, span_end) pairs to try, best first."""
    close = None
    for found in _CLOSE_AUTHOR.finditer(text, rest_from):
        close = found  # keep the last one: the prompt may itself contain ") Author:"
    if close is not None:
        return [(close.start(), close.start() + 1)]
    # No "Author:" suffix: some closing parenthesis, latest first, must leave a valid split;
    # failing that the message was cut and the body runs to its end.
    parens = [i for i in range(len(text) - 1, rest_from - 1, -1) if text[i] == ")"][:_MAX_CLOSE_CANDIDATES]
    return [*((i, i + 1) for i in parens), (len(text), len(text))]


def _split(body: str) -> EchoedParams | None:
    # A leading space lets an empty prompt ("(prompt: style: Anime)") still be split.
    padded = " " + body
    candidates = list(_STYLE_KEY.finditer(padded))[-_MAX_STYLE_CANDIDATES:]
    for key in reversed(candidates):
        tail = _TAIL.fullmatch(padded, key.end())
        if tail is None:
            continue
        return EchoedParams(
            prompt=padded[: key.start()].strip(),
            style=_value(tail.group("style")),
            negative_prompt=_value(tail.group("negative_prompt")),
            aspect_ratio=_value(tail.group("aspect_ratio")),
            character=_value(tail.group("character")),
            body=body.strip(),
        )
    return None


def parse_key_tail(text: str) -> EchoedParams | None:
    """Parse text that must consist only of the keys after the style value
    (` negative-prompt: … aspect-ratio: … character: …`, each optional). None when anything else
    is there. Used to check an echo against a known job when the prompt/style split is ambiguous."""
    found = _KEYS_ONLY.fullmatch(text[:_MAX_SCAN])
    if found is None:
        return None
    return EchoedParams(
        negative_prompt=_value(found.group("negative_prompt")),
        aspect_ratio=_value(found.group("aspect_ratio")),
        character=_value(found.group("character")),
    )


def strip_echo(content: str) -> str:
    """`content` without its echo block, so user text cannot trigger the reply matchers."""
    located = find_echo(content)
    if located is None:
        return content if isinstance(content, str) else ""
    start, end, _ = located
    return content[:start] + " " + content[end:]


def _value(raw: str | None) -> str | None:
    if raw is None:
        return None
    stripped = raw.strip()
    return stripped or None
