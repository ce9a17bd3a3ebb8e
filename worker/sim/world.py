"""The sim's data model: users, the PixVerse guild, channels and threads, messages, commands.

One guild holds the bot and every account; each account gets its own private thread under the
``#pixverse`` channel, as the real PixVerse server gives each user a private thread. The world
is plain data plus an observer list: every message change is published as
``(event_name, payload, channel_id)`` and the gateway fans it out to the sessions that can see
the channel.
"""

from __future__ import annotations

import base64
import copy
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import payloads
from .commands import CommandRegistry
from .snowflake import SnowflakeGenerator, iso_from_snowflake, now_iso

log = logging.getLogger(__name__)

Observer = Callable[[str, dict[str, Any], int], None]


@dataclass
class SimUser:
    id: int
    username: str
    guild_id: int
    discriminator: str = "0"
    avatar: str | None = None
    bot: bool = False
    public_flags: int = 0


@dataclass(frozen=True)
class SimAccount:
    """What a test or the daemon config needs to log in as one user."""

    token: str
    user_id: int
    guild_id: int
    channel_id: int
    username: str


@dataclass
class SimChannel:
    id: int
    guild_id: int
    name: str
    parent_id: int | None = None
    owner_id: int = 0
    position: int = 0
    # Who can see a thread; empty for the text channel (everyone in the guild sees it).
    member_ids: set[int] = field(default_factory=set)
    last_message_id: int | None = None
    message_count: int = 0

    @property
    def is_thread(self) -> bool:
        return self.parent_id is not None


@dataclass
class SimGuild:
    id: int
    name: str
    owner_id: int
    channels: dict[int, SimChannel] = field(default_factory=dict)
    members: dict[int, str] = field(default_factory=dict)  # user id -> joined_at

    @property
    def member_count(self) -> int:
        return len(self.members)

    def joined_at(self, user_id: int) -> str:
        return self.members.get(user_id) or iso_from_snowflake(self.id)

    def text_channels(self) -> list[SimChannel]:
        return [c for c in self.channels.values() if not c.is_thread]

    def threads_visible_to(self, user_id: int) -> list[SimChannel]:
        return [c for c in self.channels.values() if c.is_thread and user_id in c.member_ids]


