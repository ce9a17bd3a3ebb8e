"""parse_create / parse_account: every rule, every 400 text (seed texts verbatim)."""

from __future__ import annotations

from typing import Any

import pytest

from worker.api.validation import parse_account, parse_create
from worker.errors import ApiError

SERVER = "1140860020586713128"
CHANNEL = "1168473004498501652"
OK = {"prompt": "a cat", "style": "Realistic"}


def error_of(fields: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as info:
        parse_create(fields)
    assert info.value.code == 400
    return info.value.error


def account_error(fields: dict[str, Any], path: str = CHANNEL) -> str:
    with pytest.raises(ApiError) as info:
        parse_account(path, fields)
    assert info.value.code == 400
    return info.value.error


def test_minimal_request() -> None:
    req = parse_create(OK)
    assert (req.prompt, req.style) == ("a cat", "Realistic")
    assert req.discord is req.server is req.channel is req.max_jobs is None


def test_strings_are_trimmed_and_unknown_fields_ignored() -> None:
    req = parse_create({"prompt": "  a cat \n", "style": " Anime ", "character": " klee ", "whatever": "x"})
    assert (req.prompt, req.style, req.character) == ("a cat", "Anime", "klee")


@pytest.mark.parametrize(
    "fields",
    [
        {"style": "Realistic"},
        {"prompt": "", "style": "Realistic"},
        {"prompt": "   ", "style": "Realistic"},
        {"prompt": None, "style": "Realistic"},
        {**OK, "discord": "token"},
        {**OK, "server": SERVER},
        {**OK, "discord": "token", "server": SERVER},
        {**OK, "discord": "token", "channel": CHANNEL},
        {**OK, "server": SERVER, "channel": CHANNEL},
    ],
)
def test_missing(fields: dict[str, Any]) -> None:
    assert error_of(fields) == "prompt, discord, server or channel value is missing"


@pytest.mark.parametrize(
    "extra",
    [{}, {"channel": CHANNEL}, {"discord": "token", "server": SERVER, "channel": CHANNEL}],
)
def test_valid_credential_combinations(extra: dict[str, str]) -> None:
    req = parse_create({**OK, **extra})
    assert req.channel == extra.get("channel")
    assert req.discord == extra.get("discord")


@pytest.mark.parametrize(
    "extra",
    [
        {"prompt": "p" * 513},
        {"negative_prompt": "n" * 513},
        {"replyRef": "r" * 1025},
        {"replyUrl": "https://example.com/" + "u" * 1010},
    ],
)
def test_too_long(extra: dict[str, str]) -> None:
    assert error_of({**OK, **extra}) == "prompt, negative_prompt, replyRef or replyUrl is too long"


def test_limits_are_inclusive() -> None:
    req = parse_create({**OK, "prompt": "p" * 512, "negative_prompt": "n" * 512, "replyRef": "r" * 1024})
    assert len(req.prompt) == 512


@pytest.mark.parametrize("style", [None, "", "  "])
def test_style_missing(style: str | None) -> None:
    assert error_of({"prompt": "a cat", "style": style}) == "style is missing or empty"


def test_style_not_supported() -> None:
    assert error_of({"prompt": "a", "style": "Cartoon"}) == (
        "style Cartoon not supported, must be one of Realistic, Anime, 3D Animation"
    )


@pytest.mark.parametrize("style", ["Realistic", "Anime", "3D Animation", "realistic", '"3D Animation"'])
def test_styles_accepted_and_canonical(style: str) -> None:
    assert parse_create({"prompt": "a", "style": style}).style in {"Realistic", "Anime", "3D Animation"}


def test_aspect_ratio() -> None:
    for ratio in ("16:9", "9:16", "1:1", "4:3", "3:4"):
        assert parse_create({**OK, "aspect_ratio": ratio}).aspect_ratio == ratio
    assert error_of({**OK, "aspect_ratio": "21:9"}) == (
        "aspect_ratio 21:9 not supported, must be one of 16:9, 9:16, 1:1, 4:3, 3:4"
    )


def test_character_only_with_anime() -> None:
    assert (
        parse_create({"prompt": "a", "style": "Anime", "character": "kamisatoayaka"}).character
        == "kamisatoayaka"
    )
    # Ignored (not even validated) with another style, and dropped.
    assert parse_create({**OK, "character": "nobody"}).character is None
    assert error_of({"prompt": "a", "style": "Anime", "character": "nobody"}) == (
        "character nobody not supported, must be one of eula, ganyu, hutao, kamisatoayaka, keqing, "
        "klee, nahida, ningguang, raidenshogun, xiangling, yaemiko"
    )


@pytest.mark.parametrize(("value", "expected"), [(2, 2), ("2", 2), (" 10 ", 10), (1.0, 1), ("", None)])
def test_max_jobs_accepted(value: Any, expected: int | None) -> None:
    assert parse_create({**OK, "maxJobs": value}).max_jobs == expected


@pytest.mark.parametrize("value", [0, 11, "-1", "two", 2.5, "1e9"])
def test_max_jobs_rejected(value: Any) -> None:
    assert (
        error_of({**OK, "maxJobs": value})
        == f"maxJobs {str(value).strip()} is not valid, must be between 1 and 10"
    )


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "example.com/hook", "https://", "javascript:alert(1)"]
)
def test_reply_url_must_be_http(url: str) -> None:
    assert error_of({**OK, "replyUrl": url}) == f"replyUrl {url} is not a valid http(s) URL"


