"""The reply tracker over recorded bot messages, on a real migrated SQLite file."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from worker.db.jobs import JobStore
from worker.db.models import Job
from worker.driver import AccountView
from worker.jobs.bot_messages import BotMessageStore
from worker.jobs.status import JobStatus
from worker.jobs.tracker import ReplyTracker, snowflake_at
from worker.metrics import Metrics
from worker.pixverse.matchers import ReplyMatchers
from worker.timeutil import utcnow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "messages"
CHANNEL = "1170000000000000001"
USER = "1150000000000000001"
PROMPT = "Milla Jovovich riding motorcycle in extreme stormy weather thru California desert"
ACCOUNT = AccountView(channel=CHANNEL, server="1140000000000000001", token="x" * 30, max_jobs=10)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def parts(sessions):
    store = JobStore(sessions)
    messages = BotMessageStore(sessions)
    tracker = ReplyTracker(store=store, bot_messages=messages, matchers=ReplyMatchers, metrics=Metrics())
    return store, messages, tracker


async def _job(store: JobStore, jobid: str, **fields: Any) -> None:
    defaults = dict(
        prompt=PROMPT,
        style="Realistic",
        negative_prompt="sand",
        aspect_ratio="16:9",
        character=None,
        channel=CHANNEL,
        discord_user_id=USER,
    )
    defaults.update(fields)
    await store.create(Job(jobid=jobid, **defaults))


async def test_ack_progress_result_complete_the_job(parts) -> None:
    store, messages, tracker = parts
    await _job(store, "j1", interaction_id="1200000000000000050")
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", fixture("ack"))
    job = await store.get("j1")
    assert job.status == "started" and job.message_id == "1200000000000000101"
    assert job.content.startswith(f"<@{USER}> We are making videos.")
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_UPDATE", fixture("progress_edit"))
    job = await store.get("j1")
    assert (job.status, job.progress) == ("progress", 45)
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", fixture("result"))
    job = await store.get("j1")
    assert job.status == "completed"
    assert len(job.attachments) == 4 and all(a["url"].startswith("https://") for a in job.attachments)
    assert job.buttons[:4] == ["U1", "U2", "U3", "U4"] and "ReDo" in job.buttons
    assert job.message_id == "1200000000000000201"
    assert await messages.list() == []


async def test_split_result_completes_only_when_all_videos_are_in(parts) -> None:
    store, _, tracker = parts
    await _job(store, "j1")
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", fixture("ack"))
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", fixture("result_split_1"))
    job = await store.get("j1")
    assert job.status == "started" and len(job.attachments) == 2
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", fixture("result_split_2"))
    job = await store.get("j1")
    assert job.status == "completed" and len(job.attachments) == 4


async def test_duplicated_events_do_not_double_count(parts) -> None:
    store, _, tracker = parts
    await _job(store, "j1")
    for _ in range(3):
        await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", fixture("result_split_1"))
    job = await store.get("j1")
    assert len(job.attachments) == 2 and job.status == "created"


@pytest.mark.parametrize(
    ("name", "status", "code", "error_start"),
    [
        ("moderated", "moderated", 422, "Apologies! Our AI moderator"),
        ("no_subscription", "failed", 402, "Account has no subscription or subscription expired"),
        ("throttled", "failed", 429, f"<@{USER}> You have reached the maximum number of concurrent"),
    ],
)
async def test_refusals_end_the_job_with_the_documented_code(parts, name, status, code, error_start) -> None:
    store, _, tracker = parts
    await _job(store, "j1")
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", fixture(name))
    job = await store.get("j1")
    assert (job.status, job.code) == (status, code)
    assert job.error.startswith(error_start)


async def test_unknown_and_odd_messages_are_kept_for_the_operator(parts) -> None:
    store, messages, tracker = parts
    await _job(store, "j1")
    odd = fixture("ack")
    odd["content"] = "PixVerse maintenance: the queue is paused for 10 minutes."
    odd["id"] = "1200000000000009999"
    odd.pop("interaction_metadata", None)
    odd.pop("interaction", None)
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", odd)
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", fixture("nulls"))
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", fixture("huge_unicode"))
    kept = await messages.list()
    contents = [m.get("content") for m in kept]
    assert "PixVerse maintenance: the queue is paused for 10 minutes." in contents
    assert all("raw" in m for m in kept)
    assert (await store.get("j1")).status == "created"


async def test_a_foreign_ack_is_not_stolen(parts) -> None:
    store, messages, tracker = parts
    await _job(store, "j1", interaction_id="1200000000000000050")
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", fixture("foreign_ack"))
    assert (await store.get("j1")).status == "created"
    assert [m["reason"] for m in await messages.list()] == ["unmatched"]


async def test_late_reply_for_a_cancelled_job_is_recorded_not_applied(parts) -> None:
    store, messages, tracker = parts
    await _job(store, "j1")
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", fixture("ack"))
    await store.transition("j1", JobStatus.CANCELLED)
    await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", fixture("result"))
    job = await store.get("j1")
    assert job.status == "cancelled" and not job.attachments
    [kept] = await messages.list()
    assert (kept["reason"], kept["jobid"], kept["kind"]) == ("late", "j1", "result")


async def test_five_identical_prompts_each_get_their_own_result(parts) -> None:
    store, _, tracker = parts
    for i in range(5):
        await _job(store, f"j{i}")
    for i in range(5):
        result = copy.deepcopy(fixture("result"))
        result["id"] = str(1200000000000000201 + i)
        for n, attachment in enumerate(result["attachments"]):
            attachment["url"] = f"https://cdn.example/{i}/{n}.mp4"
        await tracker.on_message(ACCOUNT, USER, "MESSAGE_CREATE", result)
    urls = []
    for i in range(5):
        job = await store.get(f"j{i}")
        assert job.status == "completed"
        urls.append({a["url"] for a in job.attachments})
        assert job.message_id == str(1200000000000000201 + i)  # oldest job, oldest result
    assert all(len(u) == 4 for u in urls) and len(set().union(*urls)) == 20


class FakeHistory:
    def __init__(self, payloads: list[dict[str, Any]]) -> None:
        self.payloads = payloads
        self.asked_after: str | None = None

    async def fetch_history(self, after_id: str | None, limit: int = 500) -> list[dict[str, Any]]:
        self.asked_after = after_id
        return self.payloads


async def test_on_ready_applies_results_that_arrived_while_away(parts) -> None:
    store, _, tracker = parts
    await _job(store, "j1", discord_user_id=None)
    history = FakeHistory([fixture("ack"), fixture("result")])
    await tracker.on_ready(ACCOUNT, USER, history)
    job = await store.get("j1")
    assert job.status == "completed" and job.discord_user_id == USER
    assert int(history.asked_after) < int(snowflake_at(utcnow()))
