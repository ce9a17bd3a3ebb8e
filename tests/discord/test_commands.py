"""Pure command discovery and option building over raw index payloads."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from worker.config import PixverseSettings
from worker.discord.commands import BotCommand, CommandNotFound, OptionBuilder, find_command, is_outdated
from worker.sim.commands import CommandRegistry
from worker.sim.snowflake import SnowflakeGenerator

BOT_ID = "1140860020586713000"


def _index(app_name: str = "PixVerse") -> dict[str, Any]:
    registry = CommandRegistry(application_id=int(BOT_ID), snowflakes=SnowflakeGenerator())
    other = {"id": "999", "type": 1, "application_id": "42", "version": "1", "name": "create", "options": []}
    index = registry.index({"id": BOT_ID, "name": app_name})
    index["applications"].append({"id": "42", "name": "Other Bot"})
    index["application_commands"].insert(0, other)
    return index


def _create() -> BotCommand:
    return find_command(_index(), command_name="create", application_id=None, application_name="pixverse")


def test_find_by_application_name_case_insensitive() -> None:
    cmd = _create()
    assert cmd.application_id == BOT_ID and cmd.name == "create"
    assert set(cmd.options) == {"prompt", "style", "negative-prompt", "aspect-ratio", "character"}


def test_find_by_application_id_wins_over_name() -> None:
    cmd = find_command(
        _index("Renamed"), command_name="create", application_id="42", application_name="PixVerse"
    )
    assert cmd.id == "999"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"command_name": "create", "application_id": None, "application_name": "Nope"},
            "application named 'Nope'",
        ),
        ({"command_name": "imagine", "application_id": None, "application_name": "PixVerse"}, "/imagine"),
        ({"command_name": "create", "application_id": "7", "application_name": "PixVerse"}, "application 7"),
    ],
)
def test_not_found_says_what_was_looked_for(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(CommandNotFound, match=message):
        find_command(_index(), **kwargs)


def test_interaction_data_matches_the_library_shape() -> None:
    cmd = _create()
    data = cmd.interaction_data([{"name": "prompt", "type": 3, "value": "x"}])
    assert data == {
        "application_command": cmd.payload,
        "attachments": [],
        "id": cmd.id,
        "name": "create",
        "options": [{"name": "prompt", "type": 3, "value": "x"}],
        "type": 1,
        "version": cmd.version,
    }


def test_options_map_choices_and_drop_empty_fields() -> None:
    builder = OptionBuilder(PixverseSettings().option_names)
    options = builder.build(
        _create(),
        {
            "prompt": "p",
            "style": "3d animation",
            "negative_prompt": "  ",
            "aspect_ratio": "1:1",
            "character": "klee",
        },
    )
    assert options == [
        {"name": "prompt", "type": 3, "value": "p"},
        {"name": "style", "type": 3, "value": "3D Animation"},
        {"name": "aspect-ratio", "type": 3, "value": "1:1"},
    ]


def test_character_only_with_anime() -> None:
    builder = OptionBuilder(PixverseSettings().option_names)
    options = builder.build(_create(), {"prompt": "p", "style": "ANIME", "character": "HuTao"})
    assert {o["name"]: o["value"] for o in options} == {"prompt": "p", "style": "Anime", "character": "hutao"}
    options = builder.build(_create(), {"prompt": "p", "style": "Realistic", "character": "hutao"})
    assert "character" not in {o["name"] for o in options}


def test_unknown_option_warned_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    builder = OptionBuilder({"prompt": "prompt", "seed": "seed"})
    for _ in range(3):
        assert builder.build(_create(), {"prompt": "p", "seed": 3}) == [
            {"name": "prompt", "type": 3, "value": "p"}
        ]
    assert caplog.text.count("has no option 'seed'") == 1


def test_is_outdated() -> None:
    body = {
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {
            "data": {
                "_errors": [
                    {
                        "code": "INTERACTION_APPLICATION_COMMAND_INVALID_VERSION",
                        "message": "This command is outdated",
                    }
                ]
            }
        },
    }
    assert is_outdated(body)
    assert not is_outdated(
        {"code": 50035, "message": "Invalid Form Body", "errors": {"data": {"options": {}}}}
    )
    assert not is_outdated({"code": 10063, "message": "Unknown application command"})