class World:
    """All state that survives a sim restart."""

    def __init__(self) -> None:
        self.snowflakes = SnowflakeGenerator()
        self._observers: list[Observer] = []
        self.users: dict[int, SimUser] = {}
        self.tokens: dict[str, int] = {}
        self.accounts: list[SimAccount] = []
        self.revoked_tokens: set[str] = set()
        self._messages: dict[int, list[dict[str, Any]]] = {}
        self._message_index: dict[int, dict[str, Any]] = {}

        self.bot_user = self._new_user("PixVerse", bot=True, discriminator="3781")
        self.bot_user.avatar = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
        self.bot_user.public_flags = 1 << 16  # verified bot
        self.owner = self._new_user("pixverse_owner")
        self.guild = SimGuild(id=self.snowflakes.next(), name="PixVerse", owner_id=self.owner.id)
        for u in (self.bot_user, self.owner):
            u.guild_id = self.guild.id
            self.guild.members[u.id] = now_iso()
        self.parent_channel = SimChannel(id=self.snowflakes.next(), guild_id=self.guild.id, name="pixverse")
        self.guild.channels[self.parent_channel.id] = self.parent_channel
        self.commands = CommandRegistry(application_id=self.bot_user.id, snowflakes=self.snowflakes)

    # -- observers -------------------------------------------------------------------------

    def subscribe(self, observer: Observer) -> None:
        self._observers.append(observer)

    def unsubscribe(self, observer: Observer) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def _publish(self, event: str, data: dict[str, Any], channel_id: int) -> None:
        for observer in list(self._observers):
            try:
                observer(event, data, channel_id)
            except Exception:
                log.exception("observer failed on %s for channel %s", event, channel_id)

    # -- users and accounts ----------------------------------------------------------------

    def _new_user(self, username: str, *, bot: bool = False, discriminator: str = "0") -> SimUser:
        u = SimUser(
            id=self.snowflakes.next(), username=username, guild_id=0, bot=bot, discriminator=discriminator
        )
        self.users[u.id] = u
        return u

    def add_account(self, username: str | None = None, *, channel_id: int | None = None) -> SimAccount:
        """A user account in the PixVerse guild, with its own private thread.

        With ``channel_id`` the account joins that existing thread instead, so that two
        accounts see one channel (Discord then sends each of them every message in it).
        """
        name = username or f"user{len(self.tokens) + 1}"
        u = self._new_user(name)
        u.guild_id = self.guild.id
        self.guild.members[u.id] = now_iso()
        if channel_id is None:
            thread = SimChannel(
                id=self.snowflakes.next(),
                guild_id=self.guild.id,
                name=f"{name}'s PixVerse thread",
                parent_id=self.parent_channel.id,
                owner_id=self.bot_user.id,
                member_ids={u.id, self.bot_user.id},
            )
            self.guild.channels[thread.id] = thread
        else:
            thread = self.guild.channels[channel_id]
            thread.member_ids.add(u.id)
        token = self._make_token(u.id)
        self.tokens[token] = u.id
        log.debug("account %s (%s) in channel %s", name, u.id, thread.id)
        acct = SimAccount(
            token=token, user_id=u.id, guild_id=self.guild.id, channel_id=thread.id, username=name
        )
        self.accounts.append(acct)
        return acct

    def add_accounts(self, n: int, *, prefix: str = "user") -> list[SimAccount]:
        start = len(self.tokens) + 1
        return [self.add_account(f"{prefix}{i}") for i in range(start, start + n)]

    @staticmethod
    def _make_token(user_id: int) -> str:
        # The real format: base64(user id) . timestamp part . HMAC part.
        head = base64.b64encode(str(user_id).encode()).decode().rstrip("=")
        return f"{head}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(27)}"

    def user_for_token(self, token: str | None) -> SimUser | None:
        if not token or token in self.revoked_tokens:
            return None
        user_id = self.tokens.get(token)
        return self.users.get(user_id) if user_id is not None else None

    def revoke_token(self, token: str) -> None:
        self.revoked_tokens.add(token)

    def tokens_of(self, user_id: int) -> list[str]:
        return [t for t, uid in self.tokens.items() if uid == user_id]

    # -- channels --------------------------------------------------------------------------

    def channel(self, channel_id: int) -> SimChannel | None:
        return self.guild.channels.get(channel_id)

    def can_see(self, user_id: int, channel_id: int) -> bool:
        ch = self.channel(channel_id)
        if ch is None or user_id not in self.guild.members:
            return False
        return not ch.is_thread or user_id in ch.member_ids

    # -- commands --------------------------------------------------------------------------

    def bump_command_version(self) -> int:
        """The bot re-registers its commands: a new version; invoking the old one gets 50035."""
        return self.commands.bump_version()

    # -- messages --------------------------------------------------------------------------

    def messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Copies of the messages in a channel, oldest first."""
        return copy.deepcopy(self._messages.get(channel_id, []))

    def message(self, message_id: int) -> dict[str, Any] | None:
        return self._message_index.get(message_id)

    def create_message(self, channel_id: int, author: SimUser, content: str, **fields: Any) -> dict[str, Any]:
        ch = self.guild.channels[channel_id]
        message_id = self.snowflakes.next()
        data = payloads.message(
            message_id=message_id,
            channel_id=channel_id,
            guild_id=self.guild.id,
            author=author,
            content=content,
            **fields,
        )
        self._store(ch, data)
        self._publish("MESSAGE_CREATE", copy.deepcopy(data), channel_id)
        return data

    def post_raw(self, channel_id: int, data: dict[str, Any]) -> dict[str, Any]:
        """Store and publish a message payload exactly as given (odd shapes for tests)."""
        ch = self.guild.channels[channel_id]
        data.setdefault("id", str(self.snowflakes.next()))
        data.setdefault("channel_id", str(channel_id))
        self._store(ch, data)
        self._publish("MESSAGE_CREATE", copy.deepcopy(data), channel_id)
        return data

    def _store(self, ch: SimChannel, data: dict[str, Any]) -> None:
        self._messages.setdefault(ch.id, []).append(data)
        self._message_index[int(data["id"])] = data
        ch.last_message_id = int(data["id"])
        ch.message_count += 1

    def update_message(self, message_id: int, **changes: Any) -> dict[str, Any] | None:
        data = self._message_index.get(message_id)
        if data is None:
            return None
        data.update(changes)
        payloads.edited(data)
        self._publish("MESSAGE_UPDATE", copy.deepcopy(data), int(data["channel_id"]))
        return data

    def delete_message(self, message_id: int) -> bool:
        data = self._message_index.pop(message_id, None)
        if data is None:
            return False
        channel_id = int(data["channel_id"])
        self._messages[channel_id].remove(data)
        event = {"id": str(message_id), "channel_id": str(channel_id), "guild_id": str(self.guild.id)}
        self._publish("MESSAGE_DELETE", event, channel_id)
        return True

    def history(
        self,
        channel_id: int,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[dict[str, Any]]:
        """``GET /channels/{id}/messages``: newest first, like Discord."""
        msgs = self._messages.get(channel_id, [])
        limit = max(1, min(limit, 100))
        if around is not None:
            older = [m for m in msgs if int(m["id"]) <= around][-((limit + 1) // 2) :]
            newer = [m for m in msgs if int(m["id"]) > around][: limit // 2]
            return list(reversed(older + newer))
        if after is not None:
            # Discord returns the `limit` messages right after `after`, still newest first.
            chosen = [m for m in msgs if int(m["id"]) > after][:limit]
            return list(reversed(chosen))
        if before is not None:
            msgs = [m for m in msgs if int(m["id"]) < before]
        return list(reversed(msgs[-limit:]))
