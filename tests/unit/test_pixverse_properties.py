"""Property: no payload, however odd, makes the parsing layer raise."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.jobs.correlate import TrackedJob, correlate
from worker.pixverse import ReplyMatchers, classify, parse_echo, snapshot_from_payload, strip_echo, videos

M = ReplyMatchers()

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=60)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=15,
)
KNOWN_KEYS = [
    "id",
    "channel_id",
    "guild_id",
    "author",
    "type",
    "content",
    "timestamp",
    "edited_timestamp",
    "mentions",
    "attachments",
    "embeds",
    "components",
    "interaction",
    "interaction_metadata",
    "message_reference",
    "nonce",
    "flags",
]
# Known keys with arbitrary values reach deeper into the snapshot code than random keys do.
known_shaped = st.fixed_dictionaries({}, optional={k: json_values for k in KNOWN_KEYS})
# Echo-like content that exercises the parser's backtracking paths.
echo_words = st.sampled_from(
    [
        "(prompt:",
        "style:",
        "negative-prompt:",
        "aspect-ratio:",
        "character:",
        ")",
        "Author:",
        "(",
        " ",
        "\n",
        "We are making videos",
        "Progress: 5%",
        "https://x.example/a.mp4",
        "<@1>",
        "猫",
        "\\",
        "16:9",
    ]
)
echo_text = st.lists(echo_words | st.text(max_size=8), max_size=40).map("".join)


def _job(seq: int) -> TrackedJob:
    return TrackedJob(
        jobid=f"j{seq}",
        channel_id="2",
        user_id="1",
        prompt="x",
        style="Anime",
        negative_prompt=None,
        aspect_ratio=None,
        character=None,
        interaction_id=None,
        nonce=None,
        ack_message_id=None,
        seq=seq,
    )


def _run(payload: Any, is_edit: bool) -> None:
    snap = snapshot_from_payload(payload, is_edit=is_edit)
    videos(snap)
    event = classify(snap, M)
    correlate(event, [_job(1), _job(2)])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=8), st.booleans())
def test_arbitrary_dicts_never_raise(payload: dict[str, Any], is_edit: bool) -> None:
    _run(payload, is_edit)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(known_shaped, st.booleans())
def test_known_keys_with_odd_values_never_raise(payload: dict[str, Any], is_edit: bool) -> None:
    payload.setdefault("author", {"id": "3", "bot": True})
    _run(payload, is_edit)


@settings(max_examples=400)
@given(echo_text, st.booleans())
def test_echo_like_content_never_raises(content: str, is_edit: bool) -> None:
    parse_echo(content)
    strip_echo(content)
    _run({"id": "1", "channel_id": "2", "author": {"id": "3", "bot": True}, "content": content}, is_edit)


@given(st.text(max_size=80), st.sampled_from(["Realistic", "Anime", "3D Animation"]))
def test_echo_round_trip_for_prompts_without_key_words(prompt: str, style: str) -> None:
    # Any prompt that does not itself contain a key comes back exactly (modulo outer whitespace).
    if any(k in prompt.lower() for k in ("style:", "prompt:", "author:")):
        return
    echo = parse_echo(f"<@1> (prompt: {prompt} style: {style} aspect-ratio: 1:1) Author: <@1>")
    assert echo is not None
    assert echo.prompt == prompt.strip()
    assert echo.style == style and echo.aspect_ratio == "1:1"
