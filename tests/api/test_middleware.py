"""What every endpoint shares: bearer auth, JSON errors, body limits, metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.api.conftest import API_TOKEN, CHANNEL, DISCORD_TOKEN, Api, StartApi, make_config

ENDPOINTS = [
    ("POST", "/v1/pixverse/create"),
    ("GET", "/v1/pixverse/jobs"),
    ("GET", "/v1/pixverse/jobs/?jobid=x"),
    ("GET", "/v1/pixverse/jobs/cancel/?jobid=x"),
    ("GET", "/v1/pixverse/account"),
    ("GET", f"/v1/pixverse/account/{CHANNEL}"),
    ("POST", f"/v1/pixverse/account/{CHANNEL}"),
    ("DELETE", f"/v1/pixverse/account/{CHANNEL}"),
    ("GET", "/v1/pixverse/no-such-endpoint"),
]
UNAUTHORIZED = {"error": "Unauthorized", "code": 401}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer wrong-token", f"Basic {API_TOKEN}", f"Bearer {API_TOKEN}x"],
)
async def test_unauthorized(api: Api, method: str, path: str, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    status, body = await api.request(method, path, auth=False, headers=headers, json={})
    assert (status, body) == (401, UNAUTHORIZED)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS[:-1])
async def test_authorized(api: Api, method: str, path: str) -> None:
    status, _ = await api.request(method, path, json={})
    assert status != 401


async def test_scheme_is_case_insensitive_and_any_configured_token_works(start_api: StartApi) -> None:
    api = await start_api(make_config(tokens=["first-token-aaaa", "second-token-bbbb"]))
    for header in ("bearer first-token-aaaa", "Bearer second-token-bbbb", "BEARER  second-token-bbbb"):
        status, _ = await api.request(
            "GET", "/v1/pixverse/jobs", auth=False, headers={"Authorization": header}
        )
        assert status == 200, header


async def test_no_tokens_configured_refuses_everything(start_api: StartApi) -> None:
    api = await start_api(make_config(tokens=[]))
    status, body = await api.request("GET", "/v1/pixverse/jobs")
    assert (status, body) == (401, UNAUTHORIZED)


async def test_not_found_and_method_not_allowed_are_json(api: Api) -> None:
    assert await api.request("GET", "/v1/pixverse/nope") == (404, {"error": "Not found", "code": 404})
    assert await api.request("GET", "/nope", auth=False) == (404, {"error": "Not found", "code": 404})
    status, body, headers = await api.raw("GET", "/v1/pixverse/create")
    assert status == 405
    assert headers["Allow"] == "POST"
    assert b'"error":"Method not allowed"' in body and b'"code":405' in body
    assert (await api.request("PUT", f"/v1/pixverse/account/{CHANNEL}"))[0] == 405


async def test_413_when_the_body_is_too_large(start_api: StartApi) -> None:
    api = await start_api(make_config(max_body_bytes=2048))
    expected = {"error": "Request body too large, limit is 2048 bytes", "code": 413}
    big = {"prompt": "x" * 4000, "style": "Realistic"}
    assert await api.request("POST", "/v1/pixverse/create", json=big) == (413, expected)
    assert await api.request("POST", "/v1/pixverse/create", data=big) == (413, expected)

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the limit is enforced while reading.
        for _ in range(8):
            yield b"a" * 512

    status, body = await api.request(
        "POST", "/v1/pixverse/create", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert (status, body) == (413, expected)
    # At the limit is fine.
    status, _ = await api.request("POST", "/v1/pixverse/create", json={"prompt": "a", "style": "Realistic"})
    assert status == 200


MULTIPART_BROKEN = b'--XYZ\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nno end'


@pytest.mark.parametrize(
    ("content_type", "data", "error"),
    [
        ("application/json", b"{", "Malformed JSON body: "),
        ("application/json", b"[1, 2]", "Request body must be a JSON object"),
        ("application/json", b'"text"', "Request body must be a JSON object"),
        ("application/json", b"", "Request body is empty, expected a JSON object"),
        ("application/json", b'{"prompt": "caf\xe9", "style": "Anime"}', "Request body is not valid UTF-8"),
        ("text/plain", b"prompt=a", "Unsupported Content-Type text/plain, use application/json, "),
        ("multipart/form-data", b"x", "Malformed multipart/form-data body: the Content-Type has no boundary"),
        ("multipart/form-data; boundary=XYZ", MULTIPART_BROKEN, "Malformed multipart/form-data body"),
        ("multipart/form-data; boundary=XYZ", b"garbage", "Malformed multipart/form-data body"),
    ],
)
async def test_unreadable_bodies_are_400(api: Api, content_type: str, data: bytes, error: str) -> None:
    status, body = await api.request(
        "POST", "/v1/pixverse/create", data=data, headers={"Content-Type": content_type}
    )
    assert status == 400, body
    assert body["error"].startswith(error)


async def test_non_utf8_form_values_are_400(api: Api) -> None:
    data = b'--XYZ\r\nContent-Disposition: form-data; name="prompt"\r\n\r\ncaf\xe9\r\n--XYZ--\r\n'
    status, body = await api.request(
        "POST",
        "/v1/pixverse/create",
        data=data,
        headers={"Content-Type": "multipart/form-data; boundary=XYZ"},
    )
    assert (status, body["error"]) == (400, "Request body is not valid UTF-8")
    status, body = await api.request(
        "POST",
        "/v1/pixverse/create",
        data=b"prompt=caf%E9&style=Anime",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (status, body["error"]) == (400, "Request body is not valid UTF-8")


async def test_json_without_content_type(api: Api) -> None:
    status, body = await api.request(
        "POST", "/v1/pixverse/create", data=b'{"prompt": "a", "style": "Anime"}', headers={}
    )
    assert status == 200, body


def _boom_routes(app: web.Application) -> None:
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError(f"secret detail {DISCORD_TOKEN}")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/v1/pixverse/boom", boom)
    app.router.add_get("/healthz", healthz)


async def test_unexpected_errors_are_a_bare_500(
    start_api: StartApi, caplog: pytest.LogCaptureFixture
) -> None:
    api = await start_api(extra_routes=(_boom_routes,))
    with caplog.at_level(logging.ERROR, logger="worker.api.middleware"):
        status, body = await api.request("GET", "/v1/pixverse/boom")
    assert (status, body) == (500, {"error": "Internal error", "code": 500})
    assert "Traceback" in caplog.text and "RuntimeError" in caplog.text


async def test_extra_routes_outside_v1_need_no_token(start_api: StartApi) -> None:
    api = await start_api(extra_routes=(_boom_routes,))
    async with api.client.get("/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_requests_are_counted_by_route_template(api: Api) -> None:
    await api.request("GET", f"/v1/pixverse/account/{CHANNEL}")
    await api.request("GET", "/v1/pixverse/account/1168473004498501000/")
    await api.request("GET", "/v1/pixverse/jobs", auth=False)
    await api.request("GET", "/v1/pixverse/elsewhere")

    def count(route: str, code: str) -> float | None:
        return api.metrics.registry.get_sample_value(
            "pixverse_http_requests_total", {"route": route, "code": code}
        )

    assert count("/v1/pixverse/account/{channel}", "200") == 1
    assert count("/v1/pixverse/account/{channel}", "404") == 1
    assert count("/v1/pixverse/jobs", "401") == 1
    assert count("unmatched", "404") == 1


async def test_json_sent_as_a_form_by_curl_d(api: Api) -> None:
    status, body = await api.request(
        "POST",
        "/v1/pixverse/create",
        data=b'{"prompt": "a", "style": "Anime"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200, body
