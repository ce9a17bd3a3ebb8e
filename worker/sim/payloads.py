"""Discord JSON shapes (users, members, guilds, channels, threads, messages, READY).

Pure functions from the sim's model to the dicts Discord sends. The fields are the ones the
real API sends and discord.py-self 2.1.0 reads; where the library indexes a key (``data['x']``)
it is always present here, because a missing key makes the library drop the whole event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .snowflake import iso_from_snowflake, now_iso

if TYPE_CHECKING:
    from .world import SimChannel, SimGuild, SimUser

# Permissions of @everyone in the PixVerse server: view, send, read history, use application
# commands, attach files, embed links, add reactions, send in threads.
EVERYONE_PERMISSIONS = str(
    (1 << 10) | (1 << 11) | (1 << 16) | (1 << 31) | (1 << 15) | (1 << 14) | (1 << 6) | (1 << 38)
)

CHANNEL_TEXT = 0
CHANNEL_PRIVATE_THREAD = 12

MESSAGE_DEFAULT = 0
MESSAGE_CHAT_INPUT_COMMAND = 20


def user(u: SimUser) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(u.id),
        "username": u.username,
        "discriminator": u.discriminator,
        "global_name": None if u.bot else u.username,
        "avatar": u.avatar,
        "avatar_decoration_data": None,
        "public_flags": u.public_flags,
        "clan": None,
        "primary_guild": None,
    }
    if u.bot:
        data["bot"] = True
    return data


def self_user(u: SimUser) -> dict[str, Any]:
    """The READY / ``GET /users/@me`` user: the public user plus private account fields."""
    data = user(u)
    data.update(
        {
            "email": f"{u.username}@example.invalid",
            "verified": True,
            "mfa_enabled": False,
            "phone": None,
            "premium_type": 0,
            "flags": 0,
            "locale": "en-US",
            "nsfw_allowed": True,
            "bio": "",
            "banner": None,
            "accent_color": None,
            "banner_color": None,
            "purchased_flags": 0,
            "premium_usage_flags": 0,
            "mobile": False,
            "desktop": True,
        }
    )
    return data


def member(guild: SimGuild, u: SimUser, *, with_user: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": [],
        "joined_at": guild.joined_at(u.id),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "nick": None,
        "avatar": None,
        "banner": None,
        "flags": 0,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user(u)
    else:
        data["user_id"] = str(u.id)
    return data


def everyone_role(guild: SimGuild) -> dict[str, Any]:
    return {
        "id": str(guild.id),
        "name": "@everyone",
        "permissions": EVERYONE_PERMISSIONS,
        "position": 0,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


def channel(ch: SimChannel) -> dict[str, Any]:
    if ch.is_thread:
        return thread(ch)
    return {
        "id": str(ch.id),
        "type": CHANNEL_TEXT,
        "guild_id": str(ch.guild_id),
        "name": ch.name,
        "position": ch.position,
        "permission_overwrites": [],
        "parent_id": None,
        "topic": "Generate videos with /create",
        "nsfw": False,
        "rate_limit_per_user": 0,
        "last_message_id": str(ch.last_message_id) if ch.last_message_id else None,
        "flags": 0,
    }


def thread(ch: SimChannel) -> dict[str, Any]:
    created = iso_from_snowflake(ch.id)
    return {
        "id": str(ch.id),
        "type": CHANNEL_PRIVATE_THREAD,
        "guild_id": str(ch.guild_id),
        "parent_id": str(ch.parent_id),
        "owner_id": str(ch.owner_id),
        "name": ch.name,
        "last_message_id": str(ch.last_message_id) if ch.last_message_id else None,
        "message_count": ch.message_count,
        "total_message_sent": ch.message_count,
        "member_count": len(ch.member_ids),
        "member_ids_preview": [str(m) for m in sorted(ch.member_ids)][:50],
        "rate_limit_per_user": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 10080,
            "archive_timestamp": created,
            "locked": False,
            "invitable": False,
            "create_timestamp": created,
        },
    }


def guild(g: SimGuild, viewer_id: int) -> dict[str, Any]:
    """A READY guild (user-account format, with ``properties``) as seen by ``viewer_id``."""
    return {
        "id": str(g.id),
        "properties": {
            "id": str(g.id),
            "name": g.name,
            "icon": None,
            "splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(g.owner_id),
            "features": [],
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "preferred_locale": "en-US",
            "afk_timeout": 300,
            "afk_channel_id": None,
            "vanity_url_code": None,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "hub_type": None,
        },
        "channels": [channel(c) for c in g.text_channels()],
        "threads": [thread(c) for c in g.threads_visible_to(viewer_id)],
        "roles": [everyone_role(g)],
        "emojis": [],
        "stickers": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "member_count": g.member_count,
        "joined_at": g.joined_at(viewer_id),
        "large": g.member_count > 250,
        "lazy": True,
        "premium_subscription_count": 0,
        "data_mode": "full",
        "version": 0,
        "application_command_counts": {"1": 4},
    }


def message(
    *,
    message_id: int,
    channel_id: int,
    guild_id: int,
    author: SimUser,
    content: str,
    type: int = MESSAGE_DEFAULT,
    mentions: list[SimUser] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    embeds: list[dict[str, Any]] | None = None,
    components: list[dict[str, Any]] | None = None,
    flags: int = 0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A full message as MESSAGE_CREATE and ``GET /channels/{id}/messages`` carry it."""
    data: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "guild_id": str(guild_id),
        "type": type,
        "content": content,
        "author": user(author),
        "mentions": [user(m) for m in (mentions or [])],
        "mention_roles": [],
        "mention_everyone": False,
        "attachments": attachments or [],
        "embeds": embeds or [],
        "components": components or [],
        "timestamp": iso_from_snowflake(message_id),
        "edited_timestamp": None,
        "flags": flags,
        "pinned": False,
        "tts": False,
    }
    if author.bot:
        data["application_id"] = str(author.id)
    if extra:
        data.update(extra)
    return data


def interaction_user(u: SimUser) -> dict[str, Any]:
    return user(u)


def legacy_interaction(interaction_id: int, name: str, invoker: SimUser, type: int = 2) -> dict[str, Any]:
    """The deprecated ``message.interaction`` object (2.1.0 parses only this one)."""
    return {"id": str(interaction_id), "type": type, "name": name, "user": user(invoker)}


def interaction_metadata(interaction_id: int, name: str, invoker: SimUser, type: int = 2) -> dict[str, Any]:
    """The current ``message.interaction_metadata`` (2.1.0 ignores it; clients read it raw)."""
    return {
        "id": str(interaction_id),
        "type": type,
        "name": name,
        "command_type": 1,
        "user": user(invoker),
        "authorizing_integration_owners": {"0": str(invoker.guild_id)},
    }


def edited(data: dict[str, Any]) -> dict[str, Any]:
    data["edited_timestamp"] = now_iso()
    return data
