"""GET account, and GET | POST | DELETE account/{channel}; API accounts survive a restart."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import CHANNEL, DISCORD_TOKEN, SERVER, Api, StartApi, make_config
from tests.api.multipart import requests_files
from worker.config import Config
from worker.db.engine import make_engine, make_sessionmaker

NEW_CHANNEL = "1168473004498501888"
NEW_TOKEN = "MjIyMjIyMjIyMjIyMjIyMjIy.Gqrs.api-added-secret-token-value-789"
NEW = {"discord": NEW_TOKEN, "server": SERVER, "channel": NEW_CHANNEL, "maxJobs": 3}
PATH = f"/v1/pixverse/account/{NEW_CHANNEL}"


async def test_list_shows_config_accounts_masked(api: Api) -> None:
    status, body = await api.request("GET", "/v1/pixverse/account")
    assert status == 200
    assert list(body) == [CHANNEL]
    entry = body[CHANNEL]
    assert entry["discord"] == "MTE…secured…xyz"
    assert (entry["server"], entry["channel"], entry["maxJobs"]) == (SERVER, CHANNEL, 2)
    assert entry["state"] == "ready"


async def test_list_404_without_accounts(start_api: StartApi) -> None:
    api = await start_api(Config.model_validate({"api": {"tokens": ["tok-only-aaaa"]}}))
    status, body = await api.request(
        "GET", "/v1/pixverse/account", headers={"Authorization": "Bearer tok-only-aaaa"}
    )
    assert status == 404
    assert body["error"].startswith("Configuration not found")


async def test_get_one(api: Api) -> None:
    status, body = await api.request("GET", f"/v1/pixverse/account/{CHANNEL}/")
    assert status == 200
    assert (body["channel"], body["discord"], body["code"]) == (CHANNEL, "MTE…secured…xyz", 200)
    assert await api.request("GET", PATH) == (
        404,
        {"error": f"Configuration for channel {NEW_CHANNEL} not found", "code": 404},
    )


@pytest.mark.parametrize("encoding", ["json", "urlencoded", "multipart"])
async def test_post_then_get(api: Api, encoding: str) -> None:
    kwargs: dict[str, Any]
    if encoding == "json":
        kwargs = {"json": NEW}
    elif encoding == "urlencoded":
        kwargs = {"data": {k: str(v) for k, v in NEW.items()}}
    else:
        data, content_type = requests_files({k: str(v) for k, v in NEW.items()})
        kwargs = {"data": data, "headers": {"Content-Type": content_type}}
    assert await api.request("POST", PATH, **kwargs) == (204, None)
    status, body = await api.request("GET", PATH)
    assert status == 200
    assert (body["discord"], body["maxJobs"], body["server"]) == ("MjI…secured…789", 3, SERVER)
    _, listed = await api.request("GET", "/v1/pixverse/account")
    assert sorted(listed) == sorted([CHANNEL, NEW_CHANNEL])
    assert all(NEW_TOKEN.encode() not in b and DISCORD_TOKEN.encode() not in b for b in api.bodies)


async def test_post_replaces(api: Api) -> None:
    await api.request("POST", PATH, json=NEW)
    assert await api.request("POST", PATH + "/", json={**NEW, "maxJobs": "1"}) == (204, None)
    assert (await api.request("GET", PATH))[1]["maxJobs"] == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({**NEW, "discord": ""}, "Required param discord is missing or empty"),
        ({**NEW, "maxJobs": None}, "Required param maxJobs is missing or empty"),
        (
            {**NEW, "channel": CHANNEL},
            f"Required param channel ({CHANNEL}) not matching to /pixverse/account/{NEW_CHANNEL}",
        ),
        ({**NEW, "maxJobs": 11}, "Required param maxJobs 11 can't be more that 10"),
        ({**NEW, "discord": DISCORD_TOKEN}, f"Channel {CHANNEL} configuration has same discord value"),
    ],
)
async def test_post_400(api: Api, body: dict[str, Any], error: str) -> None:
    assert await api.request("POST", PATH, json=body) == (400, {"error": error, "code": 400})


async def test_invalid_channel_in_path_and_body(api: Api) -> None:
    status, body = await api.request(
        "POST", "/v1/pixverse/account/general", json={**NEW, "channel": "general"}
    )
    assert (status, body["error"]) == (
        400,
        "Required param channel (general) is not valid Discord channel id",
    )


async def test_config_accounts_are_read_only(api: Api) -> None:
    body = {"discord": "another-token-123456", "server": SERVER, "channel": CHANNEL, "maxJobs": 1}
    status, answer = await api.request("POST", f"/v1/pixverse/account/{CHANNEL}", json=body)
    assert status == 400
    assert "config file" in answer["error"]
    status, answer = await api.request("DELETE", f"/v1/pixverse/account/{CHANNEL}")
    assert status == 400
    assert "config file" in answer["error"]
    assert (await api.request("GET", f"/v1/pixverse/account/{CHANNEL}"))[0] == 200


async def test_delete(api: Api) -> None:
    await api.request("POST", PATH, json=NEW)
    assert await api.request("DELETE", PATH) == (204, None)
    assert (await api.request("GET", PATH))[0] == 404
    assert await api.request("DELETE", PATH) == (
        404,
        {"error": f"Configuration for channel {NEW_CHANNEL} not found", "code": 404},
    )


async def test_api_accounts_survive_a_restart(start_api: StartApi, db_url: str) -> None:
    first = await start_api()
    await first.request("POST", PATH, json=NEW)
    await first.client.close()

    # A new app on a new engine over the same database file.
    engine = make_engine(db_url)
    try:
        second = await start_api(make_config(), db=make_sessionmaker(engine))
        status, body = await second.request("GET", PATH)
        assert (status, body["maxJobs"], body["discord"]) == (200, 3, "MjI…secured…789")
        # And it takes jobs.
        second.driver.ready(NEW_CHANNEL)
        status, job = await second.create(channel=NEW_CHANNEL)
        assert (status, job["channel"], job["maxJobs"]) == (200, NEW_CHANNEL, 3)
        await second.client.close()
    finally:
        await engine.dispose()
