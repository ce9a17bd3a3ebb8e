"""The OpenAPI document: served without a token, describes every route, stays in sync."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.api.conftest import Api
from worker.api.openapi import DOCUMENT_PATH, openapi_document
from worker.config import Config
from worker.daemon import Daemon


def _normalise(path: str) -> str:
    return path.rstrip("/")


async def test_served_without_token_and_lists_every_route(api: Api, tmp_path) -> None:
    status, body, _ = await api.raw("GET", "/v1/pixverse/openapi.json", auth=False)
    assert status == 200
    document = json.loads(body)
    assert document["openapi"].startswith("3.1")
    documented = {
        (_normalise(path), method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    # The daemon's whole app: the API plus the operator, health and metrics routes.
    daemon = Daemon(Config.model_validate({"database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}}))
    routed = {
        (_normalise(route.resource.canonical), route.method)
        for route in daemon.app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    await daemon.engine.dispose()
    assert routed == documented


def test_references_resolve_and_file_is_current() -> None:
    document = openapi_document()
    text = json.dumps(document)
    for name in set(re.findall(r'"#/components/schemas/(\w+)"', text)):
        assert name in document["components"]["schemas"], name
    assert json.loads(DOCUMENT_PATH.read_text(encoding="utf-8")) == document, (
        "worker/api/openapi.json is stale: run python -m worker.api.openapi"
    )


def test_every_operation_documents_errors() -> None:
    document = openapi_document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or operation.get("security") == []:
                continue
            responses: dict[str, Any] = operation["responses"]
            assert "401" in responses, (method, path)
            assert "5XX" in responses, (method, path)
