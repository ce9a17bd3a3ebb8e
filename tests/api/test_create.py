"""POST create through HTTP: the seed's client examples, body formats, outcomes."""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

import pytest
from aiohttp import FormData

from tests.api.conftest import API_TOKEN, CHANNEL, DISCORD_TOKEN, SERVER, Api
from tests.api.fakes import MODERATION_TEXT, RATE_LIMIT_BODY
from tests.api.multipart import browser_form_data, requests_files
from worker.api.openapi import openapi_document

CREATE = "/v1/pixverse/create"
SEED_FIELDS = {
    "discord": DISCORD_TOKEN,
    "server": SERVER,
    "channel": CHANNEL,
    "prompt": "Milla Jovovich riding motorcycle in extreme stormy weather thru California desert",
    "style": "Realistic",
}
# What the stored job shows of a request, whatever the body format.
REQUEST_KEYS = ("verb", "status", *openapi_document()["components"]["schemas"]["CreateRequest"]["properties"])


def assert_started(status: int, body: dict[str, Any]) -> None:
    assert status == 200, body
    assert body["status"] == "started"
    assert body["verb"] == "pixverse-create"
    assert body["messageId"]
    assert "We are making videos" in body["content"]
    assert body["discord"] == "MTE…secured…xyz"


async def test_started_job_has_the_seed_shape(api: Api) -> None:
    status, body = await api.create(
        negative_prompt="sand", aspect_ratio="16:9", replyUrl="https://webhook.site/abc", replyRef="ref-1"
    )
    assert_started(status, body)
    for key in ("jobid", "created", "updated", "timestamp"):
        assert body[key]
    assert body["created"].endswith("Z") and len(body["created"]) == len("2023-09-09T02:04:49.667Z")
    assert (body["negative_prompt"], body["aspect_ratio"]) == ("sand", "16:9")
    assert (body["replyUrl"], body["replyRef"], body["maxJobs"]) == ("https://webhook.site/abc", "ref-1", 2)
    assert body["code"] == 200


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_seed_curl_example_as_written(api: Api) -> None:
    # The seed's command line, including -F 'style="Realistic"' with its quotes.
    args = [
        "curl",
        "-s",
        "-H",
        "Accept: application/json",
        "-H",
        f"Authorization: Bearer {API_TOKEN}",
        "-X",
        "POST",
        str(api.client.make_url(CREATE)),
        "-F",
        f"discord={DISCORD_TOKEN}",
        "-F",
        f"server={SERVER}",
        "-F",
        f"channel={CHANNEL}",
        "-F",
        f"prompt={SEED_FIELDS['prompt']}",
        "-F",
        'style="Realistic"',
        "-w",
        "\n%{http_code}",
    ]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    text, _, code = out.decode().rpartition("\n")
    import json

    body = json.loads(text)
    assert_started(int(code), body)
    assert body["style"] == "Realistic"
    assert body["prompt"] == SEED_FIELDS["prompt"]


async def test_seed_curl_quotes_kept_by_other_tools(api: Api) -> None:
    # A client that sends the quotes literally (older curl, hand-written forms) works too.
    status, body = await api.request(
        "POST", CREATE, data={"prompt": "a cat", "style": '"3D Animation"', "aspect_ratio": '"9:16"'}
    )
    assert_started(status, body)
    assert (body["style"], body["aspect_ratio"]) == ("3D Animation", "9:16")


async def test_seed_js_fetch_form_data(api: Api) -> None:
    data, content_type = browser_form_data(SEED_FIELDS)
    status, body = await api.request("POST", CREATE, data=data, headers={"Content-Type": content_type})
    assert_started(status, body)
    assert body["prompt"] == SEED_FIELDS["prompt"]


async def test_seed_python_requests_files(api: Api) -> None:
    data, content_type = requests_files(SEED_FIELDS)
    status, body = await api.request("POST", CREATE, data=data, headers={"Content-Type": content_type})
    assert_started(status, body)


async def test_aiohttp_form_data_multipart(api: Api) -> None:
    form = FormData(default_to_multipart=True)
    for name, value in SEED_FIELDS.items():
        form.add_field(name, value)
    status, body = await api.request("POST", CREATE, data=form)
    assert_started(status, body)


