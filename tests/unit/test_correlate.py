"""correlate(): strong ids first, then the echo; same-prompt jobs each get their own result."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from worker.jobs.correlate import TrackedJob, correlate, match_job
from worker.pixverse import BotEvent, BotEventKind, ReplyMatchers, classify, snapshot_from_payload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "messages"
M = ReplyMatchers()
USER = "1150000000000000001"
OTHER_USER = "1150000000000000777"
CHANNEL = "1170000000000000001"
ACK_ID = "1200000000000000101"
INTERACTION = "1200000000000000050"
PROMPT = "Milla Jovovich riding motorcycle in extreme stormy weather thru California desert"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def event(payload: dict[str, Any], *, is_edit: bool = False) -> BotEvent:
    return classify(snapshot_from_payload(payload, is_edit=is_edit), M)


def fixture_event(name: str, *, is_edit: bool = False) -> BotEvent:
    return event(load(name), is_edit=is_edit)


def job(jobid: str, seq: int, **overrides: Any) -> TrackedJob:
    base = TrackedJob(
        jobid=jobid,
        channel_id=CHANNEL,
        user_id=USER,
        prompt=PROMPT,
        style="Realistic",
        negative_prompt="sand",
        aspect_ratio="16:9",
        character="kamisatoayaka",
        interaction_id=None,
        nonce=None,
        ack_message_id=None,
        seq=seq,
    )
    return replace(base, **overrides)


def bot_message(mid: str, content: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": mid,
        "channel_id": CHANNEL,
        "author": {"id": "1150000000000000999", "bot": True},
        "content": content,
        "mentions": [{"id": USER}],
        **extra,
    }


def result_message(mid: str, content: str, n: int = 4, **extra: Any) -> dict[str, Any]:
    attachments = [
        {"id": f"{mid}{i}", "url": f"https://cdn.example/{mid}/{i}.mp4", "filename": f"{i}.mp4"}
        for i in range(n)
    ]
    return bot_message(mid, content, attachments=attachments, **extra)


def result_text(prompt: str = PROMPT, style: str = "Realistic") -> str:
    return f"<@{USER}> (prompt: {prompt} style: {style} aspect-ratio: 16:9) Author: <@{USER}>"


def ack_text(prompt: str = PROMPT) -> str:
    return (
        f"<@{USER}> We are making videos. We will notify you when it's done. "
        f"(prompt: {prompt} style: Realistic negative-prompt: sand aspect-ratio: 16:9 "
        f"character: kamisatoayaka) Author: <@{USER}>"
    )


# --- rule 1-4: strong ids ------------------------------------------------------------------------


def test_rule1_interaction_id_beats_everything() -> None:
    older_same_prompt = job("old", 1)
    ours = job("ours", 2, interaction_id=INTERACTION, prompt="a completely different prompt")
    found = match_job(fixture_event("ack"), [older_same_prompt, ours])
    assert found is not None and (found.jobid, found.rule) == ("ours", "interaction_id")


def test_rule2_nonce() -> None:
    payload = load("result_split_bare")
    payload["nonce"] = "1234567890123456789"
    jobs = [job("a", 1), job("b", 2, nonce="1234567890123456789")]
    assert correlate(event(payload), jobs) == "b"


def test_rule3_progress_edit_of_the_ack_message() -> None:
    payload = load("progress_edit")
    del payload["interaction"], payload["interaction_metadata"]
    jobs = [job("a", 1, ack_message_id="999"), job("b", 2, ack_message_id=ACK_ID)]
    found = match_job(event(payload, is_edit=True), jobs)
    assert found is not None and (found.jobid, found.rule) == ("b", "ack_message")


def test_rule3_edit_of_a_result_message() -> None:
    # Discord re-sends a result when it resolves embeds; it stays with the job that has it.
    rid = "1200000000000000201"
    jobs = [job("a", 1), job("b", 2, videos_collected=4, result_message_ids=frozenset({rid}))]
    found = match_job(fixture_event("result", is_edit=True), jobs)
    assert found is not None and (found.jobid, found.rule) == ("b", "result_message")


def test_rule4_reply_to_the_ack() -> None:
    jobs = [job("a", 1, ack_message_id="1"), job("b", 2, ack_message_id=ACK_ID)]
    found = match_job(fixture_event("result_reply"), jobs)
    assert found is not None and (found.jobid, found.rule) == ("b", "reference")


def test_rule4_reply_to_an_earlier_result_part() -> None:
    payload = result_message("77", "", n=2, message_reference={"message_id": "66"})
    jobs = [
        job("a", 1, videos_collected=2, result_message_ids=frozenset({"55"})),
        job("b", 2, videos_collected=2, result_message_ids=frozenset({"66"})),
    ]
    assert correlate(event(payload), jobs) == "b"


def test_only_jobs_in_the_channel() -> None:
    elsewhere = job("x", 1, channel_id="42", interaction_id=INTERACTION)
    assert correlate(fixture_event("ack"), [elsewhere]) is None
    assert correlate(fixture_event("result"), [replace(elsewhere, interaction_id=None)]) is None


# --- foreign commands ----------------------------------------------------------------------------


def test_foreign_ack_is_not_stolen() -> None:
    jobs = [job("a", 1, interaction_id="111"), job("b", 2, interaction_id="222")]
    assert correlate(fixture_event("foreign_ack"), jobs) is None


def test_ack_with_unmatched_interaction_id_from_our_user_is_not_stolen() -> None:
    # Same user, same prompt, but the interaction id says it is another command.
    payload = load("ack")
    for key in ("interaction", "interaction_metadata"):
        payload[key]["id"] = "1200000000000000888"
    assert correlate(event(payload), [job("a", 1, interaction_id=INTERACTION + "0")]) is None


def test_ack_for_job_whose_interaction_id_was_missed() -> None:
    # INTERACTION_CREATE can beat the 204 and be missed: the job's id is unknown, nothing
    # contradicts it, so the echo decides.
    found = match_job(fixture_event("ack"), [job("a", 1, interaction_id=None)])
    assert found is not None and (found.jobid, found.rule) == ("a", "echo")


def test_other_users_mention_contradicts() -> None:
    payload = load("result")
    payload["content"] = payload["content"].replace(USER, OTHER_USER)
    payload["mentions"] = [{"id": OTHER_USER}]
    assert correlate(event(payload), [job("a", 1)]) is None
    # Unknown account user id: the mention cannot contradict.
    assert correlate(event(payload), [job("a", 1, user_id=None)]) == "a"


def test_result_with_foreign_interaction_id_still_falls_back() -> None:
    payload = load("result")
    payload["interaction_metadata"] = {"id": "5555", "type": 2, "user": {"id": USER}}
    assert correlate(event(payload), [job("a", 1, interaction_id="1234")]) == "a"


# --- rule 5-6: continuation and echo ---------------------------------------------------------------


def test_rule6_echo_fallback_oldest_first() -> None:
    jobs = [job("b", 2), job("a", 1), job("c", 3, prompt="other")]
    found = match_job(fixture_event("result"), jobs)
    assert found is not None and (found.jobid, found.rule) == ("a", "echo")


def test_rule6_style_must_agree() -> None:
    jobs = [job("anime", 1, style="Anime"), job("real", 2)]
    assert correlate(fixture_event("result"), jobs) == "real"
    assert correlate(fixture_event("result"), [job("anime", 1, style="Anime")]) is None


def test_rule6_aspect_ratio_and_negative_prompt_must_agree_when_both_known() -> None:
    jobs = [job("square", 1, aspect_ratio="1:1"), job("wide", 2)]
    assert correlate(fixture_event("result"), jobs) == "wide"
    jobs = [job("neg", 1, negative_prompt="rain"), job("sand", 2)]
    assert correlate(fixture_event("ack"), jobs) == "sand"


def test_rule6_whitespace_and_markdown_escapes() -> None:
    echoed = r"a  \*bold\*   cat_with\_underscores" + "\n  on a    mat"
    payload = result_message("9", result_text(echoed))
    assert correlate(event(payload), [job("a", 1, prompt="a *bold* cat_with_underscores on a mat")]) == "a"


def test_rule6_prompt_with_style_and_parentheses() -> None:
    prompt = "portrait (oil) style: impressionist, in the style: of Monet"
    payload = result_message("9", result_text(prompt, "Anime"))
    jobs = [job("plain", 1, prompt="portrait (oil)"), job("ours", 2, prompt=prompt, style="Anime")]
    assert correlate(event(payload), jobs) == "ours"


def test_rule6_ambiguous_split_checked_against_the_job() -> None:
    # The negative prompt holds " style: ", so the parser's split is wrong; the body still fits.
    neg = "blurry style: ugly"
    content = (
        f"<@{USER}> We are making videos. (prompt: cat style: Anime negative-prompt: {neg}) Author: <@{USER}>"
    )
    ours = job("ours", 1, prompt="cat", style="Anime", negative_prompt=neg, aspect_ratio=None, character=None)
    assert correlate(event(bot_message("9", content)), [ours]) == "ours"
    # A job whose prompt merely begins the same way does not fit.
    other = replace(ours, jobid="other", prompt="cat style: Anime blah")
    assert correlate(event(bot_message("9", content)), [other]) is None


def test_rule6_truncated_echo() -> None:
    long_prompt = "a very long prompt about " + "mountains and rivers " * 20
    payload = result_message("9", result_text(long_prompt[:120] + "…"))
    assert correlate(event(payload), [job("a", 1, prompt=long_prompt)]) == "a"


def test_rule5_split_result_continues_the_partial_job() -> None:
    jobs = [job("a", 1), job("b", 2, videos_collected=2, result_message_ids=frozenset({"x"}))]
    found = match_job(fixture_event("result_split_2"), jobs)
    assert found is not None and (found.jobid, found.rule) == ("b", "continuation")


def test_rule5_bare_continuation_only_when_unambiguous() -> None:
    one_partial = [job("a", 1), job("b", 2, videos_collected=2)]
    assert correlate(fixture_event("result_split_bare"), one_partial) == "b"
    two_partial = [job("a", 1, videos_collected=1), job("b", 2, videos_collected=2)]
    assert correlate(fixture_event("result_split_bare"), two_partial) is None
    assert correlate(fixture_event("result_split_bare"), [job("solo", 1)]) == "solo"


def test_complete_jobs_are_not_candidates_for_results() -> None:
    jobs = [job("done", 1, videos_collected=4), job("open", 2)]
    assert correlate(fixture_event("result"), jobs) == "open"
    assert correlate(fixture_event("result"), jobs[:1]) is None
    assert correlate(fixture_event("result"), jobs[:1], videos_per_result=8) == "done"


# --- replies other than results -------------------------------------------------------------------


def test_second_ack_goes_to_the_job_still_waiting() -> None:
    jobs = [job("a", 1, ack_message_id="500"), job("b", 2)]
    assert correlate(fixture_event("ack"), jobs) == "b"
    assert correlate(fixture_event("ack"), jobs[:1]) is None


def test_progress_edit_of_unknown_message_not_given_to_acked_job() -> None:
    jobs = [job("a", 1, ack_message_id="500")]
    assert correlate(fixture_event("progress_edit", is_edit=True), jobs) is None


def test_errors_by_interaction_id() -> None:
    jobs = [
        job("a", 1, interaction_id="1200000000000000051"),
        job("b", 2, interaction_id="1200000000000000052"),
    ]
    assert correlate(fixture_event("moderated"), jobs) == "a"
    assert correlate(fixture_event("no_subscription"), jobs) == "b"
    assert correlate(fixture_event("throttled"), jobs) is None  # its interaction is nobody's here


def test_errors_without_ids_go_to_the_oldest_waiting_job() -> None:
    payload = load("moderated")
    del payload["interaction"], payload["interaction_metadata"]
    jobs = [job("acked", 1, ack_message_id="500"), job("waiting", 2), job("later", 3)]
    found = match_job(event(payload), jobs)
    assert found is not None and (found.jobid, found.rule) == ("waiting", "oldest_waiting")


def test_failure_with_echo() -> None:
    jobs = [job("other", 1, prompt="x"), job("ours", 2, ack_message_id=ACK_ID)]
    assert correlate(fixture_event("failed"), jobs) == "ours"


def test_failure_without_echo_or_ids_needs_a_single_candidate() -> None:
    failure = event(bot_message("9", f"<@{USER}> Sorry, video generation failed."))
    assert failure.kind is BotEventKind.FAILED
    assert correlate(failure, [job("a", 1, ack_message_id="5")]) == "a"
    assert correlate(failure, [job("a", 1, ack_message_id="5"), job("b", 2, ack_message_id="6")]) is None


def test_unknown_messages_only_by_strong_ids() -> None:
    strange = bot_message("9", f"<@{USER}> Queue position 3 (prompt: {PROMPT} style: Realistic)")
    assert correlate(event(strange), [job("a", 1)]) is None
    strange["message_reference"] = {"message_id": ACK_ID}
    assert correlate(event(strange), [job("a", 1, ack_message_id=ACK_ID)]) == "a"


# --- five identical prompts on one account ---------------------------------------------------------


def _apply(found: str | None, ev: BotEvent, jobs: list[TrackedJob], per_result: int = 4) -> None:
    """The caller's bookkeeping: record the ack, collect results, drop finished jobs."""
    assert found is not None
    target = next(j for j in jobs if j.jobid == found)
    if ev.kind is BotEventKind.ACK:
        target.ack_message_id = ev.snapshot.id
    elif ev.kind is BotEventKind.RESULT:
        assert ev.snapshot.id is not None
        target.videos_collected += len(ev.videos)
        target.result_message_ids = target.result_message_ids | {ev.snapshot.id}
        if target.videos_collected >= per_result:
            jobs.remove(target)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("mode", ["whole", "split", "interleaved"])
