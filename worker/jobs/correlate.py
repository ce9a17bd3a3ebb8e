"""Which in-flight job a bot event belongs to. Pure: no I/O, no state of its own.

Every session that can see a channel receives its messages, so "it arrived on my session" means
nothing. Strong ids decide first (interaction id, nonce, the message being or replying to one of
the job's messages); only when the message carries none of them do we fall back to what it
echoes, and then never onto a job that an id or mention contradicts.

Same-prompt jobs are interchangeable by content, so the fallback is deterministic (oldest first)
and relies on the caller's bookkeeping to keep them distinct: record `ack_message_id` on ACK, add
result message ids and bump `videos_collected` on RESULT, and drop completed jobs. An ACK then
only goes to a job that has none yet, and a result to a job that is not complete.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from worker.pixverse.echo import parse_key_tail
from worker.pixverse.events import BotEvent, BotEventKind, EchoedParams

__all__ = ["Correlation", "TrackedJob", "correlate", "match_job"]

# Replies that answer the command itself. One of these carrying a foreign interaction id is
# someone else's command and must not be claimed by prompt.
_COMMAND_REPLIES = frozenset(
    {
        BotEventKind.ACK,
        BotEventKind.PROGRESS,
        BotEventKind.MODERATED,
        BotEventKind.NO_SUBSCRIPTION,
        BotEventKind.THROTTLED,
        BotEventKind.FAILED,
    }
)
# Replies that come instead of an ack: without an echo they go to the oldest job still waiting.
_PRE_ACK = frozenset(
    {
        BotEventKind.ACK,
        BotEventKind.PROGRESS,
        BotEventKind.MODERATED,
        BotEventKind.NO_SUBSCRIPTION,
        BotEventKind.THROTTLED,
    }
)

_USER_MENTION = re.compile(r"<@!?(\d+)>")
# Discord markdown escapes: a backslash before ASCII punctuation (`\*`, `\_`, `\~`, ...).
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_WS = re.compile(r"\s+")
_TRUNCATION = ("...", "…")


@dataclass(slots=True)
class TrackedJob:
    """An in-flight job as the correlator sees it."""

    jobid: str
    channel_id: str
    user_id: str | None  # the account's Discord user id, when known
    prompt: str
    style: str
    negative_prompt: str | None
    aspect_ratio: str | None
    character: str | None
    interaction_id: str | None
    nonce: str | None
    ack_message_id: str | None
    seq: int  # submission order (oldest first = smaller)
    videos_collected: int = 0  # >0 when a split result is partially in
    result_message_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Correlation:
    jobid: str
    # Which rule decided, for the log line: interaction_id, nonce, ack_message, result_message,
    # reference, continuation, echo, oldest_waiting, sole_job.
    rule: str


def correlate(event: BotEvent, jobs: Sequence[TrackedJob], *, videos_per_result: int = 4) -> str | None:
    """The jobid `event` belongs to, or None when no job can claim it."""
    found = match_job(event, jobs, videos_per_result=videos_per_result)
    return found.jobid if found else None


def match_job(
    event: BotEvent, jobs: Sequence[TrackedJob], *, videos_per_result: int = 4
) -> Correlation | None:
    """Like `correlate`, but also says which rule matched."""
    snap = event.snapshot
    if snap.channel_id is None:
        return None
    candidates = sorted((j for j in jobs if j.channel_id == snap.channel_id), key=lambda j: j.seq)
    if not candidates:
        return None

    strong = _by_ids(event, candidates)
    if strong is not None or event.kind is BotEventKind.UNKNOWN:
        # An unrecognised message is kept and shown with its job when an id ties it to one, but
        # is never assigned by guesswork.
        return strong

    pool = [j for j in candidates if not _contradicted(event, j)]
    if event.kind is BotEventKind.RESULT:
        return _result_fallback(event.echo, pool, videos_per_result)
    return _reply_fallback(event, pool)


def _by_ids(event: BotEvent, jobs: list[TrackedJob]) -> Correlation | None:
    snap = event.snapshot
    if snap.interaction_id:
        for job in jobs:
            if job.interaction_id == snap.interaction_id:
                return Correlation(job.jobid, "interaction_id")
    if snap.nonce:
        for job in jobs:
            if job.nonce == snap.nonce:
                return Correlation(job.jobid, "nonce")
    if snap.id:
        for job in jobs:
            if job.ack_message_id == snap.id:
                return Correlation(job.jobid, "ack_message")  # progress edits of the ack
        for job in jobs:
            if snap.id in job.result_message_ids:
                return Correlation(job.jobid, "result_message")  # e.g. embeds resolved later
    ref = snap.reference_message_id
    if ref:
        for job in jobs:
            if ref == job.ack_message_id or ref in job.result_message_ids:
                return Correlation(job.jobid, "reference")
    return None


def _contradicted(event: BotEvent, job: TrackedJob) -> bool:
    """True when some id in the message says it is not this job's."""
    snap = event.snapshot
    if (
        event.kind in _COMMAND_REPLIES
        and snap.interaction_id
        and job.interaction_id
        and snap.interaction_id != job.interaction_id
    ):
        # A reply to another command. (A job whose own interaction id is unknown, because the
        # client missed INTERACTION_CREATE, stays eligible: nothing contradicts it.) Results are
        # exempt: the bot may deliver them outside the command's interaction.
        return True
    users = _user_evidence(event)
    if job.user_id and users and job.user_id not in users:
        return True
    # A job has exactly one ack; an edited message that is not that ack is somebody else's.
    return job.ack_message_id is not None and (
        event.kind is BotEventKind.ACK or (event.kind is BotEventKind.PROGRESS and snap.is_edit)
    )


