"""Property-based tests of create validation: the pure parser and the live endpoint.

For any field map, ``parse_create`` gives a CreateRequest that respects every documented limit,
or an ``ApiError(400)`` with one of the documented texts, never another exception. The live
endpoint (real daemon, real service) gives the same answer for the same fields sent as JSON,
multipart/form-data and application/x-www-form-urlencoded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.fuzz.checks import check_answer, is_create_400
from tests.fuzz.live import AUTH, LiveDaemon
from worker.api.constants import ASPECT_RATIOS, CHARACTERS, PROMPT_MAX, REPLY_MAX, STYLES
from worker.api.openapi import openapi_document
from worker.api.validation import parse_create
from worker.config import is_snowflake
from worker.errors import ApiError
from worker.jobs.requests import CreateRequest

# The documented request fields: a field added to the API is fuzzed without editing this file.
FIELDS = tuple(openapi_document()["components"]["schemas"]["CreateRequest"]["properties"])

# Text a client can send in any body format: no lone surrogates (not encodable as UTF-8).
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
edgy_text = st.one_of(
    any_text,
    st.sampled_from(["", " ", "\t\n", '""', '" "', "null", "0", "-1", "1e400", "NaN", "\x00", "\u202e", "😀"]),
    st.integers(PROMPT_MAX - 1, PROMPT_MAX + 2).map(lambda n: "p" * n),
    st.integers(REPLY_MAX - 1, REPLY_MAX + 2).map(lambda n: "r" * n),
)
good_values: dict[str, st.SearchStrategy[str]] = {
    "prompt": st.sampled_from(["a cat", "Milla Jovovich riding a motorcycle", "  padded  ", "日本の猫"]),
    "style": st.sampled_from([*STYLES, "anime", '"Realistic"', " 3d animation "]),
    "negative_prompt": st.sampled_from(["sand", "blur, noise"]),
    "aspect_ratio": st.sampled_from(ASPECT_RATIOS),
    "character": st.sampled_from([*CHARACTERS, "Klee"]),
    "discord": st.sampled_from(["MTEx.fake.token-0123456789"]),
    "server": st.from_regex(r"\A[1-9]\d{17}\Z"),
    "channel": st.from_regex(r"\A[1-9]\d{17}\Z"),
    "maxJobs": st.sampled_from(["1", "2", "10", "2.0", '"3"']),
    "replyUrl": st.sampled_from(
        ["http://127.0.0.1:9/hook", "https://example.com/cb?x=1", "javascript:alert(1)", "ftp://h/x"]
    ),
    "replyRef": st.sampled_from(["ref-1", "x" * REPLY_MAX]),
}


def field_value(name: str) -> st.SearchStrategy[str]:
    return st.one_of(good_values[name], edgy_text)


json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    edgy_text,
)
json_value = st.one_of(
    json_scalar, st.lists(json_scalar, max_size=3), st.dictionaries(any_text, json_scalar, max_size=3)
)


@st.composite
def field_maps(draw: st.DrawFn, *, strings_only: bool = False) -> dict[str, Any]:
    names = draw(st.sets(st.sampled_from(FIELDS)))
    # Most maps carry the two required fields, so that the later checks are reached too.
    if draw(st.booleans()):
        names |= {"prompt", "style"}
    fields: dict[str, Any] = {}
    for name in sorted(names):
        if strings_only:
            fields[name] = draw(field_value(name))
        else:
            fields[name] = draw(st.one_of(field_value(name), json_value))
    if not strings_only:
        fields.update(draw(st.dictionaries(any_text, json_value, max_size=2)))
    return fields


def check_request(req: CreateRequest) -> None:
    assert req.prompt and len(req.prompt) <= PROMPT_MAX and req.prompt == req.prompt.strip()
    assert req.style in STYLES
    assert req.negative_prompt is None or 0 < len(req.negative_prompt) <= PROMPT_MAX
    assert req.aspect_ratio is None or req.aspect_ratio in ASPECT_RATIOS
    assert req.character is None or (req.style == "Anime" and req.character in CHARACTERS)
    assert req.max_jobs is None or 1 <= req.max_jobs <= 10
    assert req.reply_url is None or (
        len(req.reply_url) <= REPLY_MAX and req.reply_url.lower().startswith(("http://", "https://"))
    )
    assert req.reply_ref is None or len(req.reply_ref) <= REPLY_MAX
    credentials = (req.discord is not None, req.server is not None, req.channel is not None)
    assert credentials in {(False, False, False), (False, False, True), (True, True, True)}
    assert req.server is None or is_snowflake(req.server)
    assert req.channel is None or is_snowflake(req.channel)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(field_maps())
def test_parse_create_answers_a_request_or_a_documented_400(fields: dict[str, Any]) -> None:
    try:
        req = parse_create(fields)
    except ApiError as exc:
        assert exc.code == 400
        assert is_create_400(exc.error), exc.error
        assert "Traceback" not in exc.error
    else:
        check_request(req)


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(field_maps(strings_only=True))
def test_parse_create_is_the_same_for_json_numbers_and_their_text(fields: dict[str, Any]) -> None:
    """maxJobs 2 in JSON and "2" in a form mean the same."""
    as_number = dict(fields)
    raw = fields.get("maxJobs")
    if raw is not None:
        try:
            as_number["maxJobs"] = int(raw)
        except ValueError:
            assume(False)
    assert _outcome(lambda: parse_create(fields)) == _outcome(lambda: parse_create(as_number))


def _outcome(fn: Any) -> Any:
    try:
        return ("ok", fn())
    except ApiError as exc:
        return ("error", exc.code, exc.error)


# -- the live endpoint ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDaemon]:
    daemon = LiveDaemon(Path(tmp_path_factory.mktemp("props")), accounts=2).start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(AUTH)
        yield session


def _multipart(fields: dict[str, str]) -> dict[str, tuple[None, bytes]]:
    return {name: (None, value.encode("utf-8")) for name, value in fields.items()}


def _comparable(status: int, body: dict[str, Any], fields: dict[str, str]) -> tuple[Any, ...]:
    if status == 200:
        # The status itself races the bot (started, or already completed): not compared.
        assert body["status"] in ("started", "progress", "completed"), body
        keys = ("prompt", "style", "negative_prompt", "aspect_ratio", "character")
        # Without a channel the account is picked at random.
        keys += ("channel",) if "channel" in fields else ()
        keys += ("maxJobs", "replyUrl", "replyRef")
        return (status, *(body.get(k) for k in keys))
    return (status, body.get("error"))


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fields=field_maps(strings_only=True))
def test_live_create_same_answer_for_json_multipart_and_urlencoded(
    live: LiveDaemon, http: requests.Session, fields: dict[str, str]
) -> None:
    # Ad-hoc credentials would open a Discord session per example; the parser test covers them.
    assume("discord" not in fields)
    url = f"{live.base_url}/v1/pixverse/create"
    answers = []
    for kind, kwargs in (
        ("json", {"data": json.dumps(fields).encode(), "headers": {"Content-Type": "application/json"}}),
        ("multipart", {"files": _multipart(fields)} if fields else {"files": {"": (None, b"")}}),
        ("urlencoded", {"data": {k: v.encode("utf-8") for k, v in fields.items()}}),
    ):
        response = http.post(url, timeout=30, **kwargs)  # type: ignore[arg-type]
        body = check_answer(response.status_code, response.headers.get("Content-Type", ""), response.content, what=kind)
        if response.status_code == 200:
            # Free the slot at once so that the next example is not refused with 429.
            cancel = http.get(f"{live.base_url}/v1/pixverse/jobs/cancel/", params={"jobid": body["jobid"]})
            assert cancel.status_code in (200, 400), cancel.text
        if response.status_code == 400:
            assert is_create_400(body["error"]), (kind, body)
        answers.append((kind, _comparable(response.status_code, body, fields)))
    assert answers[0][1] == answers[1][1] == answers[2][1], answers
