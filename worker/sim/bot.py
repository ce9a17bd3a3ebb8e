"""The simulated PixVerse bot: answers /create and the result buttons with Discord messages.

Discord has already validated the invocation (see ``interactions.py``) when the bot is called;
the bot decides what to post: an ack (type 20 reply carrying ``interaction`` and
``interaction_metadata``), progress edits, then the result as a NEW message with no ids at all
(only the mention and the echoed prompt), or one of the refusals. Texts live in ``texts.py``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import payloads, texts
from .gateway import interaction_event
from .media import sample_video

if TYPE_CHECKING:
    from .faults import Faults
    from .gateway import GatewayHub
    from .world import SimUser, World

log = logging.getLogger(__name__)

FLAG_LOADING = 1 << 7
MESSAGE_REPLY = 19


@dataclass
class SimBotSettings:
    """How the bot behaves; mutable at run time (``sim.bot.settings.result_delay = 0.2``)."""

    ack_delay: float = 0.05
    """Seconds from INTERACTION_CREATE to the bot's answer (INTERACTION_SUCCESS + ack message)."""
    progress_steps: list[int] = field(default_factory=list)
    """Percentages edited into the ack (MESSAGE_UPDATE), e.g. [25, 50, 75]."""
    progress_interval: float = 0.05
    result_delay: float = 0.3
    """Seconds from the ack to the result (progress edits happen inside this time)."""
    moderation_words: set[str] = field(default_factory=lambda: {"nsfw", "gore"})
    no_subscription_user_ids: set[int] = field(default_factory=set)
    throttle_limit: int = 10
    """Concurrent jobs per user before the throttle reply (the real bot throttles beyond 2)."""
    failure_rate: float = 0.0
    """Share of jobs that end with the failure message instead of a result."""
    no_answer_rate: float = 0.0
    """Share of interactions the bot never answers (Discord sends INTERACTION_FAILURE)."""
    failure_event_delay: float = 0.2
    """Seconds until INTERACTION_FAILURE for an unanswered interaction (real Discord: 3 s)."""
    seed: int | None = None
    # Variants of the result's shape.
    result_split: bool = False
    """4 result messages of one video each instead of one message with 4."""
    result_as_links: bool = False
    """Video URLs in the content instead of attachments."""
    result_as_embeds: bool = False
    """Videos as video embeds instead of attachments."""
    result_reference: bool = False
    """The result replies to the ack (``message_reference``); off is the worst case: no ids."""
    ack_with_reference: bool = False
    """Deferred answer: a "thinking" type 20 message, then the ack as a type 19 follow-up that
    references it, then the placeholder is deleted."""


@dataclass
class Job:
    key: str
    user: SimUser
    channel_id: int
    options: dict[str, Any]
    ack_id: int | None = None
    result_ids: list[int] = field(default_factory=list)
    done: bool = False


@dataclass
class InteractionContext:
    interaction_id: int
    user: SimUser
    channel_id: int
    session_id: str
    nonce: str | None
    name: str  # command name or custom_id
    type: int  # 2 command, 3 component
    options: dict[str, Any] = field(default_factory=dict)
    message_id: int | None = None


