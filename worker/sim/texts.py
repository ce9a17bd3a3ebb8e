"""Every text the simulated PixVerse bot writes, and the shapes of its messages, in one place.

Known from the real bot (seed file and field notes): the ack text ("We are making videos..."),
the result text (mention + echoed options + ``Author:``), the moderation text, the buttons
U1-U4 / V1-V4 / ReDo / 🔀. Everything else here (progress, failure, throttle, no-subscription,
upscale/variation texts, custom_ids, file names) is the sim's stand-in where the real text is
unknown; the daemon's reply matchers are data precisely because of that.
"""

from __future__ import annotations

from typing import Any

# The order in which the bot echoes options, with the bot's own (hyphenated) names.
ECHO_ORDER = ("prompt", "style", "negative-prompt", "aspect-ratio", "character")

MODERATION_CHANNEL_LINK = "https://discord.com/channels/1140860020586713128/1168473004498501652"

# Real (seed): first reply to /create.
ACK = "<@{uid}> We are making videos. We will notify you when it's done. ({options}) Author: <@{uid}>"
# Stand-in: progress is appended to the ack on edit.
PROGRESS_SUFFIX = "\nProgress: {percent}%"
# Real (field notes): the result carries only the mention and the echoed options.
RESULT = "<@{uid}> ({options}) Author: <@{uid}>"
# Stand-in: result_split sends the videos over several messages.
RESULT_PART = "<@{uid}> ({options}) Author: <@{uid}> [{part}/{parts}]"
# Real (field notes), verbatim.
MODERATION = (
    "Apologies! Our AI moderator thinks this prompt or images as potentially violating our "
    f"[community guidelines](<{MODERATION_CHANNEL_LINK}>)."
)
# Stand-ins.
NO_SUBSCRIPTION = (
    "<@{uid}> You don't have an active subscription. Please subscribe to continue generating videos."
)
THROTTLED = (
    "<@{uid}> You have reached the maximum number of concurrent generations. "
    "Please wait for your current videos to finish."
)
FAILED = "<@{uid}> Sorry, video generation failed. Please try again later. ({options}) Author: <@{uid}>"
UPSCALED = "<@{uid}> Upscaled video {index} ({options}) Author: <@{uid}>"
VARIATION = "<@{uid}> Variations of video {index} ({options}) Author: <@{uid}>"
REDO = "<@{uid}> ({options}) Author: <@{uid}>"
NOT_SUPPORTED = "<@{uid}> This command is not available right now."

# Stand-in custom_ids: "pixverse:<action>:<index>:<job key>".
CUSTOM_ID = "pixverse:{action}:{index}:{job}"
SHUFFLE_EMOJI = "🔀"

VIDEO_WIDTH = {"16:9": 1280, "9:16": 720, "1:1": 1024, "4:3": 1024, "3:4": 768}
VIDEO_HEIGHT = {"16:9": 720, "9:16": 1280, "1:1": 1024, "4:3": 768, "3:4": 1024}


def echo_options(options: dict[str, Any], keys: tuple[str, ...] = ECHO_ORDER) -> str:
    """``prompt: P style: S negative-prompt: N ...`` with only the options that were given."""
    return " ".join(f"{k}: {options[k]}" for k in keys if options.get(k) not in (None, ""))


def ack(uid: int, options: dict[str, Any]) -> str:
    return ACK.format(uid=uid, options=echo_options(options))


def progress(ack_content: str, percent: int) -> str:
    return ack_content + PROGRESS_SUFFIX.format(percent=percent)


def result(uid: int, options: dict[str, Any], part: int = 0, parts: int = 1) -> str:
    if parts > 1:
        return RESULT_PART.format(uid=uid, options=echo_options(options), part=part, parts=parts)
    return RESULT.format(uid=uid, options=echo_options(options))


def failed(uid: int, options: dict[str, Any]) -> str:
    return FAILED.format(uid=uid, options=echo_options(options, ("prompt", "style")))


def no_subscription(uid: int) -> str:
    return NO_SUBSCRIPTION.format(uid=uid)


def throttled(uid: int) -> str:
    return THROTTLED.format(uid=uid)


def button(label: str, custom_id: str, *, emoji: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": 2, "style": 2, "custom_id": custom_id}
    if emoji is not None:
        data["emoji"] = {"name": emoji}
    else:
        data["label"] = label
    return data


def result_components(job: str, *, count: int = 4) -> list[dict[str, Any]]:
    """Action rows: U1..U4, V1..V4, then ReDo and 🔀 (only ReDo-less upscale row for one video)."""
    rows: list[dict[str, Any]] = []
    n = range(1, count + 1)
    rows.append(
        {
            "type": 1,
            "components": [button(f"U{i}", CUSTOM_ID.format(action="upscale", index=i, job=job)) for i in n],
        }
    )
    rows.append(
        {
            "type": 1,
            "components": [
                button(f"V{i}", CUSTOM_ID.format(action="variation", index=i, job=job)) for i in n
            ],
        }
    )
    rows.append(
        {
            "type": 1,
            "components": [
                button("ReDo", CUSTOM_ID.format(action="redo", index=0, job=job)),
                button("", CUSTOM_ID.format(action="shuffle", index=0, job=job), emoji=SHUFFLE_EMOJI),
            ],
        }
    )
    return rows


def video_filename(job: str, index: int) -> str:
    return f"pixverse_{job}_{index}.mp4"


def attachment(
    *, attachment_id: int, url: str, filename: str, size: int, aspect_ratio: str | None
) -> dict[str, Any]:
    ratio = aspect_ratio or "16:9"
    return {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url.replace("/attachments/", "/media-proxy/attachments/", 1),
        "content_type": "video/mp4",
        "width": VIDEO_WIDTH.get(ratio, 1280),
        "height": VIDEO_HEIGHT.get(ratio, 720),
        "flags": 0,
    }


def video_embed(url: str, aspect_ratio: str | None) -> dict[str, Any]:
    ratio = aspect_ratio or "16:9"
    w, h = VIDEO_WIDTH.get(ratio, 1280), VIDEO_HEIGHT.get(ratio, 720)
    return {"type": "video", "url": url, "video": {"url": url, "proxy_url": url, "width": w, "height": h}}
