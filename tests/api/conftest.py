"""The API under test: the real app, job service, store and registry on a migrated SQLite file;
only the Discord driver is a double (``FakeDriver``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.api.fakes import FakeDriver
from worker.api.app import RouteRegistrar, create_app
from worker.config import Config
from worker.db.jobs import JobStore
from worker.jobs.accounts import AccountRegistry
from worker.jobs.service import JobService
from worker.metrics import Metrics

API_TOKEN = "test-api-token-0123456789"
DISCORD_TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.GabcDE.config-account-secret-token-xyz"
SERVER = "1140860020586713128"
CHANNEL = "1168473004498501652"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def make_config(**api: Any) -> Config:
    return Config.model_validate(
        {
            "api": {"tokens": [API_TOKEN], "create_wait_seconds": 2, **api},
            "accounts": [{"discord": DISCORD_TOKEN, "server": SERVER, "channel": CHANNEL, "maxJobs": 2}],
        }
    )


@dataclass
class Api:
    client: TestClient[Any, Any]
    service: JobService
    store: JobStore
    accounts: AccountRegistry
    driver: FakeDriver
    config: Config
    metrics: Metrics
    #: Every response body this client received, to check that no secret ever leaks.
    bodies: list[bytes] = field(default_factory=list)

    async def request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> tuple[int, Any]:
        """The status and the decoded JSON body; asserts what every answer must satisfy."""
        status, body, _ = await self.raw(method, path, auth=auth, **kwargs)
        if status == 204:
            assert body == b""
            return 204, None
        decoded = json.loads(body)
        if isinstance(decoded, dict) and not _is_account_map(decoded):
            assert decoded["code"] == status, decoded
        return status, decoded

    async def raw(
        self, method: str, path: str, *, auth: bool = True, **kwargs: Any
    ) -> tuple[int, bytes, Any]:
        headers = {**(AUTH if auth else {}), **kwargs.pop("headers", {})}
        async with self.client.request(method, path, headers=headers, **kwargs) as response:
            body = await response.read()
            if response.status != 204:
                assert response.content_type == "application/json", body
            self.bodies.append(body)
            return response.status, body, response.headers

    async def create(self, **fields: Any) -> tuple[int, Any]:
        return await self.request(
            "POST", "/v1/pixverse/create", json={"prompt": "a cat", "style": "Realistic", **fields}
        )


def _is_account_map(body: dict[str, Any]) -> bool:
    return bool(body) and all(isinstance(v, dict) and "maxJobs" in v for v in body.values())


StartApi = Callable[..., Awaitable[Api]]


@pytest.fixture
async def start_api(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[StartApi]:
    """Start an API on the test database; call again for a restart on the same database."""
    clients: list[TestClient[Any, Any]] = []

    async def start(
        config: Config | None = None,
        extra_routes: tuple[RouteRegistrar, ...] = (),
        db: async_sessionmaker[AsyncSession] | None = None,
    ) -> Api:
        config = config or make_config()
        db = db or sessions
        metrics = Metrics()
        store = JobStore(db)
        accounts = AccountRegistry(db)
        await accounts.load(config.accounts)
        driver = FakeDriver(store)
        for account in accounts.all():
            driver.ready(account.channel)
        service = JobService(store=store, accounts=accounts, driver=driver, config=config, metrics=metrics)
        app = create_app(
            service=service, accounts=accounts, config=config, metrics=metrics, extra_routes=extra_routes
        )
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return Api(client, service, store, accounts, driver, config, metrics)

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def api(start_api: StartApi) -> Api:
    return await start_api()
