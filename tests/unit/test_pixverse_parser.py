"""classify() over recorded bot messages: every kind, ordering, and the operator's matchers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from worker.pixverse import BotEventKind, ReplyMatchers, classify, snapshot_from_payload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "messages"
M = ReplyMatchers()
U = "<@1150000000000000001>"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def bot(content: str, **extra: Any) -> dict[str, Any]:
    return {"id": "1", "channel_id": "2", "author": {"id": "3", "bot": True}, "content": content, **extra}


@pytest.mark.parametrize(
    ("name", "is_edit", "kind"),
    [
        ("ack", False, BotEventKind.ACK),
        ("progress_edit", True, BotEventKind.PROGRESS),
        ("result", False, BotEventKind.RESULT),
        ("result_reply", False, BotEventKind.RESULT),
        ("result_split_1", False, BotEventKind.RESULT),
        ("result_split_2", False, BotEventKind.RESULT),
        ("result_split_bare", False, BotEventKind.RESULT),
        ("result_links", False, BotEventKind.RESULT),
        ("result_embeds", False, BotEventKind.RESULT),
        ("unknown_components", False, BotEventKind.RESULT),
        ("moderated", False, BotEventKind.MODERATED),
        ("no_subscription", False, BotEventKind.NO_SUBSCRIPTION),
        ("throttled", False, BotEventKind.THROTTLED),
        ("failed", False, BotEventKind.FAILED),
        ("foreign_ack", False, BotEventKind.ACK),
        ("huge_unicode", False, BotEventKind.UNKNOWN),
        ("nulls", False, BotEventKind.UNKNOWN),
        ("missing_fields", False, BotEventKind.UNKNOWN),  # no author: not known to be the bot
    ],
)
def test_fixture_kinds(name: str, is_edit: bool, kind: BotEventKind) -> None:
    event = classify(snapshot_from_payload(load(name), is_edit=is_edit), M)
    assert event.kind is kind
    assert event.text == event.snapshot.content


def test_ack_event_details() -> None:
    event = classify(snapshot_from_payload(load("ack")), M)
    assert event.matched_pattern == "We are making videos"
    assert (
        event.echo is not None and event.echo.style == "Realistic" and event.echo.character == "kamisatoayaka"
    )
    assert event.percent is None and event.videos == ()


def test_progress_percent() -> None:
    event = classify(snapshot_from_payload(load("progress_edit"), is_edit=True), M)
    assert event.percent == 45
    assert event.matched_pattern == M.progress[0]
    assert event.echo is not None and event.echo.negative_prompt == "sand"


def test_progress_on_new_message_needs_ack_text() -> None:
    with_ack = classify(
        snapshot_from_payload(bot(f"{U} We are making videos. (prompt: x style: Anime)\n7%")), M
    )
    assert (with_ack.kind, with_ack.percent) == (BotEventKind.PROGRESS, 7)
    stray = classify(snapshot_from_payload(bot("Sale: 30% off")), M)
    assert stray.kind is BotEventKind.UNKNOWN


def test_progress_takes_the_latest_value_and_clamps() -> None:
    event = classify(
        snapshot_from_payload(bot("We are making videos\nProgress: 10%\nProgress: 60%"), is_edit=True), M
    )
    assert event.percent == 60
    over = classify(snapshot_from_payload(bot("Progress: 250%"), is_edit=True), M)
    assert over.percent == 100


def test_edit_without_progress_is_still_an_ack() -> None:
    event = classify(snapshot_from_payload(load("ack"), is_edit=True), M)
    assert event.kind is BotEventKind.ACK


def test_result_details() -> None:
    event = classify(snapshot_from_payload(load("result")), M)
    assert len(event.videos) == 4
    assert event.buttons == ("U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "ReDo", "🔀")
    assert event.echo is not None and event.echo.aspect_ratio == "16:9" and event.echo.negative_prompt is None


def test_split_result_counts_only_its_own_videos() -> None:
    assert len(classify(snapshot_from_payload(load("result_split_1")), M).videos) == 2
    bare = classify(snapshot_from_payload(load("result_split_bare")), M)
    assert len(bare.videos) == 2 and bare.echo is None


def test_result_min_videos() -> None:
    strict = ReplyMatchers(result_min_videos=4)
    assert classify(snapshot_from_payload(load("result_split_1")), strict).kind is BotEventKind.UNKNOWN
    assert classify(snapshot_from_payload(load("result")), strict).kind is BotEventKind.RESULT


def test_ack_edited_into_result_is_a_result() -> None:
    payload = load("ack")
    payload["attachments"] = load("result")["attachments"]
    assert classify(snapshot_from_payload(payload, is_edit=True), M).kind is BotEventKind.RESULT


def test_error_texts_and_patterns() -> None:
    mod = classify(snapshot_from_payload(load("moderated")), M)
    assert mod.matched_pattern == "Apologies! Our AI moderator"
    assert mod.text.startswith("Apologies!")
    failed = classify(snapshot_from_payload(load("failed")), M)
    assert failed.matched_pattern == "(?i)generation failed"
    assert (
        failed.echo is not None and failed.echo.prompt is not None and failed.echo.prompt.startswith("Milla")
    )


def test_errors_win_over_ack_wording() -> None:
    content = f"{U} We are making videos... Sorry, something went wrong. (prompt: x style: Anime) Author: {U}"
    assert classify(snapshot_from_payload(bot(content)), M).kind is BotEventKind.FAILED


@pytest.mark.parametrize(
    "prompt",
    [
        "something went wrong in the city",
        "no subscription needed",
        "too many jobs at the factory",
        "Apologies! Our AI moderator is a robot",
        "100% cotton shirt",
    ],
)
def test_prompt_text_never_triggers_a_matcher(prompt: str) -> None:
    ack = f"{U} We are making videos. We'll notify you. (prompt: {prompt} style: Anime) Author: {U}"
    event = classify(snapshot_from_payload(bot(ack)), M)
    assert event.kind is BotEventKind.ACK
    assert event.echo is not None and event.echo.prompt == prompt


def test_errors_in_embeds() -> None:
    payload = bot(
        "",
        embeds=[{"title": "Error", "description": "You have reached the maximum number of concurrent jobs"}],
    )
    assert classify(snapshot_from_payload(payload), M).kind is BotEventKind.THROTTLED


def test_non_bot_author_is_unknown() -> None:
    payload = load("ack")
    payload["author"]["bot"] = False
    assert classify(snapshot_from_payload(payload), M).kind is BotEventKind.UNKNOWN


def test_unknown_bot_message_is_kept_with_text() -> None:
    event = classify(
        snapshot_from_payload(bot(f"{U} Our servers are busy, your job is queued (position 3)")), M
    )
    assert event.kind is BotEventKind.UNKNOWN
    assert "queued" in event.text and event.matched_pattern is None


def test_operator_matchers_change_classification() -> None:
    custom = ReplyMatchers.model_validate(
        {"throttled": ["(?i)servers are busy"], "ack": ["(?i)job is queued", "We are making videos"]}
    )
    event = classify(snapshot_from_payload(bot("Our servers are busy, your job is queued")), custom)
    assert event.kind is BotEventKind.THROTTLED and event.matched_pattern == "(?i)servers are busy"
    assert classify(snapshot_from_payload(bot("Your job is queued")), custom).kind is BotEventKind.ACK
