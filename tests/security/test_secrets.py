"""Raw Discord tokens, API tokens and the callback signing secret never appear in a response body,
an error, a log line, a callback or the metrics.

One end-to-end scenario through the real daemon (create, complete, moderated, failed, no
subscription, account GET/POST/DELETE, a bad ad-hoc token, a revoked token, callbacks list,
messages list, /metrics, /healthz, /readyz), with ALL logging captured at DEBUG (root logger,
discord.py-self's, aiohttp's) through the daemon's own log handler set-up, and every response
body kept; then every secret is searched for in all of it.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import API_TOKEN, Harness
from worker.logs import SCRUBBER, JsonFormatter, setup_logging
from worker.sim import SimDiscord

SIGNING_SECRET = "whsec-signing-secret-5f1d2c3b4a"
ADHOC_TOKEN = "MTE5OTk5OTk5OTk5OTk5OTk5OQ.Gbad00.an-ad-hoc-token-that-discord-refuses"
WRONG_API_TOKEN = "wrong-api-token-presented-by-a-client"
LOGGERS = ("", "discord", "aiohttp", "worker", "curl_cffi", "asyncio")
# Statement echo (parameters, rows) of the SQL layer: the daemon keeps these at WARNING even at
# DEBUG, since the accounts table holds raw tokens (checked below against setup_logging).
SQL_LOGGERS = ("sqlalchemy", "aiosqlite", "alembic")


@pytest.fixture
def all_logs() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """(what the daemon's handler writes: scrubbed, as in production; the raw records, unscrubbed)."""
    scrubbed, raw = io.StringIO(), io.StringIO()
    production = logging.StreamHandler(scrubbed)
    production.addFilter(SCRUBBER)
    production.setFormatter(JsonFormatter())
    unscrubbed = logging.StreamHandler(raw)
    unscrubbed.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved = {name: logging.getLogger(name).level for name in (*LOGGERS, *SQL_LOGGERS)}
    root = logging.getLogger()
    root.addHandler(production)
    root.addHandler(unscrubbed)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    for name in SQL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield scrubbed, raw
    finally:
        root.removeHandler(production)
        root.removeHandler(unscrubbed)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


class Recorder:
    """Every request made in the scenario, with its status and body."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.bodies: list[tuple[str, int, str]] = []
        self.http = aiohttp.ClientSession()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.harness.daemon.port}"  # type: ignore[union-attr]

    async def call(self, method: str, path: str, *, token: str | None = API_TOKEN, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.root + path, headers=headers, **kwargs) as resp:
            text = await resp.text()
            self.bodies.append((f"{method} {path}", resp.status, text + json.dumps(dict(resp.headers))))
            return resp.status, (json.loads(text) if text and resp.content_type == "application/json" else text)

    async def wait_final(self, jobid: str) -> dict[str, Any]:
        for _ in range(400):
            _, job = await self.call("GET", f"/v1/pixverse/jobs/?jobid={jobid}")
            if job.get("status") in ("completed", "failed", "moderated", "cancelled"):
                return job
            await asyncio.sleep(0.05)
        raise AssertionError(f"job {jobid} never finished")


async def test_no_secret_anywhere(harness: Harness, sim: SimDiscord, all_logs: tuple[io.StringIO, io.StringIO]) -> None:
    scrubbed, raw = all_logs
    main, other, revoked, api_added = sim.world.add_accounts(4)
    await harness.receiver.start()
    sim.bot.settings.no_subscription_user_ids.add(other.user_id)
    await harness.start(
        [main, other, revoked],
        max_jobs=3,
        callbacks={"signing_secret": SIGNING_SECRET},
        discord={"ready_timeout_seconds": 3},
    )
    rec = Recorder(harness)
    v1 = "/v1/pixverse"
    hook = harness.receiver.url
    try:
        # create -> completed, with a callback
        status, job = await rec.call(
            "POST",
            f"{v1}/create",
            json={"prompt": "a cat", "style": "Realistic", "replyUrl": hook, "channel": str(main.channel_id)},
        )
        assert status == 200, job
        assert (await rec.wait_final(job["jobid"]))["status"] == "completed"
        # moderated (multipart, to cover both body readers)
        form = aiohttp.FormData(
            {"prompt": "nsfw thing", "style": "Anime", "replyUrl": hook, "channel": str(main.channel_id)}
        )
        status, job = await rec.call("POST", f"{v1}/create", data=form)
        assert status == 422 and job["status"] == "moderated", job
        # failed
        sim.bot.settings.failure_rate = 1.0
        status, job = await rec.call(
            "POST",
            f"{v1}/create",
            json={"prompt": "will fail", "style": "Realistic", "replyUrl": hook, "channel": str(main.channel_id)},
        )
        assert status == 200, job
        assert (await rec.wait_final(job["jobid"]))["status"] == "failed"
        sim.bot.settings.failure_rate = 0.0
        # no subscription
        status, job = await rec.call(
            "POST", f"{v1}/create", json={"prompt": "x", "style": "Realistic", "channel": str(other.channel_id)}
        )
        assert status == 402, job
        # a bad ad-hoc token (Discord refuses it)
        status, body = await rec.call(
            "POST",
            f"{v1}/create",
            json={
                "prompt": "x",
                "style": "Realistic",
                "discord": ADHOC_TOKEN,
                "server": str(sim.world.guild.id),
                "channel": "1199999999999999999",
            },
        )
        assert 400 <= status < 500, body
        # ad-hoc credentials that clash with a configured channel
        status, body = await rec.call(
            "POST",
            f"{v1}/create",
            json={
                "prompt": "x",
                "style": "Realistic",
                "discord": ADHOC_TOKEN,
                "server": str(main.guild_id),
                "channel": str(main.channel_id),
            },
        )
        assert status == 400, body
        # accounts
        await rec.call("GET", f"{v1}/account")
        await rec.call("GET", f"{v1}/account/{main.channel_id}")
        status, _ = await rec.call(
            "POST",
            f"{v1}/account/{api_added.channel_id}",
            json={
                "discord": api_added.token,
                "server": str(api_added.guild_id),
                "channel": str(api_added.channel_id),
                "maxJobs": 2,
            },
        )
        assert status == 204
        # same token on another channel: the error names the channel, never the token
        status, body = await rec.call(
            "POST",
            f"{v1}/account/1199999999999999998",
            json={"discord": main.token, "server": str(main.guild_id), "channel": "1199999999999999998", "maxJobs": 1},
        )
        assert status == 400, body
        for _ in range(100):
            _, acc = await rec.call("GET", f"{v1}/account/{api_added.channel_id}")
            if acc.get("state") == "ready":
                break
            await asyncio.sleep(0.05)
        # a revoked token: the account goes to error, its reason is shown
        await sim.faults.revoke_token(revoked.token)
        for _ in range(100):
            _, acc = await rec.call("GET", f"{v1}/account/{revoked.channel_id}")
            if acc.get("state") == "error":
                break
            await asyncio.sleep(0.05)
        status, body = await rec.call(
            "POST", f"{v1}/create", json={"prompt": "x", "style": "Realistic", "channel": str(revoked.channel_id)}
        )
        assert status == 503, body
        await rec.call("DELETE", f"{v1}/account/{api_added.channel_id}")
        # a client with the wrong API token
        status, _ = await rec.call("GET", f"{v1}/jobs", token=WRONG_API_TOKEN)
        assert status == 401
        # operator views
        await harness.receiver.wait_for(3)
        await rec.call("GET", f"{v1}/callbacks?state=all")
        await rec.call("GET", f"{v1}/messages?limit=1000")
        await rec.call("GET", f"{v1}/jobs")
        await rec.call("GET", "/metrics", token=None)
        await rec.call("GET", "/healthz", token=None)
        await rec.call("GET", "/readyz", token=None)
        await rec.call("GET", f"{v1}/openapi.json", token=None)
        # an unexpected route and a bad method
        await rec.call("GET", f"{v1}/nope")
        await rec.call("PUT", f"{v1}/create")
    finally:
        await rec.http.close()
        await harness.stop_daemon()

    secrets = {
        "api token": API_TOKEN,
        "signing secret": SIGNING_SECRET,
        "ad-hoc token": ADHOC_TOKEN,
        **{f"discord token of {a.username}": a.token for a in (main, other, revoked, api_added)},
    }
    places = {
        **{f"response to {what} ({status})": text for what, status, text in rec.bodies},
        **{
            f"callback #{i}": body.decode() + json.dumps(headers)
            for i, (headers, body) in enumerate(harness.receiver.calls)
        },
        "the daemon's log output": scrubbed.getvalue(),
    }
    assert len(scrubbed.getvalue()) > 10_000, "the logs were not captured"
    leaks = [
        (secret_name, place)
        for place, text in places.items()
        for secret_name, secret in secrets.items()
        if secret in text or secret[3:-3] in text
    ]
    assert not leaks, leaks

    # Defence in depth: the scrubber was not what kept the logs clean, nothing logs a secret.
    raw_leaks = [name for name, secret in secrets.items() if secret in raw.getvalue()]
    assert not raw_leaks, (
        raw_leaks,
        [ln for ln in raw.getvalue().splitlines() if any(s in ln for s in secrets.values())][:5],
    )


def test_debug_logging_keeps_the_sql_echo_quiet() -> None:
    """At DEBUG the SQL layer would print the accounts table's tokens: setup_logging prevents it."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved = {name: logging.getLogger(name).level for name in SQL_LOGGERS}
    try:
        setup_logging("DEBUG")
        for name in SQL_LOGGERS:
            assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
