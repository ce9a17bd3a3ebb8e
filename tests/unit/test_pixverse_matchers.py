"""ReplyMatchers: defaults, operator overrides from YAML-like dicts, validation at load."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from worker.pixverse import PATTERN_KINDS, ReplyMatchers


def test_defaults_compile_and_are_documented() -> None:
    m = ReplyMatchers()
    for kind in PATTERN_KINDS:
        assert m.compiled(kind), kind
    for name, info in ReplyMatchers.model_fields.items():
        assert info.description, f"{name} needs a description for operators"
    assert (m.result_min_videos, m.videos_per_result) == (1, 4)


def test_custom_matchers_from_yaml_like_dict() -> None:
    # What `pixverse.matchers` in config.yaml becomes after yaml.safe_load.
    m = ReplyMatchers.model_validate(
        {
            "ack": ["Your video is on its way"],
            "progress": [r"(?P<percent>\d+) percent done"],
            "videos_per_result": 1,
        }
    )
    assert m.search("ack", "ok! Your video is on its way") is not None
    assert m.search("ack", "We are making videos") is None  # replaced, not appended
    hit = m.search("progress", "17 percent done")
    assert hit is not None and hit.group("percent") == "17"
    assert m.videos_per_result == 1
    assert m.moderated == ReplyMatchers().moderated  # untouched kinds keep defaults


def test_invalid_regex_names_field_and_index() -> None:
    with pytest.raises(ValidationError) as err:
        ReplyMatchers.model_validate({"failed": ["fine", "broken(["]})
    text = str(err.value)
    assert "failed" in text and "failed[1]" in text and "broken([" in text


def test_progress_pattern_needs_percent_group() -> None:
    with pytest.raises(ValidationError, match=r"progress\[0\].*percent"):
        ReplyMatchers(progress=[r"(\d+)%"])


def test_pattern_matching_everything_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"throttled\[0\]"):
        ReplyMatchers(throttled=[r".*"])


@pytest.mark.parametrize("bad", [{"unknown_kind": ["x"]}, {"result_min_videos": 0}, {"ack": "not a list"}])
def test_rejects_bad_config(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ReplyMatchers.model_validate(bad)


def test_frozen() -> None:
    m = ReplyMatchers()
    with pytest.raises(ValidationError):
        m.ack = ["x"]  # type: ignore[misc]
