"""The operator's YAML: errors name the key, secrets come from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.config import load_config, parse_config
from worker.errors import ConfigError

TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.GxYz12.abcdefghijklmnopqrstuvwxyz0123"

ACCOUNT = """
accounts:
  - discord: {token}
    server: "1140860020586713128"
    channel: "1168473004498501652"
    maxJobs: {max_jobs}
"""


def test_example_config_is_valid() -> None:
    text = (Path(__file__).resolve().parents[2] / "config.example.yaml").read_text()
    config = parse_config(text, environ={"PIXVERSE_API_TOKEN": "api-token-1", "DISCORD_TOKEN_A": TOKEN})
    assert config.accounts[0].max_jobs == 2
    assert config.accounts[0].discord.get_secret_value() == TOKEN
    assert config.callbacks.signing_secret is None  # ${PIXVERSE_SIGNING_SECRET:-} unset means unsigned
    assert config.pixverse.option_names["negative_prompt"] == "negative-prompt"


def test_defaults_point_at_real_discord_and_a_local_sqlite_file() -> None:
    config = parse_config("")
    assert config.discord.rest_base == "https://discord.com/api/v9"
    assert config.discord.gateway_base == "wss://gateway.discord.gg/"
    assert config.database.url.startswith("sqlite+aiosqlite:///")
    assert config.discord.interaction_gap_seconds >= 1.0


def test_error_names_the_key_and_the_problem() -> None:
    text = ACCOUNT.format(token=TOKEN, max_jobs=5) + ACCOUNT.format(token=TOKEN, max_jobs=5).replace(
        "accounts:", ""
    ).replace("1168473004498501652", "1168473004498501653") + ACCOUNT.format(
        token=TOKEN, max_jobs=12
    ).replace("accounts:", "").replace("1168473004498501652", "1168473004498501654")
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert str(err.value) == "accounts[2].maxJobs: must be between 1 and 10"


def test_every_problem_is_listed_and_no_traceback() -> None:
    text = "api:\n  port: 99999\n  tokenz: []\naccounts:\n  - server: abc\n    channel: '1168473004498501652'\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    lines = str(err.value).splitlines()
    assert "api.tokenz: unknown key" in lines
    assert any(line.startswith("api.port:") for line in lines)
    assert "accounts[0].discord: is required" in lines
    assert "accounts[0].server: must be a Discord id (a number of 15 to 21 digits)" in lines
    assert "Traceback" not in str(err.value)


def test_environment_interpolation_and_missing_variable() -> None:
    text = ACCOUNT.format(token="${TOKEN_A}", max_jobs=2)
    config = parse_config(text, environ={"TOKEN_A": TOKEN})
    assert config.accounts[0].discord.get_secret_value() == TOKEN
    with pytest.raises(ConfigError) as err:
        parse_config(text, environ={})
    assert str(err.value) == "accounts[0].discord: environment variable TOKEN_A is not set"
    assert parse_config("logging: {level: '${LVL:-DEBUG}'}", environ={}).logging.level == "DEBUG"


def test_duplicate_channels_are_refused() -> None:
    text = ACCOUNT.format(token=TOKEN, max_jobs=2) + ACCOUNT.format(token=TOKEN, max_jobs=2).replace(
        "accounts:", ""
    )
    with pytest.raises(ConfigError, match="configured twice"):
        parse_config(text)


def test_broken_yaml_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config: .* at line 2, column 9$"):
        parse_config("api:\n  port: : [\n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")


def test_invalid_matcher_regex_names_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("pixverse:\n  matchers:\n    moderated: ['(unclosed']\n")
    assert str(err.value).startswith("pixverse.matchers.moderated")


def test_secrets_are_repr_safe() -> None:
    config = parse_config(ACCOUNT.format(token=TOKEN, max_jobs=2) + "api: {tokens: [api-secret-123]}")
    assert TOKEN not in repr(config)
    assert "api-secret-123" not in repr(config)
    assert set(config.secrets()) == {TOKEN, "api-secret-123"}