def test_five_identical_prompts_get_distinct_results(seed: int, mode: str) -> None:
    rng = random.Random(seed)
    jobs = [job(f"j{i}", i) for i in range(5)]
    owners: dict[str, str] = {}
    # Acks arrive in submission order, without ids (worst case).
    for i in range(5):
        ev = event(bot_message(f"ack{i}", ack_text()))
        found = correlate(ev, jobs)
        _apply(found, ev, jobs)
        owners[f"ack{i}"] = found or ""
    assert sorted(owners.values()) == [f"j{i}" for i in range(5)]

    # Results arrive in any order; some reply to their ack, most carry nothing.
    messages: list[dict[str, Any]] = []
    order = list(range(5))
    rng.shuffle(order)
    for i in order:
        ref: dict[str, Any] = {"message_reference": {"message_id": f"ack{i}"}} if rng.random() < 0.3 else {}
        if mode == "whole":
            messages.append(result_message(f"r{i}", result_text(), **ref))
        else:
            messages.append(result_message(f"r{i}a", result_text(), n=2, **ref))
            messages.append(result_message(f"r{i}b", result_text(), n=2))
    if mode == "interleaved":
        # Two jobs' halves interleaved: indistinguishable without ids, yet no video is lost or shared.
        messages = messages[0::2] + messages[1::2]
    collected: dict[str, list[str]] = {}
    for payload in messages:
        ev = event(copy.deepcopy(payload))
        found = correlate(ev, jobs)
        assert found is not None
        collected.setdefault(found, []).extend(v["url"] for v in ev.videos)
        _apply(found, ev, jobs)

    assert jobs == []  # every job completed
    assert sorted(collected) == [f"j{i}" for i in range(5)]
    all_urls = [u for urls in collected.values() for u in urls]
    assert all(len(urls) == 4 for urls in collected.values())
    assert len(set(all_urls)) == 20  # nobody got someone else's video twice