def test_reply_url_and_ref_kept() -> None:
    req = parse_create({**OK, "replyUrl": "https://webhook.site/abc", "replyRef": "ref-1"})
    assert (req.reply_url, req.reply_ref) == ("https://webhook.site/abc", "ref-1")


def test_ids_must_be_snowflakes() -> None:
    assert error_of({**OK, "channel": "general"}) == "channel general is not valid Discord channel id"
    assert error_of({**OK, "discord": "t", "server": "x", "channel": CHANNEL}) == (
        "server x is not valid Discord server id"
    )


def test_non_text_values() -> None:
    assert error_of({"prompt": ["a"], "style": "Realistic"}) == "prompt must be a string"
    assert error_of({"prompt": "a", "style": True}) == "style must be a string"
    # JSON numbers for ids are fine.
    assert parse_create({**OK, "channel": int(CHANNEL)}).channel == CHANNEL


# -- POST account/{channel} ------------------------------------------------------------------

ACCOUNT = {"discord": "token-abcdef", "server": SERVER, "channel": CHANNEL, "maxJobs": 2}


def test_account_ok() -> None:
    parsed = parse_account(CHANNEL, {**ACCOUNT, "maxJobs": "3", "replyUrl": "https://h.example/cb"})
    assert (parsed.channel, parsed.server, parsed.discord, parsed.max_jobs) == (
        CHANNEL,
        SERVER,
        "token-abcdef",
        3,
    )
    assert parsed.reply_url == "https://h.example/cb"


@pytest.mark.parametrize("name", ["discord", "server", "channel", "maxJobs"])
def test_account_required(name: str) -> None:
    assert (
        account_error({k: v for k, v in ACCOUNT.items() if k != name})
        == f"Required param {name} is missing or empty"
    )
    assert account_error({**ACCOUNT, name: ""}) == f"Required param {name} is missing or empty"


def test_account_texts() -> None:
    assert account_error({**ACCOUNT, "channel": "abc"}, path="abc") == (
        "Required param channel (abc) is not valid Discord channel id"
    )
    other = "1168473004498501699"
    assert account_error(ACCOUNT, path=other) == (
        f"Required param channel ({CHANNEL}) not matching to /pixverse/account/{other}"
    )
    assert account_error({**ACCOUNT, "maxJobs": 11}) == "Required param maxJobs 11 can't be more that 10"
    assert account_error({**ACCOUNT, "maxJobs": 0}) == (
        "Required param maxJobs 0 is not valid, must be between 1 and 10"
    )
    assert (
        account_error({**ACCOUNT, "server": "x"})
        == "Required param server (x) is not valid Discord server id"
    )
    assert (
        account_error({**ACCOUNT, "replyUrl": "mailto:a@b"})
        == "replyUrl mailto:a@b is not a valid http(s) URL"
    )