class SimBot:
    def __init__(self, world: World, hub: GatewayHub, faults: Faults, settings: SimBotSettings) -> None:
        self.world = world
        self.hub = hub
        self.faults = faults
        self.settings = settings
        self.user = world.bot_user
        self.cdn_base = ""
        self.jobs: dict[str, Job] = {}
        self._rng = random.Random(settings.seed)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(self._supervised(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _supervised(coro: Any) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("bot task failed")

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def active_jobs(self, user_id: int) -> int:
        return sum(1 for j in self.jobs.values() if j.user.id == user_id and not j.done)

    # -- public helpers --------------------------------------------------------------------

    async def post_message(
        self, channel_id: int, content: str = "", *, raw: dict[str, Any] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Post a message as the bot. ``raw`` keys override the built payload verbatim (explicit
        nulls, missing ids, odd shapes), for tests of the daemon's parser."""
        if raw is None:
            return self.world.create_message(channel_id, self.user, content, **fields)
        data = payloads.message(
            message_id=self.world.snowflakes.next(),
            channel_id=channel_id,
            guild_id=self.world.guild.id,
            author=self.user,
            content=content,
            **fields,
        )
        data.update(raw)
        return self.world.post_raw(channel_id, data)

    def video_url(self, channel_id: int, attachment_id: int, filename: str) -> str:
        # Real CDN links carry signed expiry parameters; clients must keep the query string.
        ex = secrets.token_hex(4)
        return (
            f"{self.cdn_base}/attachments/{channel_id}/{attachment_id}/{filename}"
            f"?ex={ex}&is={ex}&hm={secrets.token_hex(32)}&"
        )

    # -- interactions ----------------------------------------------------------------------

    async def handle(self, ctx: InteractionContext) -> None:
        """Run one interaction after Discord answered the POST with 204."""
        s = self.settings
        self.hub.dispatch_to_session(
            ctx.session_id, "INTERACTION_CREATE", interaction_event(ctx.interaction_id, ctx.nonce)
        )
        if self.faults.take_unanswered() or (s.no_answer_rate and self._rng.random() < s.no_answer_rate):
            await asyncio.sleep(s.failure_event_delay)
            self.hub.dispatch_to_session(
                ctx.session_id, "INTERACTION_FAILURE", interaction_event(ctx.interaction_id, ctx.nonce)
            )
            log.info("bot: interaction %s left unanswered", ctx.interaction_id)
            return
        await asyncio.sleep(s.ack_delay)
        self.hub.dispatch_to_session(
            ctx.session_id, "INTERACTION_SUCCESS", interaction_event(ctx.interaction_id, ctx.nonce)
        )
        if ctx.type == 3:
            await self._on_button(ctx)
        elif ctx.name in ("create", "create_single"):
            await self._on_create(ctx)
        else:
            self._reply(ctx, texts.NOT_SUPPORTED.format(uid=ctx.user.id))

    def _reply(
        self,
        ctx: InteractionContext,
        content: str,
        *,
        mention: bool = True,
        flags: int = 0,
        type: int = payloads.MESSAGE_CHAT_INPUT_COMMAND,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An interaction response: type 20 with legacy ``interaction`` and ``interaction_metadata``."""
        fields: dict[str, Any] = {
            "interaction": payloads.legacy_interaction(ctx.interaction_id, ctx.name, ctx.user),
            "interaction_metadata": payloads.interaction_metadata(ctx.interaction_id, ctx.name, ctx.user),
            "webhook_id": str(self.user.id),
        }
        fields.update(extra or {})
        return self.world.create_message(
            ctx.channel_id,
            self.user,
            content,
            type=type,
            flags=flags,
            mentions=[ctx.user] if mention else [],
            extra=fields,
        )

    async def _on_create(self, ctx: InteractionContext) -> None:
        s, uid, opts = self.settings, ctx.user.id, ctx.options
        if uid in s.no_subscription_user_ids:
            self._reply(ctx, texts.no_subscription(uid))
            return
        prompt = f"{opts.get('prompt', '')} {opts.get('negative-prompt', '')}".lower()
        if any(word.lower() in prompt for word in s.moderation_words):
            self._reply(ctx, texts.MODERATION, mention=False)
            return
        if self.active_jobs(uid) >= s.throttle_limit:
            self._reply(ctx, texts.throttled(uid))
            return
        job = Job(key=secrets.token_hex(6), user=ctx.user, channel_id=ctx.channel_id, options=opts)
        self.jobs[job.key] = job
        try:
            ack = self._post_ack(ctx, texts.ack(uid, opts))
            job.ack_id = int(ack["id"])
            await self._run_job(job, ack, count=1 if ctx.name == "create_single" else 4)
        finally:
            job.done = True

    def _post_ack(self, ctx: InteractionContext, content: str) -> dict[str, Any]:
        if not self.settings.ack_with_reference:
            return self._reply(ctx, content)
        placeholder = self._reply(ctx, "", mention=False, flags=FLAG_LOADING)
        ref = {
            "message_id": placeholder["id"],
            "channel_id": str(ctx.channel_id),
            "guild_id": str(self.world.guild.id),
            "type": 0,
        }
        ack = self._reply(ctx, content, type=MESSAGE_REPLY, extra={"message_reference": ref})
        self.world.delete_message(int(placeholder["id"]))
        return ack

    async def _run_job(self, job: Job, ack: dict[str, Any], *, count: int) -> None:
        s = self.settings
        waited = 0.0
        for percent in s.progress_steps:
            await asyncio.sleep(s.progress_interval)
            waited += s.progress_interval
            self.world.update_message(int(ack["id"]), content=texts.progress(ack["content"], percent))
        await asyncio.sleep(max(0.0, s.result_delay - waited))
        uid = job.user.id
        if s.failure_rate and self._rng.random() < s.failure_rate:
            self.world.create_message(
                job.channel_id, self.user, texts.failed(uid, job.options), mentions=[job.user]
            )
            log.info("bot: job %s failed", job.key)
            return
        self._post_result(job, texts.result(uid, job.options), count=count, reference_id=job.ack_id)

    def _post_result(
        self, job: Job, content: str, *, count: int, reference_id: int | None, with_buttons: bool = True
    ) -> None:
        s = self.settings
        videos = []
        for i in range(1, count + 1):
            attachment_id = self.world.snowflakes.next()
            filename = texts.video_filename(job.key, i)
            videos.append((attachment_id, filename, self.video_url(job.channel_id, attachment_id, filename)))
        extra: dict[str, Any] = {}
        if s.result_reference and reference_id is not None:
            extra["message_reference"] = {
                "message_id": str(reference_id),
                "channel_id": str(job.channel_id),
                "guild_id": str(self.world.guild.id),
                "type": 0,
            }
        groups = [[v] for v in videos] if s.result_split and count > 1 else [videos]
        for part, group in enumerate(groups, start=1):
            body = content if len(groups) == 1 else texts.result(job.user.id, job.options, part, len(groups))
            fields: dict[str, Any] = {"mentions": [job.user], "extra": dict(extra)}
            if s.result_as_links:
                body = body + "\n" + "\n".join(url for _, _, url in group)
            elif s.result_as_embeds:
                fields["embeds"] = [
                    texts.video_embed(url, job.options.get("aspect-ratio")) for _, _, url in group
                ]
            else:
                fields["attachments"] = [
                    texts.attachment(
                        attachment_id=aid,
                        url=url,
                        filename=name,
                        size=len(sample_video()),
                        aspect_ratio=job.options.get("aspect-ratio"),
                    )
                    for aid, name, url in group
                ]
            if with_buttons and part == len(groups):
                fields["components"] = texts.result_components(job.key, count=count)
            msg = self.world.create_message(job.channel_id, self.user, body, **fields)
            job.result_ids.append(int(msg["id"]))
        log.info("bot: job %s done in channel %s", job.key, job.channel_id)

    async def _on_button(self, ctx: InteractionContext) -> None:
        parts = ctx.name.split(":")
        job = self.jobs.get(parts[3]) if len(parts) == 4 else None
        if job is None:
            log.info("bot: button %s for an unknown job", ctx.name)
            return
        action, index = parts[1], int(parts[2]) if parts[2].isdigit() else 0
        uid = ctx.user.id
        if action != "upscale" and self.active_jobs(uid) >= self.settings.throttle_limit:
            self._reply(ctx, texts.throttled(uid), type=MESSAGE_REPLY)
            return
        new = Job(key=secrets.token_hex(6), user=ctx.user, channel_id=ctx.channel_id, options=job.options)
        self.jobs[new.key] = new
        try:
            await asyncio.sleep(self.settings.result_delay)
            options = texts.echo_options(job.options)
            if action == "upscale":
                content = texts.UPSCALED.format(uid=uid, index=index, options=options)
                self._post_result(new, content, count=1, reference_id=ctx.message_id, with_buttons=False)
            elif action == "variation":
                content = texts.VARIATION.format(uid=uid, index=index, options=options)
                self._post_result(new, content, count=4, reference_id=ctx.message_id)
            else:  # redo, shuffle
                self._post_result(
                    new, texts.REDO.format(uid=uid, options=options), count=4, reference_id=ctx.message_id
                )
        finally:
            new.done = True