def _result_fallback(
    echo: EchoedParams | None, pool: list[TrackedJob], videos_per_result: int
) -> Correlation | None:
    open_jobs = [j for j in pool if j.videos_collected < videos_per_result]
    partial = [j for j in open_jobs if j.videos_collected > 0]
    if echo is not None:
        # A job already part-way through a split result is the likeliest owner of the next part.
        for job in partial:
            if _echo_fits(echo, job):
                return Correlation(job.jobid, "continuation")
        for job in open_jobs:
            if _echo_fits(echo, job):
                return Correlation(job.jobid, "echo")
        return None
    # No echo (e.g. a bare continuation carrying only attachments): only when unambiguous.
    if len(partial) == 1:
        return Correlation(partial[0].jobid, "continuation")
    if len(open_jobs) == 1:
        return Correlation(open_jobs[0].jobid, "sole_job")
    return None


def _reply_fallback(event: BotEvent, pool: list[TrackedJob]) -> Correlation | None:
    kind = event.kind
    # Replies that replace the ack go to jobs still waiting for one first; same-prompt jobs are
    # answered in submission order.
    waiting = [j for j in pool if j.ack_message_id is None]
    ordered = [*waiting, *(j for j in pool if j.ack_message_id is not None)] if kind in _PRE_ACK else pool
    if event.echo is not None:
        for job in ordered:
            if _echo_fits(event.echo, job):
                return Correlation(job.jobid, "echo")
        return None
    if kind in _PRE_ACK and waiting:
        return Correlation(waiting[0].jobid, "oldest_waiting")
    if len(pool) == 1:
        return Correlation(pool[0].jobid, "sole_job")
    return None


def _user_evidence(event: BotEvent) -> set[str]:
    snap = event.snapshot
    users = set(snap.mention_ids)
    users.update(_USER_MENTION.findall(snap.content[:16_000]))
    if snap.interaction_user_id:
        users.add(snap.interaction_user_id)
    return users


# --- echo comparison ---------------------------------------------------------------------------


def _echo_fits(echo: EchoedParams, job: TrackedJob) -> bool:
    if echo.prompt is not None and _same_text(echo.prompt, job.prompt) and _params_fit(echo, job):
        return _same_token(echo.style, job.style)
    # The split may be ambiguous (a negative prompt containing " style: "): check the echoed
    # body against what this job would make the bot echo, i.e. the job's own prompt and style
    # followed by nothing but well-formed keys that agree with the job.
    if not echo.body:
        return False
    body = _norm(echo.body)
    expected = _norm(f"{job.prompt} style: {job.style}")
    if body == expected:
        return True
    if not body.startswith(expected + " "):
        return False
    keys = parse_key_tail(body[len(expected) :])
    return keys is not None and _params_fit(keys, job)


def _params_fit(echo: EchoedParams, job: TrackedJob) -> bool:
    """The optional parameters agree wherever both sides have them (the result echo omits some)."""
    if (
        echo.negative_prompt
        and job.negative_prompt
        and not _same_text(echo.negative_prompt, job.negative_prompt)
    ):
        return False
    return _same_token(echo.aspect_ratio, job.aspect_ratio) and _same_token(echo.character, job.character)


def _same_text(echoed: str, ours: str) -> bool:
    a, b = _norm(echoed), _norm(ours)
    if a == b:
        return True
    # Long prompts may come back shortened with an ellipsis.
    for mark in _TRUNCATION:
        if a.endswith(mark) and len(a) > len(mark) + 8:
            return b.startswith(a[: -len(mark)].rstrip())
    return False


def _same_token(echoed: str | None, ours: str | None) -> bool:
    """Enum-like values ("3D Animation", "16:9", "kamisatoayaka") compared loosely; a side that
    is absent cannot contradict."""
    if not echoed or not ours:
        return True
    return _token(echoed) == _token(ours)


def _token(value: str) -> str:
    # Keep ':' so "16:9" and "1:69" stay different.
    return "".join(ch for ch in value.casefold() if ch.isalnum() or ch == ":")


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _MD_ESCAPE.sub(r"\1", text)
    return _WS.sub(" ", text).strip().casefold()
