"""A test double for the Discord driver only: everything else in the API tests is real."""

from __future__ import annotations

import json

from worker.db.jobs import JobStore
from worker.db.models import Job
from worker.driver import AccountView, SessionState, SessionStatus
from worker.errors import DiscordRateLimited
from worker.jobs.status import JobStatus

BOT_USER = "1100000000000000001"
RATE_LIMIT_BODY = json.dumps({"global": True, "message": "You are being rate limited.", "retry_after": 10})
MODERATION_TEXT = (
    "Apologies! Our AI moderator thinks this prompt or images as potentially violating our "
    "[community guidelines](<https://discord.com/channels/1140860020586713128/1168473004498501652>)."
)


def ack_content(job: Job, user: str = BOT_USER) -> str:
    params = f"prompt: {job.prompt} style: {job.style}"
    if job.negative_prompt:
        params += f" negative-prompt: {job.negative_prompt}"
    if job.aspect_ratio:
        params += f" aspect-ratio: {job.aspect_ratio}"
    if job.character:
        params += f" character: {job.character}"
    return f"<@{user}> We are making videos. We will notify you when it's done. ({params}) Author: <@{user}>"


class FakeDriver:
    """Answers like the PixVerse bot would, straight away.

    ``mode``: ``ack`` (the bot acknowledges: started), ``moderated``, ``rate_limited``
    (Discord answers 429 to the interaction), ``silent`` (no answer at all).
    """

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.mode = "ack"
        self.sessions: dict[str, SessionStatus] = {}
        self.submitted: list[tuple[str, AccountView]] = []
        self._message_id = 1200000000000000000

    def ready(self, channel: str) -> None:
        self.sessions[channel] = SessionStatus(SessionState.READY, user_id=BOT_USER)

    def status(self, channel: str) -> SessionStatus | None:
        return self.sessions.get(channel)

    async def ensure_session(self, account: AccountView) -> SessionStatus:
        self.ready(account.channel)
        return self.sessions[account.channel]

    async def submit(self, job: Job, account: AccountView) -> None:
        self.submitted.append((job.jobid, account))
        if self.mode == "rate_limited":
            raise DiscordRateLimited(RATE_LIMIT_BODY, 10.0)
        self._message_id += 1
        if self.mode == "ack":
            await self.store.transition(
                job.jobid,
                JobStatus.STARTED,
                message_id=str(self._message_id),
                content=ack_content(job),
                timestamp="2023-09-09T02:04:51.926000+00:00",
            )
        elif self.mode == "moderated":
            await self.store.transition(
                job.jobid,
                JobStatus.MODERATED,
                message_id=str(self._message_id),
                error=MODERATION_TEXT,
                code=422,
            )
