"""Typed configuration, loaded from one YAML file and validated at start-up.

Secrets can stay out of the file: any string value may use ``${ENV_VAR}`` or
``${ENV_VAR:-default}``. Errors name the key and the problem
(``accounts[2].maxJobs: must be between 1 and 10``) and never show a traceback.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from worker.errors import ConfigError
from worker.pixverse.matchers import ReplyMatchers

CONFIG_ENV = "PIXVERSE_WORKER_CONFIG"
DEFAULT_CONFIG_PATH = "config.yaml"
MAX_CONCURRENT_JOBS = 10

_SNOWFLAKE = re.compile(r"^\d{15,21}$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def is_snowflake(value: str) -> bool:
    return bool(_SNOWFLAKE.match(value))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ApiSettings(_Section):
    host: str = Field("127.0.0.1", description="Interface the HTTP API listens on.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port of the HTTP API (0 picks a free one).")
    tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Bearer tokens accepted by the API. At least one is required to serve the API.",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted; larger bodies get 413."
    )
    create_wait_seconds: float = Field(
        30.0,
        gt=0,
        description="How long POST create waits for the PixVerse bot's first reply before answering.",
    )
    shutdown_grace_seconds: float = Field(
        10.0, ge=0, description="On SIGTERM, how long in-flight HTTP requests may take to finish."
    )

    @field_validator("tokens")
    @classmethod
    def _tokens_not_empty(cls, tokens: list[SecretStr]) -> list[SecretStr]:
        for token in tokens:
            if not token.get_secret_value().strip():
                raise ValueError("tokens must not be empty strings")
        return tokens


class DatabaseSettings(_Section):
    url: str = Field(
        "sqlite+aiosqlite:///pixverse-worker.db",
        description="SQLAlchemy async URL. Default: a SQLite file in the working directory.",
    )
    busy_timeout_ms: int = Field(5000, ge=0, description="SQLite busy timeout, in milliseconds.")


class DiscordSettings(_Section):
    rest_base: str = Field("https://discord.com/api/v9", description="Discord REST base URL.")
    gateway_base: str = Field("wss://gateway.discord.gg/", description="Discord gateway URL.")
    interaction_gap_seconds: float = Field(
        1.5,
        ge=0.0,
        description="Minimum gap between two interactions of one account (pacing avoids bans; keep >= 1).",
    )
    identify_stagger_seconds: float = Field(
        0.0, ge=0, description="Delay between the IDENTIFYs of consecutive accounts at start."
    )
    adhoc_idle_seconds: float = Field(
        600.0, gt=0, description="An on-demand session for ad-hoc credentials closes after this idle time."
    )
    error_backoff_initial_seconds: float = Field(
        30.0, gt=0, description="First wait before retrying an account that is in error."
    )
    error_backoff_max_seconds: float = Field(
        3600.0, gt=0, description="Longest wait between retries of an account in error."
    )
    ready_timeout_seconds: float = Field(
        60.0, gt=0, description="How long an on-demand session may take to become ready."
    )

    @field_validator("rest_base", "gateway_base")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^(https?|wss?)://", value):
            raise ValueError("must be an http(s):// or ws(s):// URL")
        return value


class PixverseSettings(_Section):
    application_id: str | None = Field(
        None, description="The PixVerse bot's application id; commands are discovered by name when unset."
    )
    application_name: str = Field("PixVerse", description="The bot application's name (case-insensitive).")
    command_name: str = Field("create", description="Name of the slash command behind POST create.")
    option_names: dict[str, str] = Field(
        default_factory=lambda: {
            "prompt": "prompt",
            "style": "style",
            "negative_prompt": "negative-prompt",
            "aspect_ratio": "aspect-ratio",
            "character": "character",
        },
        description="API field -> the bot's option name.",
    )
    job_timeout_seconds: float = Field(
        900.0, gt=0, description="A job with no result after this long fails and frees its slot."
    )
    sweep_interval_seconds: float = Field(5.0, gt=0, description="How often timed-out jobs are swept.")
    matchers: ReplyMatchers = Field(
        default_factory=ReplyMatchers, description="Patterns that classify the bot's replies."
    )


class AccountSettings(_Section):
    discord: SecretStr = Field(description="The Discord user token of the account.")
    server: str = Field(description="Discord server (guild) id.")
    channel: str = Field(description="Discord channel id where /create is sent (the PixVerse thread).")
    max_jobs: int = Field(MAX_CONCURRENT_JOBS, alias="maxJobs", description="Jobs in parallel (1-10).")
    enabled: bool = Field(True, description="Disabled accounts keep no session and take no jobs.")
    reply_url: str | None = Field(None, alias="replyUrl", description="Default replyUrl of its jobs.")

    @field_validator("server", "channel", mode="before")
    @classmethod
    def _snowflake(cls, value: Any) -> str:
        text = str(value).strip()
        if not is_snowflake(text):
            raise ValueError("must be a Discord id (a number of 15 to 21 digits)")
        return text

    @field_validator("max_jobs")
    @classmethod
    def _max_jobs(cls, value: int) -> int:
        if not 1 <= value <= MAX_CONCURRENT_JOBS:
            raise ValueError(f"must be between 1 and {MAX_CONCURRENT_JOBS}")
        return value

    @field_validator("discord")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value


class CallbackSettings(_Section):
    default_reply_url: str | None = Field(None, description="replyUrl used when neither job nor account has one.")
    timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one delivery attempt.")
    initial_backoff_seconds: float = Field(2.0, gt=0, description="Wait before the first retry.")
    max_backoff_seconds: float = Field(600.0, gt=0, description="Longest wait between two attempts.")
    max_age_seconds: float = Field(
        86400.0, gt=0, description="A delivery still failing this long after the result is given up."
    )
    concurrency: int = Field(32, ge=1, description="Deliveries in flight at once, overall.")
    per_host_concurrency: int = Field(4, ge=1, description="Deliveries in flight at once to one host.")
    signing_secret: SecretStr | None = Field(
        None, description="When set, every delivery is signed with HMAC-SHA256 (X-Pixverse-Signature)."
    )
    send_progress: bool = Field(False, description="Also POST non-final statuses (started, progress).")
    refuse_private_targets: bool = Field(
        False, description="Refuse replyUrls resolving to loopback, private or link-local addresses."
    )
    shutdown_grace_seconds: float = Field(5.0, ge=0, description="At shutdown, time left to pending POSTs.")

    @field_validator("signing_secret", mode="before")
    @classmethod
    def _empty_secret_is_none(cls, value: Any) -> Any:
        # `${PIXVERSE_SIGNING_SECRET:-}` gives "" when unset: that means "unsigned".
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    @field_validator("default_reply_url", mode="before")
    @classmethod
    def _empty_url_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class LoggingSettings(_Section):
    level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING, ERROR.")
    json_lines: bool = Field(False, alias="json", description="Write JSON lines instead of readable text.")


class Config(_Section):
    api: ApiSettings = Field(default_factory=ApiSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    pixverse: PixverseSettings = Field(default_factory=PixverseSettings)
    accounts: list[AccountSettings] = Field(default_factory=list)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @model_validator(mode="after")
    def _unique_channels(self) -> Config:
        seen: set[str] = set()
        for account in self.accounts:
            if account.channel in seen:
                raise ValueError(f"accounts: channel {account.channel} is configured twice")
            seen.add(account.channel)
        return self

    def secrets(self) -> list[str]:
        """Every secret value in the config, for log scrubbing and tests."""
        values = [t.get_secret_value() for t in self.api.tokens]
        values += [a.discord.get_secret_value() for a in self.accounts]
        if self.callbacks.signing_secret is not None:
            values.append(self.callbacks.signing_secret.get_secret_value())
        return [v for v in values if v]


def config_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "config", environ: dict[str, str] | None = None) -> Config:
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{source}: {problem}{where}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    data = _interpolate(data, environ if environ is not None else dict(os.environ), ())
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_format_error(e) for e in exc.errors())) from None


def _interpolate(node: Any, environ: dict[str, str], loc: tuple[str | int, ...]) -> Any:
    if isinstance(node, dict):
        return {k: _interpolate(v, environ, (*loc, k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, environ, (*loc, i)) for i, v in enumerate(node)]
    if isinstance(node, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{_format_loc(loc)}: environment variable {name} is not set")

        return _ENV_REF.sub(replace, node)
    return node


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _format_error(error: Any) -> str:
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = "unknown key"
    elif error.get("type") == "missing":
        message = "is required"
    return f"{_format_loc(tuple(error.get('loc', ())))}: {message}"
