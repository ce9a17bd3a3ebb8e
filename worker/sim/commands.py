"""The PixVerse bot's application commands: their registration payloads and option checks.

Discord validates an invocation against the registered command before the bot ever sees it:
the command id and version (an outdated version is the 50035 "This command is outdated"),
option names, types, required options and choices. The errors mirror Discord's
``{"code": 50035, "message": "Invalid Form Body", "errors": {...}}`` shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .snowflake import SnowflakeGenerator

OPTION_STRING = 3
OPTION_INTEGER = 4
OPTION_ATTACHMENT = 11

STYLES = ("Realistic", "Anime", "3D Animation")
ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")
CHARACTERS = (
    "eula",
    "ganyu",
    "hutao",
    "kamisatoayaka",
    "keqing",
    "klee",
    "nahida",
    "ningguang",
    "raidenshogun",
    "xiangling",
    "yaemiko",
)
MOTIONS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10")


def _choices(values: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"name": v, "value": v} for v in values]


def _opt(
    name: str,
    description: str,
    *,
    type: int = OPTION_STRING,
    required: bool = False,
    choices: tuple[str, ...] = (),
) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type, "name": name, "description": description, "required": required}
    if choices:
        data["choices"] = _choices(choices)
    if type == OPTION_STRING:
        data["max_length"] = 512
    return data


# The bot's own option names; it echoes them with hyphens (``negative-prompt:``).
COMMAND_SPECS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "create": (
        "Generate 4 videos from a prompt",
        [
            _opt("prompt", "Describe the video you want", required=True),
            _opt("style", "The style of the video", required=True, choices=STYLES),
            _opt("negative-prompt", "What you don't want in the video"),
            _opt("aspect-ratio", "Aspect ratio of the video", choices=ASPECT_RATIOS),
            _opt("character", "Character (Anime style only)", choices=CHARACTERS),
        ],
    ),
    "create_single": (
        "Generate 1 video from a prompt",
        [
            _opt("prompt", "Describe the video you want", required=True),
            _opt("style", "The style of the video", required=True, choices=STYLES),
            _opt("negative-prompt", "What you don't want in the video"),
            _opt("aspect-ratio", "Aspect ratio of the video", choices=ASPECT_RATIOS),
            _opt("seed", "Seed", type=OPTION_INTEGER),
        ],
    ),
    "animate": (
        "Animate an image",
        [
            _opt("image", "The image to animate", type=OPTION_ATTACHMENT, required=True),
            _opt("prompt", "Describe the motion"),
            _opt("motion", "Motion strength", choices=MOTIONS),
            _opt("seed", "Seed", type=OPTION_INTEGER),
        ],
    ),
    "meme_face": (
        "Put a face into a meme video",
        [
            _opt("image", "A face photo", type=OPTION_ATTACHMENT, required=True),
            _opt("prompt", "Describe the video", required=True),
        ],
    ),
}


class CommandError(Exception):
    """An invocation Discord rejects with 400; ``body`` is Discord's JSON answer."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", "Invalid Form Body"))
        self.body = body


def invalid_form_body(errors: dict[str, Any]) -> CommandError:
    return CommandError({"code": 50035, "message": "Invalid Form Body", "errors": errors})


def _field_error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


@dataclass
class SimCommand:
    id: int
    name: str
    description: str
    options: list[dict[str, Any]]


class CommandRegistry:
    """The bot's global commands and the current registration version."""

    def __init__(self, *, application_id: int, snowflakes: SnowflakeGenerator) -> None:
        self.application_id = application_id
        self._snowflakes = snowflakes
        self.version = snowflakes.next()
        self.by_id: dict[int, SimCommand] = {}
        self.by_name: dict[str, SimCommand] = {}
        for name, (description, options) in COMMAND_SPECS.items():
            cmd = SimCommand(id=snowflakes.next(), name=name, description=description, options=options)
            self.by_id[cmd.id] = cmd
            self.by_name[name] = cmd

    def bump_version(self) -> int:
        self.version = self._snowflakes.next()
        return self.version

    def payload(self, cmd: SimCommand) -> dict[str, Any]:
        return {
            "id": str(cmd.id),
            "type": 1,
            "application_id": str(self.application_id),
            "version": str(self.version),
            "name": cmd.name,
            "description": cmd.description,
            "options": cmd.options,
            "default_member_permissions": None,
            "dm_permission": True,
            "contexts": None,
            "integration_types": [0],
            "nsfw": False,
            "global_popularity_rank": list(COMMAND_SPECS).index(cmd.name) + 1,
        }

    def index(self, application: dict[str, Any]) -> dict[str, Any]:
        """``GET /guilds/{id}/application-command-index``."""
        return {
            "applications": [application],
            "application_commands": [self.payload(c) for c in self.by_id.values()],
            "version": str(self.version),
        }

    def validate(self, data: dict[str, Any]) -> tuple[SimCommand, dict[str, Any]]:
        """Check an interaction's ``data``; return the command and its options by name."""
        try:
            command_id = int(data.get("id", 0))
        except (TypeError, ValueError):
            command_id = 0
        cmd = self.by_id.get(command_id)
        if cmd is None or data.get("name") not in (None, cmd.name):
            raise CommandError({"message": "Unknown application command", "code": 10063})
        if str(data.get("version")) != str(self.version):
            raise invalid_form_body(
                {
                    "data": _field_error(
                        "INTERACTION_APPLICATION_COMMAND_INVALID_VERSION",
                        "This command is outdated, please try again in a few minutes",
                    )
                }
            )
        raw_options = data.get("options") or []
        if not isinstance(raw_options, list):
            raise invalid_form_body(
                {"data": {"options": _field_error("LIST_TYPE_CONVERT", "Must be a list.")}}
            )
        specs = {o["name"]: o for o in cmd.options}
        values: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for i, opt in enumerate(raw_options):
            name = opt.get("name") if isinstance(opt, dict) else None
            spec = specs.get(name) if isinstance(name, str) else None
            if spec is None:
                errors[str(i)] = _field_error("APPLICATION_COMMAND_OPTION_INVALID", "Unknown option.")
                continue
            value = opt.get("value")
            if spec["type"] == OPTION_STRING and not isinstance(value, str):
                errors[str(i)] = _field_error("BASE_TYPE_STRING", "Must be a string.")
            elif "choices" in spec and value not in [c["value"] for c in spec["choices"]]:
                errors[str(i)] = _field_error("APPLICATION_COMMAND_OPTION_INVALID_CHOICE", "Invalid choice.")
            elif spec["type"] == OPTION_STRING and len(value) > spec.get("max_length", 6000):
                errors[str(i)] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 512 or fewer in length.")
            else:
                values[name] = value  # type: ignore[index]
        missing = [n for n, s in specs.items() if s.get("required") and n not in values]
        for name in missing:
            errors[name] = _field_error(
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_MISSING", "Required options missing."
            )
        if errors:
            raise invalid_form_body({"data": {"options": errors}})
        return cmd, values