async def test_json_multipart_and_urlencoded_store_the_same_job(api: Api) -> None:
    fields = {
        "prompt": "  a girl in the rain ",
        "style": "Anime",
        "character": "kamisatoayaka",
        "negative_prompt": "sand",
        "aspect_ratio": "4:3",
        "channel": CHANNEL,
        "maxJobs": "2",
        "replyUrl": "https://webhook.site/abc",
        "replyRef": "ünïcode ref",
        "unknown": "ignored",
    }
    multipart_body, multipart_type = requests_files(fields)
    answers = [
        await api.request("POST", CREATE, json={**fields, "maxJobs": 2}),
        await api.request("POST", CREATE, data=multipart_body, headers={"Content-Type": multipart_type}),
    ]
    # Two slots on the account: free them before the third.
    for _, body in answers:
        await api.request("GET", f"/v1/pixverse/jobs/cancel/?jobid={body['jobid']}")
    answers.append(await api.request("POST", CREATE, data=fields))  # urlencoded
    stored = []
    for status, body in answers:
        assert status == 200, body
        _, job = await api.request("GET", f"/v1/pixverse/jobs/?jobid={body['jobid']}")
        stored.append({k: job.get(k) for k in REQUEST_KEYS if k != "status"})
    assert stored[0] == stored[1] == stored[2]
    assert stored[0]["prompt"] == "a girl in the rain"
    assert stored[0]["maxJobs"] == 2
    assert stored[0]["replyRef"] == "ünïcode ref"


async def test_character_dropped_unless_anime(api: Api) -> None:
    status, body = await api.create(style="Realistic", character="nobody")
    assert status == 200
    assert "character" not in body


async def test_validation_error_over_http(api: Api) -> None:
    status, body = await api.request("POST", CREATE, data={"prompt": "a cat", "style": "Cartoon"})
    assert (status, body) == (
        400,
        {"error": "style Cartoon not supported, must be one of Realistic, Anime, 3D Animation", "code": 400},
    )
    status, body = await api.request("POST", CREATE, json={})
    assert (status, body["error"]) == (400, "prompt, discord, server or channel value is missing")


async def test_capacity_429_lists_the_executing_jobs(api: Api) -> None:
    first = (await api.create())[1]["jobid"]
    second = (await api.create(channel=CHANNEL))[1]["jobid"]
    status, body = await api.create(channel=CHANNEL)
    assert status == 429
    assert body == {
        "error": "Maximum of 2 jobs executing in parallel supported",
        "executingJobs": [first, second],
        "code": 429,
    }
    # Cancelling frees the slot at once.
    await api.request("GET", f"/v1/pixverse/jobs/cancel/?jobid={first}")
    assert (await api.create(channel=CHANNEL))[0] == 200


async def test_request_max_jobs_overrides_the_account(api: Api) -> None:
    jobid = (await api.create(maxJobs=1))[1]["jobid"]
    status, body = await api.create(maxJobs="1", channel=CHANNEL)
    assert status == 429
    assert body["error"] == "Maximum of 1 jobs executing in parallel supported"
    assert body["executingJobs"] == [jobid]


async def test_discord_rate_limit_429(api: Api) -> None:
    api.driver.mode = "rate_limited"
    status, body = await api.create()
    assert status == 429
    assert body["error"] == "Discord /interactions failed with HTTP status 429"
    assert body["errorDetails"] == RATE_LIMIT_BODY


async def test_moderated_422(api: Api) -> None:
    api.driver.mode = "moderated"
    status, body = await api.create()
    assert status == 422
    assert (body["error"], body["status"]) == (MODERATION_TEXT, "moderated")
    assert body["jobid"]


async def test_shutting_down_503(api: Api) -> None:
    api.service.intake_open = False
    status, body = await api.create()
    assert (status, body) == (503, {"error": "Service is shutting down", "code": 503})
    assert api.driver.submitted == []


async def test_adhoc_credentials_are_masked_and_not_listed(api: Api) -> None:
    token = "OTk5OTk5OTk5OTk5OTk5OTk5.Gxyz.adhoc-secret-token-value-123"
    channel = "1168473004498501777"
    status, body = await api.create(discord=token, server=SERVER, channel=channel)
    assert status == 200, body
    assert body["discord"] == "OTk…secured…123"
    assert body["channel"] == channel
    _, listed = await api.request("GET", "/v1/pixverse/account")
    assert list(listed) == [CHANNEL]
    status, _ = await api.request("GET", f"/v1/pixverse/account/{channel}")
    assert status == 404
    assert all(token.encode() not in b for b in api.bodies)


async def test_unknown_channel_alone(api: Api) -> None:
    status, body = await api.create(channel="1168473004498501000")
    assert (status, body["error"]) == (404, "Configuration for channel 1168473004498501000 not found")


async def test_no_token_ever_appears_in_a_response(api: Api) -> None:
    jobid = (await api.create())[1]["jobid"]
    await api.request("POST", CREATE, data=SEED_FIELDS)
    await api.request("GET", f"/v1/pixverse/jobs/?jobid={jobid}")
    await api.request("GET", "/v1/pixverse/jobs")
    await api.request("GET", "/v1/pixverse/account")
    await api.request("GET", f"/v1/pixverse/account/{CHANNEL}")
    await api.request("GET", f"/v1/pixverse/jobs/cancel/?jobid={jobid}")
    await api.request("GET", "/v1/pixverse/jobs", auth=False)
    assert len(api.bodies) == 8
    for body in api.bodies:
        assert DISCORD_TOKEN.encode() not in body
        assert API_TOKEN.encode() not in body
