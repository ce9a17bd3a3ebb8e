"""The PixVerse bot's slash command: discovery in the command index and option building.

Pure functions over raw payloads (``GET /guilds/{id}/application-command-index``), plus a small
per-session cache. Hard-coded command ids or versions break when the bot re-registers its
commands (Discord then answers 50035 "This command is outdated"), so the command is always
discovered at run time and refreshed on that error and after each re-identify.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

OPTION_STRING = 3
OPTION_INTEGER = 4
OPTION_NUMBER = 10
OPTION_BOOLEAN = 5

# API field whose value is only sent with the Anime style (the bot ignores or rejects it otherwise).
ANIME_ONLY_FIELD = "character"
ANIME_STYLE = "anime"

OUTDATED_MARKERS = ("INTERACTION_APPLICATION_COMMAND_INVALID_VERSION", "outdated")


class CommandNotFound(LookupError):
    """The command index has no matching command; the message says what was looked for."""


@dataclass(frozen=True, slots=True)
class BotCommand:
    """One discovered slash command, as the index gave it."""

    id: str
    name: str
    version: str
    application_id: str
    guild_id: str | None
    payload: dict[str, Any]
    options: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> BotCommand:
        options = {o["name"]: o for o in data.get("options") or [] if isinstance(o, dict) and "name" in o}
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            version=str(data["version"]),
            application_id=str(data["application_id"]),
            guild_id=str(data["guild_id"]) if data.get("guild_id") else None,
            payload=data,
            options=options,
        )

    def interaction_data(self, options: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``data`` of a ``POST /interactions`` type 2, as discord.py-self's SlashMixin builds it."""
        data: dict[str, Any] = {
            "application_command": self.payload,
            "attachments": [],
            "id": self.id,
            "name": self.name,
            "options": options,
            "type": 1,
            "version": self.version,
        }
        if self.guild_id:
            data["guild_id"] = self.guild_id
        return data


def find_command(
    index: dict[str, Any], *, command_name: str, application_id: str | None, application_name: str
) -> BotCommand:
    """Pick the command from an application-command index.

    By application id when configured, else by application name (case-insensitive); the command
    by its exact name. Raises ``CommandNotFound`` naming what was missing.
    """
    applications = [a for a in index.get("applications") or [] if isinstance(a, dict)]
    if application_id:
        app_ids = {str(application_id)}
        wanted = f"application {application_id}"
    else:
        name = application_name.casefold()
        app_ids = {str(a.get("id")) for a in applications if str(a.get("name", "")).casefold() == name}
        wanted = f"application named {application_name!r}"
        if not app_ids:
            seen = ", ".join(sorted(str(a.get("name")) for a in applications)) or "none"
            raise CommandNotFound(f"no {wanted} in the command index (applications: {seen})")
    for cmd in index.get("application_commands") or []:
        if (
            isinstance(cmd, dict)
            and cmd.get("name") == command_name
            and str(cmd.get("application_id")) in app_ids
            and cmd.get("type", 1) == 1
        ):
            return BotCommand.from_payload(cmd)
    raise CommandNotFound(f"no slash command /{command_name} of the {wanted} in the command index")


def is_outdated(body: Any) -> bool:
    """Whether Discord's 50035 answer says the command version is outdated."""
    if isinstance(body, dict):
        if body.get("code") not in (50035, None):
            return False
        text = repr(body.get("errors")) + " " + str(body.get("message", ""))
    else:
        text = str(body)
    return any(marker in text for marker in OUTDATED_MARKERS)


class OptionBuilder:
    """Maps a job's API fields to the bot's options; warns once per unknown option name."""

    def __init__(self, option_names: Mapping[str, str]) -> None:
        self._option_names = dict(option_names)
        self._warned: set[tuple[str, str]] = set()

    def build(self, command: BotCommand, fields: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``[{name, type, value}]`` in the command's option order.

        None/empty values are omitted; ``character`` only with the Anime style; choice values
        are matched case-insensitively against the discovered choices' names and values and
        sent as the bot's value; option names the command lacks are skipped.
        """
        style = str(fields.get("style") or "").strip().casefold()
        values: dict[str, Any] = {}
        for api_field, option_name in self._option_names.items():
            value = fields.get(api_field)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if api_field == ANIME_ONLY_FIELD and style != ANIME_STYLE:
                continue
            spec = command.options.get(option_name)
            if spec is None:
                key = (command.name, option_name)
                if key not in self._warned:
                    self._warned.add(key)
                    log.warning(
                        "/%s has no option %r (for field %s); it is not sent",
                        command.name,
                        option_name,
                        api_field,
                    )
                continue
            values[option_name] = _convert(spec, value)
        ordered = [name for name in command.options if name in values]
        return [
            {
                "name": name,
                "type": int(command.options[name].get("type", OPTION_STRING)),
                "value": values[name],
            }
            for name in ordered
        ]


def _convert(spec: dict[str, Any], value: Any) -> Any:
    choices = spec.get("choices") or []
    if choices:
        wanted = str(value).strip().casefold()
        for choice in choices:
            if wanted in (str(choice.get("name", "")).casefold(), str(choice.get("value", "")).casefold()):
                return choice.get("value")
    kind = spec.get("type", OPTION_STRING)
    if kind == OPTION_INTEGER:
        return int(value)
    if kind == OPTION_NUMBER:
        return float(value)
    if kind == OPTION_BOOLEAN:
        return bool(value)
    # No matching choice: send it as given and let Discord answer (400, a clear rejection).
    return str(value)


class CommandCache:
    """The discovered command of one session; one discovery at a time."""

    def __init__(self, fetch: Callable[[], Awaitable[BotCommand]]) -> None:
        self._fetch = fetch
        self._command: BotCommand | None = None
        self._lock = asyncio.Lock()

    @property
    def cached(self) -> BotCommand | None:
        return self._command

    def invalidate(self) -> None:
        self._command = None

    async def get(self) -> BotCommand:
        if self._command is not None:
            return self._command
        async with self._lock:
            if self._command is None:
                self._command = await self._fetch()
                log.info(
                    "discovered /%s (id %s, version %s)",
                    self._command.name,
                    self._command.id,
                    self._command.version,
                )
            return self._command

    async def refresh(self) -> BotCommand:
        self.invalidate()
        return await self.get()
