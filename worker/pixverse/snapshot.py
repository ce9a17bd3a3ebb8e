"""A plain, immutable snapshot of a Discord message gateway payload.

The session layer hands us the RAW dict of MESSAGE_CREATE / MESSAGE_UPDATE (discord.py-self 2.1.0
does not parse `interaction_metadata` and crashes on explicit nulls, so its `Message` object is
not a reliable source). Everything downstream (classification, correlation) works on this
snapshot only, which keeps it pure and testable over recorded payloads.

`snapshot_from_payload` is total: a payload from another Discord-compatible server, a truncated
update or plain garbage yields a snapshot with empty fields, never an exception, because one odd
message must not kill the account's event loop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["VIDEO_EXTENSIONS", "MessageSnapshot", "snapshot_from_payload", "videos"]

# Extension -> MIME type used when the payload does not say (links in content, embeds).
VIDEO_EXTENSIONS: Mapping[str, str] = {
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
}

_ATTACHMENT_KEYS = ("id", "url", "proxy_url", "filename", "content_type", "size", "width", "height")
_ACTION_ROW = 1
_BUTTON = 2

# Links in content: bare, or wrapped in <...> (Discord's "no preview" form, also used inside
# markdown links `[text](<url>)`). Stops at whitespace and the usual closing delimiters.
_URL_RE = re.compile(r"https?://[^\s<>()\[\]\"'`|]+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MessageSnapshot:
    id: str | None
    channel_id: str | None
    guild_id: str | None = None
    author_id: str | None = None
    author_is_bot: bool = False
    type: int = 0
    content: str = ""
    timestamp: str | None = None
    edited_timestamp: str | None = None
    mention_ids: tuple[str, ...] = ()
    attachments: tuple[dict[str, Any], ...] = ()
    embeds: tuple[dict[str, Any], ...] = ()
    # (label, custom_id); label falls back to the emoji name (the bot's 🔀 button has no label),
    # custom_id is None for link buttons.
    buttons: tuple[tuple[str, str | None], ...] = ()
    interaction_id: str | None = None
    interaction_user_id: str | None = None
    interaction_name: str | None = None
    reference_message_id: str | None = None
    nonce: str | None = None
    flags: int = 0
    is_edit: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


def snapshot_from_payload(data: Mapping[str, Any], *, is_edit: bool = False) -> MessageSnapshot:
    """Snapshot a raw MESSAGE_CREATE / MESSAGE_UPDATE `d` dict. Never raises."""
    if not isinstance(data, Mapping):
        return MessageSnapshot(id=None, channel_id=None, is_edit=is_edit, raw={})
    author = _mapping(data.get("author"))
    # `interaction_metadata` is the current field; `interaction` is the deprecated one that
    # older servers (and discord.py-self's own parser) still use. Prefer the new one, fill gaps
    # from the old one.
    meta = _mapping(data.get("interaction_metadata"))
    legacy = _mapping(data.get("interaction"))
    meta_user = _mapping(meta.get("user"))
    legacy_user = _mapping(legacy.get("user"))
    reference = _mapping(data.get("message_reference"))
    return MessageSnapshot(
        id=_id(data.get("id")),
        channel_id=_id(data.get("channel_id")) or _id(reference.get("channel_id")),
        guild_id=_id(data.get("guild_id")),
        author_id=_id(author.get("id")),
        author_is_bot=author.get("bot") is True,
        type=_int(data.get("type")),
        content=_text(data.get("content")),
        timestamp=_opt_text(data.get("timestamp")),
        edited_timestamp=_opt_text(data.get("edited_timestamp")),
        mention_ids=_mention_ids(data.get("mentions")),
        attachments=tuple(a for a in map(_attachment, _list(data.get("attachments"))) if a),
        embeds=tuple(dict(e) for e in _list(data.get("embeds")) if isinstance(e, Mapping)),
        buttons=_buttons(data.get("components")),
        interaction_id=_id(meta.get("id")) or _id(legacy.get("id")),
        interaction_user_id=(
            _id(meta_user.get("id")) or _id(meta.get("user_id")) or _id(legacy_user.get("id"))
        ),
        interaction_name=_opt_text(legacy.get("name")) or _opt_text(meta.get("name")),
        reference_message_id=_id(reference.get("message_id")),
        nonce=_id(data.get("nonce")),
        flags=_int(data.get("flags")),
        is_edit=is_edit,
        raw=data,
    )


def videos(snap: MessageSnapshot) -> list[dict[str, Any]]:
    """The result videos of a message as attachment-like dicts ({url, filename, content_type}, plus
    whatever the source carried). Attachments win; embeds are used only when no attachment is a
    video, and links in content only when neither is: a bot that attaches files and also links
    them must not be counted twice."""
    found = [dict(a) for a in snap.attachments if _is_video_attachment(a)]
    if not found:
        found = _embed_videos(snap.embeds)
    if not found:
        found = _content_videos(snap.content)
    return [_complete(v) for v in _dedupe(found)]


# --- videos ------------------------------------------------------------------------------------


def _is_video_attachment(att: Mapping[str, Any]) -> bool:
    content_type = att.get("content_type")
    if isinstance(content_type, str) and content_type.lower().startswith("video/"):
        return True
    for key in ("filename", "url"):
        value = att.get(key)
        if isinstance(value, str) and _video_ext(value):
            return True
    return False


def _embed_videos(embeds: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for embed in embeds:
        video = _mapping(embed.get("video"))
        video_url = _opt_text(video.get("url"))
        if video_url:
            item = {k: v for k, v in video.items() if k in _ATTACHMENT_KEYS}
            item["url"] = video_url
            out.append(item)
            continue
        url = _opt_text(embed.get("url"))
        if url and _video_ext(url):
            out.append({"url": url})
    return out


def _content_videos(content: str) -> list[dict[str, Any]]:
    return [
        {"url": u} for u in (m.group(0).rstrip(".,;:!?") for m in _URL_RE.finditer(content)) if _video_ext(u)
    ]


def _complete(item: dict[str, Any]) -> dict[str, Any]:
    url = _text(item.get("url"))
    item["url"] = url
    if not _opt_text(item.get("filename")):
        item["filename"] = _basename(url)
    if not _opt_text(item.get("content_type")):
        ext = _video_ext(_text(item.get("filename"))) or _video_ext(url)
        item["content_type"] = VIDEO_EXTENSIONS.get(ext or "", "video/mp4")
    return item


def _dedupe(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for item in items:
        key = _text(item.get("url")) or _text(item.get("id")) or str(len(out))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _video_ext(url_or_name: str) -> str | None:
    """The video extension of a file name or URL path (query and fragment ignored)."""
    try:
        path = urlsplit(url_or_name).path if "://" in url_or_name else url_or_name
    except ValueError:  # e.g. an invalid IPv6 host; such a link is not ours to follow anyway
        return None
    lowered = path.lower()
    for ext in VIDEO_EXTENSIONS:
        if lowered.endswith(ext):
            return ext
    return None


def _basename(url: str) -> str:
    try:
        path = urlsplit(url).path
    except ValueError:
        path = url
    return unquote(path.rsplit("/", 1)[-1]) or "video.mp4"


# --- defensive field readers -------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _id(value: Any) -> str | None:
    # Discord sends snowflakes as strings; some servers and old fixtures use ints.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # beyond int->str digit limit: not a snowflake
            return None
    if isinstance(value, str) and value:
        return value
    return None


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and len(value) < 32:
        try:
            return int(value)
        except ValueError:
            return 0
    return 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _opt_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _mention_ids(value: Any) -> tuple[str, ...]:
    out: list[str] = []
    for item in _list(value):
        user_id = _id(item.get("id")) if isinstance(item, Mapping) else _id(item)
        if user_id and user_id not in out:
            out.append(user_id)
    return tuple(out)


def _attachment(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    out: dict[str, Any] = {}
    for key in _ATTACHMENT_KEYS:
        if key in value and value[key] is not None:
            out[key] = value[key]
    if "id" in out:
        out["id"] = _id(out["id"]) or ""
    return out or None


def _buttons(value: Any) -> tuple[tuple[str, str | None], ...]:
    out: list[tuple[str, str | None]] = []
    for row in _list(value):
        if not isinstance(row, Mapping) or row.get("type") != _ACTION_ROW:
            continue  # containers, sections and future layouts: not where the bot puts buttons
        for comp in _list(row.get("components")):
            if not isinstance(comp, Mapping) or comp.get("type") != _BUTTON:
                continue
            label = _opt_text(comp.get("label")) or _opt_text(_mapping(comp.get("emoji")).get("name")) or ""
            out.append((label, _opt_text(comp.get("custom_id"))))
    return tuple(out)
