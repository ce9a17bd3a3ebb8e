"""The job as the API shows it: the hosted API's model, key order and masking."""

from __future__ import annotations

from typing import Any

from worker.db.models import Job
from worker.timeutil import iso_ms

STATUS_CODES = {"moderated": 422}


def mask_token(token: str | None) -> str | None:
    """The hosted API shows only the first 3 and last 3 characters of a Discord token."""
    if token is None:
        return None
    token = token.strip()
    if len(token) <= 8:
        # Too short to show any of it without giving most of it away.
        return "…secured…"
    return f"{token[:3]}…secured…{token[-3:]}"


def job_to_json(job: Job, *, callback: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobid": job.jobid,
        "verb": job.verb,
        "status": job.status,
        "created": iso_ms(job.created),
        "updated": iso_ms(job.updated),
        "prompt": job.prompt,
        "style": job.style,
        "negative_prompt": job.negative_prompt,
        "aspect_ratio": job.aspect_ratio,
        "character": job.character,
        "discord": job.discord_masked,
        "server": job.server,
        "channel": job.channel,
        "maxJobs": job.max_jobs,
        "replyUrl": job.reply_url,
        "replyRef": job.reply_ref,
        "messageId": job.message_id,
        "content": job.content,
        "timestamp": job.timestamp,
        "progress": job.progress,
        "attachments": job.attachments,
        "buttons": job.buttons,
        "embeds": job.embeds or None,
        "parentJobId": job.parent_job_id,
        "error": job.error,
        "errorDetails": job.error_details,
        "callback": callback,
        "code": job.code or STATUS_CODES.get(job.status, 200),
    }
    return {k: v for k, v in body.items() if v is not None}
