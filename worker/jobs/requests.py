"""A validated POST create request (the API's validation produces it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CreateRequest:
    prompt: str
    style: str
    negative_prompt: str | None = None
    aspect_ratio: str | None = None
    # Already dropped by validation unless style is Anime.
    character: str | None = None
    discord: str | None = None
    server: str | None = None
    channel: str | None = None
    max_jobs: int | None = None
    reply_url: str | None = None
    reply_ref: str | None = None
