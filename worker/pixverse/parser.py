"""Snapshot -> BotEvent. Pure: the same snapshot and matchers always give the same event."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from worker.pixverse.echo import parse_echo, strip_echo
from worker.pixverse.events import BotEvent, BotEventKind
from worker.pixverse.matchers import ReplyMatchers
from worker.pixverse.snapshot import MessageSnapshot, videos

__all__ = ["classify"]

# Errors first: an error text is decisive even when the message also echoes the prompt or
# quotes the ack wording.
_ERROR_KINDS = (
    BotEventKind.MODERATED,
    BotEventKind.NO_SUBSCRIPTION,
    BotEventKind.THROTTLED,
    BotEventKind.FAILED,
)


def classify(snap: MessageSnapshot, m: ReplyMatchers) -> BotEvent:
    """What `snap` means. Messages from non-bot authors are UNKNOWN: the caller decides which
    authors to watch (normally the PixVerse bot only)."""
    found_videos = tuple(videos(snap))
    base: dict[str, Any] = {
        "snapshot": snap,
        "videos": found_videos,
        "buttons": tuple(label for label, _ in snap.buttons),
        "text": snap.content,
        "echo": parse_echo(snap.content),
    }
    if not snap.author_is_bot:
        return BotEvent(kind=BotEventKind.UNKNOWN, **base)

    text = _searchable_text(snap)
    for kind in _ERROR_KINDS:
        hit = m.search(kind.value, text)
        if hit is not None:
            return BotEvent(kind=kind, matched_pattern=hit.re.pattern, **base)

    # Videos are the strongest signal, so a result is recognised before progress/ack: if the
    # bot edits its ack into the result (leaving "We are making videos" in place) the job must
    # still complete.
    if len(found_videos) >= m.result_min_videos:
        return BotEvent(kind=BotEventKind.RESULT, **base)

    ack = m.search(BotEventKind.ACK.value, text)
    progress = _last_progress(text, m)
    # A bare "42%" is only progress on an edited message or next to the ack wording; elsewhere
    # it is more likely part of some other text.
    if progress is not None and (snap.is_edit or ack is not None):
        pattern, percent = progress
        return BotEvent(kind=BotEventKind.PROGRESS, percent=percent, matched_pattern=pattern, **base)
    if ack is not None:
        return BotEvent(kind=BotEventKind.ACK, matched_pattern=ack.re.pattern, **base)
    return BotEvent(kind=BotEventKind.UNKNOWN, **base)


def _last_progress(text: str, m: ReplyMatchers) -> tuple[str, int] | None:
    """(pattern, percent) of the first progress pattern that matches, using its LAST
    occurrence: a bot that appends a line per update leaves the newest one at the end."""
    for pattern in m.compiled(BotEventKind.PROGRESS.value):
        last = None
        for found in pattern.finditer(text):
            last = found
        if last is None:
            continue
        try:
            percent = int(last.group("percent"))
        except (IndexError, TypeError, ValueError):
            continue
        return pattern.pattern, max(0, min(percent, 100))
    return None


def _searchable_text(snap: MessageSnapshot) -> str:
    """Content plus embed texts, each without its echo block. The bot may send errors as
    embeds; the user's prompt must never be read as a bot phrase."""
    parts = [strip_echo(snap.content)]
    parts.extend(strip_echo(t) for t in _embed_texts(snap.embeds))
    return "\n".join(p for p in parts if p)


def _embed_texts(embeds: tuple[dict[str, Any], ...]) -> Iterator[str]:
    for embed in embeds:
        for key in ("title", "description"):
            if isinstance(embed.get(key), str):
                yield embed[key]
        for key in ("author", "footer"):
            sub = embed.get(key)
            if isinstance(sub, Mapping):
                value = sub.get("name") if key == "author" else sub.get("text")
                if isinstance(value, str):
                    yield value
        fields = embed.get("fields")
        if isinstance(fields, list):
            for item in fields:
                if isinstance(item, Mapping):
                    for key in ("name", "value"):
                        if isinstance(item.get(key), str):
                            yield item[key]
