"""snapshot_from_payload and videos() over recorded gateway payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from worker.pixverse import MessageSnapshot, snapshot_from_payload, videos

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "messages"
USER = "1150000000000000001"
BOT = "1150000000000000999"
CHANNEL = "1170000000000000001"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_every_fixture_snapshots(name: str) -> None:
    snap = snapshot_from_payload(load(name))
    assert isinstance(snap, MessageSnapshot)
    assert isinstance(snap.content, str)
    assert all(isinstance(i, str) for i in snap.mention_ids)
    assert isinstance(videos(snap), list)


def test_ack_fields() -> None:
    payload = load("ack")
    snap = snapshot_from_payload(payload)
    assert snap.id == "1200000000000000101"
    assert snap.channel_id == CHANNEL
    assert snap.guild_id == "1140000000000000001"
    assert snap.author_id == BOT and snap.author_is_bot
    assert snap.type == 20
    assert snap.timestamp == "2024-05-01T10:00:00.000000+00:00"
    assert snap.edited_timestamp is None
    assert snap.mention_ids == (USER,)
    assert snap.interaction_id == "1200000000000000050"
    assert snap.interaction_user_id == USER
    assert snap.interaction_name == "create"
    assert snap.reference_message_id is None
    assert snap.is_edit is False
    assert snap.raw is payload
    assert videos(snap) == []


def test_interaction_metadata_preferred_over_legacy_interaction() -> None:
    snap = snapshot_from_payload(
        {
            "interaction_metadata": {"id": "111", "user": {"id": "7"}},
            "interaction": {"id": "222", "name": "create", "user": {"id": "8"}},
        }
    )
    assert (snap.interaction_id, snap.interaction_user_id, snap.interaction_name) == ("111", "7", "create")
    legacy_only = snapshot_from_payload({"interaction": {"id": 333, "user": {"id": 9}}})
    assert (legacy_only.interaction_id, legacy_only.interaction_user_id) == ("333", "9")


def test_progress_edit_is_flagged() -> None:
    snap = snapshot_from_payload(load("progress_edit"), is_edit=True)
    assert snap.is_edit
    assert snap.edited_timestamp == "2024-05-01T10:00:30.000000+00:00"
    assert snap.content.endswith("Progress: 45%")


def test_result_attachments_buttons_and_videos() -> None:
    snap = snapshot_from_payload(load("result"))
    assert [label for label, _ in snap.buttons] == [
        "U1",
        "U2",
        "U3",
        "U4",
        "V1",
        "V2",
        "V3",
        "V4",
        "ReDo",
        "🔀",
    ]
    assert snap.buttons[0][1] == "pv::u1::1200000000000000201"
    first = snap.attachments[0]
    # Normalized: only the known keys survive.
    assert set(first) == {"id", "url", "proxy_url", "filename", "content_type", "size", "width", "height"}
    found = videos(snap)
    assert len(found) == 4
    assert all(
        v["content_type"] == "video/mp4" and v["url"].startswith("https://cdn.discordapp.com/") for v in found
    )
    assert found[0]["filename"] == "pixverse_1.mp4" and found[0]["width"] == 1024


def test_reply_reference() -> None:
    snap = snapshot_from_payload(load("result_reply"))
    assert snap.type == 19
    assert snap.reference_message_id == "1200000000000000101"


def test_videos_from_links_in_content() -> None:
    found = videos(snapshot_from_payload(load("result_links")))
    assert [v["url"] for v in found] == [
        "https://cdn.pixverse.example/out/1/video.mp4?sig=x1",
        "https://cdn.pixverse.example/out/2/video.MP4",
        "https://cdn.pixverse.example/out/3/video.mp4?sig=x3",
        "https://cdn.pixverse.example/out/4/video.MP4",
    ]
    assert all(v["filename"] == "video.mp4" or v["filename"] == "video.MP4" for v in found)
    assert all(v["content_type"] == "video/mp4" for v in found)


def test_videos_from_embeds_keep_original_fields() -> None:
    found = videos(snapshot_from_payload(load("result_embeds")))
    assert len(found) == 4
    assert found[0] == {
        "url": "https://cdn.pixverse.example/e/1.mp4",
        "proxy_url": "https://images-ext.discordapp.net/e/1.mp4",
        "width": 1280,
        "height": 720,
        "filename": "1.mp4",
        "content_type": "video/mp4",
    }


def test_attachments_win_over_links_and_duplicates_collapse() -> None:
    snap = snapshot_from_payload(
        {
            "content": "also at https://x.example/a.mp4",
            "attachments": [
                {"id": "1", "url": "https://cdn.example/a.webm", "filename": "a.webm"},
                {"id": "1", "url": "https://cdn.example/a.webm", "filename": "a.webm"},
                {
                    "id": "2",
                    "url": "https://cdn.example/b.png",
                    "filename": "b.png",
                    "content_type": "image/png",
                },
                {
                    "id": "3",
                    "url": "https://cdn.example/c",
                    "filename": "c.bin",
                    "content_type": "video/quicktime",
                },
            ],
        }
    )
    found = videos(snap)
    assert [v["id"] for v in found] == ["1", "3"]
    assert found[0]["content_type"] == "video/webm"
    assert found[1]["content_type"] == "video/quicktime"


def test_explicit_nulls_everywhere() -> None:
    snap = snapshot_from_payload(load("nulls"))
    assert snap.id == "1200000000000000701"
    assert snap.content == "" and snap.type == 0 and snap.flags == 0
    assert snap.author_is_bot is False  # "bot": null is not a bot
    assert snap.mention_ids == () and snap.buttons == () and snap.embeds == ({"video": None, "url": None},)
    assert snap.attachments == ()  # an attachment of nulls carries nothing
    assert snap.interaction_id is None and snap.interaction_user_id is None
    assert videos(snap) == []


def test_unknown_component_types_are_ignored() -> None:
    snap = snapshot_from_payload(load("unknown_components"))
    assert snap.buttons == (("U1", "pv::u1"), ("Open", None))
    assert len(videos(snap)) == 4


def test_missing_fields_and_non_mapping_input() -> None:
    snap = snapshot_from_payload(load("missing_fields"))
    assert snap.id == "1200000000000001001" and snap.channel_id is None
    odd: Any
    for odd in (
        None,
        [],
        "text",
        5,
        {"id": True, "channel_id": 1.5, "mentions": "x", "components": {"a": 1}},
    ):
        result = snapshot_from_payload(odd)  # type: ignore[arg-type]
        assert result.id is None


def test_huge_unicode_content_kept_verbatim() -> None:
    payload = load("huge_unicode")
    snap = snapshot_from_payload(payload)
    assert snap.content == payload["content"]
    assert len(snap.content) > 10_000


def test_int_ids_become_strings() -> None:
    snap = snapshot_from_payload(
        {
            "id": 12,
            "channel_id": 34,
            "author": {"id": 56, "bot": True},
            "nonce": 78,
            "mentions": [{"id": 9}, 10],
        }
    )
    assert (snap.id, snap.channel_id, snap.author_id, snap.nonce) == ("12", "34", "56", "78")
    assert snap.mention_ids == ("9", "10")
