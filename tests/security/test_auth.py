"""Every route under /v1/pixverse/ needs the bearer token; the routes come from the daemon's own
router, so a route added later cannot be forgotten here. /healthz, /readyz and /metrics are
public by design and must reveal nothing secret."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest

from tests.e2e.conftest import API_TOKEN, Harness
from worker.api.middleware import PUBLIC_PATHS
from worker.sim import SimDiscord

BASE = "/v1/pixverse/"
PUBLIC_BY_DESIGN = {"/healthz", "/readyz", "/metrics"}
SNOWFLAKE = "1168473004498501652"


def concrete(path: str) -> str:
    """A path template with every ``{name}`` / ``{name:regex}`` filled in."""
    return re.sub(r"\{[^}]+\}", SNOWFLAKE, path)


def routes(harness: Harness) -> list[tuple[str, str]]:
    assert harness.daemon is not None
    found = []
    for route in harness.daemon.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        assert path, f"a route with no path: {route!r}"
        found.append((route.method, path))
    return sorted(set(found))


BAD_AUTHORIZATIONS = {
    "none": None,
    "empty": "",
    "bearer-only": "Bearer",
    "bearer-empty": "Bearer ",
    "wrong-same-length": "Bearer " + "x" * len(API_TOKEN),
    "wrong-one-char-off": "Bearer " + API_TOKEN[:-1] + ("0" if API_TOKEN[-1] != "0" else "1"),
    "prefix": "Bearer " + API_TOKEN[:-1],
    "longer": "Bearer " + API_TOKEN + "x",
    "much-longer": "Bearer " + API_TOKEN * 40,
    "other-scheme": "Basic " + API_TOKEN,
    "token-without-scheme": API_TOKEN,
    "non-ascii": "Bearer " + "é" * len(API_TOKEN),
}


async def test_every_v1_route_needs_the_token(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    guarded = [(m, p) for m, p in routes(harness) if p.startswith(BASE) and p not in PUBLIC_PATHS]
    # The known ones, at least; more may come, and they are covered as they do.
    paths = {p for _, p in guarded}
    for expected in ("create", "jobs", "jobs/cancel", "account", "account/{channel}", "callbacks", "messages"):
        assert f"{BASE}{expected}" in paths, sorted(paths)
    port = harness.daemon.port  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http:
        for method, path in guarded:
            url = f"http://127.0.0.1:{port}{concrete(path)}"
            for name, authorization in BAD_AUTHORIZATIONS.items():
                headers = {} if authorization is None else {"Authorization": authorization}
                data = b'{"prompt": "a cat", "style": "Realistic"}' if method in ("POST", "PUT") else None
                async with http.request(method, url, headers=headers, data=data) as resp:
                    body = await resp.read()
                    assert resp.status == 401, (method, path, name, resp.status, body)
                    if method == "HEAD":
                        continue
                    assert resp.content_type == "application/json", (method, path, name)
                    assert json.loads(body) == {"error": "Unauthorized", "code": 401}, (method, path, name)
            # And the right token gets through the middleware (whatever the handler answers then).
            async with http.request(method, url, headers={"Authorization": f"Bearer {API_TOKEN}"}, data=b"{}") as resp:
                assert resp.status != 401, (method, path, await resp.read())


async def test_the_public_routes_are_exactly_the_documented_ones(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    public = {p for _, p in routes(harness) if not p.startswith(BASE) or p in PUBLIC_PATHS}
    assert public <= PUBLIC_BY_DESIGN | set(PUBLIC_PATHS), public
    port = harness.daemon.port  # type: ignore[union-attr]
    secrets = [*harness.config.secrets(), account.token]
    async with aiohttp.ClientSession() as http:
        for path in sorted(public):
            async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
                body = await resp.text()
                assert resp.status == 200, (path, body)
                for secret in secrets:
                    assert secret not in body, path
                    assert secret[3:-3] not in body, path


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "ftp://example.com/hook",
        "gopher://example.com:70/_x",
        "data:text/plain,hi",
        "ws://example.com/hook",
        "http:/missing-slash",
        "//example.com/hook",
        "http://",
        " javascript:alert(1)",
    ],
)
async def test_reply_url_must_be_http(harness: Harness, sim: SimDiscord, url: str) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account])
    status, body = await harness.create(prompt="a cat", replyUrl=url)
    assert status == 400, body
    assert body["error"] == f"replyUrl {url.strip()} is not a valid http(s) URL", body
    # Nothing was created or sent.
    assert await harness.get("jobs") == (200, [])


async def test_request_bodies_are_capped(harness: Harness, sim: SimDiscord) -> None:
    [account] = sim.world.add_accounts(1)
    await harness.start([account], api={"max_body_bytes": 4096})
    big = json.dumps({"prompt": "x" * 5000, "style": "Realistic"}).encode()
    url = f"http://127.0.0.1:{harness.daemon.port}/v1/pixverse/create"  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
        async with http.post(url, data=big, headers=headers) as resp:
            assert resp.status == 413
            assert await resp.json() == {"error": "Request body too large, limit is 4096 bytes", "code": 413}
        # Without the token the body is not even looked at.
        async with http.post(url, data=big, headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 401
