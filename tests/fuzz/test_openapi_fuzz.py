"""Fuzz the LIVE daemon from its own OpenAPI document (schemathesis, positive and negative data).

The daemon is the real one (HTTP API, discord.py-self sessions against the sim, SQLite, outbox),
run on a background thread's loop so schemathesis' synchronous client can call it. Examples are
bounded and derandomized so CI is stable; raise ``FUZZ_EXAMPLES`` locally for a longer run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from tests.fuzz.checks import check_answer
from tests.fuzz.live import AUTH, LiveDaemon
from worker.api.openapi import openapi_document

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
#: (operation, status) -> count, to check that the fuzzing reached more than the 400s.
SEEN: Counter[tuple[str, int]] = Counter()

schema = schemathesis.openapi.from_dict(openapi_document())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], deterministic=True, database="none"
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDaemon]:
    daemon = LiveDaemon(Path(tmp_path_factory.mktemp("fuzz")), accounts=2).start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def base_url(live: LiveDaemon) -> str:
    return live.base_url


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_live_api_survives_its_own_schema(case: schemathesis.Case, base_url: str) -> None:
    headers = dict(AUTH)
    response = case.call(base_url=base_url, headers=headers, timeout=30)
    SEEN[(f"{case.method} {case.path}", response.status_code)] += 1
    check_answer(
        response.status_code,
        (response.headers.get("content-type") or [""])[0],
        response.content,
        path=case.path,
        what=f"{case.method} {case.formatted_path} {case.query} {case.body!r:.300}",
    )


def test_the_fuzzing_reached_the_happy_paths() -> None:
    """Runs after the fuzzing (same module, file order): it was not all 400s."""
    if not SEEN:
        pytest.skip("the fuzz test did not run (deselected)")
    assert SEEN[("POST /v1/pixverse/create", 200)] > 0, SEEN
    assert SEEN[("GET /v1/pixverse/account", 200)] > 0, SEEN
    assert any(op.startswith("POST /v1/pixverse/account/") and status == 204 for op, status in SEEN), SEEN
