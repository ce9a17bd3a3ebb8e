"""``pixverse-worker demo``: the whole product in one minute, on this machine.

Starts the simulated Discord with its PixVerse bot, a local callback receiver and the real
daemon (temporary database), submits a ``/create`` through the HTTP API exactly as a client
of the hosted API would, shows the job moving, the finished job with its 4 videos and the
signed callback that arrived; then keeps the daemon running for you to try it with curl.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from worker.config import Config
from worker.daemon import Daemon
from worker.logs import setup_logging
from worker.sim import SimBotSettings, SimDiscord
from worker.sim.receiver import WebhookReceiver

PROMPT = "Milla Jovovich riding motorcycle in extreme stormy weather thru California desert"


def _say(text: str = "") -> None:
    print(text, flush=True)


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does with X-Pixverse-Signature (the README's recipe)."""
    timestamp = headers.get("X-Pixverse-Timestamp", "")
    signature = headers.get("X-Pixverse-Signature", "")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("v1=" + expected, signature)


async def run_demo(*, wait: bool = True, port: int = 0) -> int:
    setup_logging("WARNING")
    workdir = Path(tempfile.mkdtemp(prefix="pixverse-demo-"))
    api_token = "demo-" + secrets.token_urlsafe(12)
    signing_secret = secrets.token_hex(16)

    _say("== pixverse-worker demo ==")
    sim = SimDiscord(
        bot=SimBotSettings(
            ack_delay=0.3, progress_steps=[25, 50, 75], progress_interval=0.8, result_delay=3.5, seed=7
        )
    )
    await sim.start()
    accounts = sim.world.add_accounts(2)
    _say(f"1. simulated Discord + PixVerse bot on {sim.rest_base} with {len(accounts)} user accounts")

    receiver = WebhookReceiver()
    await receiver.start()
    _say(f"2. callback receiver (your webhook) on {receiver.url}")

    settings = sim.daemon_config(accounts, max_jobs=2)
    settings.update(
        api={"host": "127.0.0.1", "port": port, "tokens": [api_token], "create_wait_seconds": 30},
        database={"url": f"sqlite+aiosqlite:///{workdir / 'demo.db'}"},
        callbacks={"signing_secret": signing_secret, "initial_backoff_seconds": 0.5},
    )
    config = Config.model_validate(settings)
    daemon = Daemon(config)
    try:
        await daemon.start()
        base = f"http://127.0.0.1:{daemon.port}/v1/pixverse"
        ready = await daemon.driver.wait_ready(timeout=30)
        states = ", ".join(f"{c}: {s.state.value}" for c, s in daemon.driver.statuses().items())
        _say(f"3. daemon on http://127.0.0.1:{daemon.port} (database {workdir / 'demo.db'}); sessions {states}")
        if not ready:
            _say("   the Discord sessions did not become ready; see the log above")
            return 1

        headers = {"Authorization": f"Bearer {api_token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            request = {
                "prompt": PROMPT,
                "style": "Realistic",
                "negative_prompt": "sand",
                "aspect_ratio": "16:9",
                "replyUrl": receiver.url,
                "replyRef": "demo-ref-1",
            }
            _say(f"4. POST {base}/create {json.dumps(request)}")
            t0 = time.perf_counter()
            async with http.post(f"{base}/create", json=request) as resp:
                created = await resp.json()
            took = (time.perf_counter() - t0) * 1000
            _say(f"   -> HTTP {resp.status} in {took:.0f} ms: status={created.get('status')}")
            if resp.status != 200:
                _say(f"   {json.dumps(created, indent=2)}")
                return 1
            jobid = created["jobid"]
            _say(f"   jobid={jobid}")
            _say(f"   content: {created.get('content')}")

            _say("5. following the job (GET jobs/?jobid=):")
            job = await _follow(http, base, jobid)
            if job.get("status") != "completed":
                _say(f"   the job ended {job.get('status')}: {job.get('error')}")
                return 1
            _say("6. finished job:")
            _say("   " + json.dumps(job, indent=2, ensure_ascii=False).replace("\n", "\n   "))
            _say("   the 4 videos:")
            for attachment in job.get("attachments", []):
                _say(f"     {attachment.get('url')}")

            _say("7. the callback that arrived at the receiver:")
            try:
                cb_headers, body = (await receiver.wait_for(1, timeout=30))[0]
            except AssertionError:
                _say("   no callback arrived within 30 s")
                return 1
            payload = json.loads(body)
            _say(f"   X-Pixverse-Delivery: {cb_headers.get('X-Pixverse-Delivery')}")
            _say(f"   X-Pixverse-Signature: {cb_headers.get('X-Pixverse-Signature')}")
            _say(f"   signature verified with the shared secret: {verify_signature(signing_secret, cb_headers, body)}")
            _say(
                f"   body: jobid={payload.get('jobid')} status={payload.get('status')} "
                f"replyRef={payload.get('replyRef')} videos={len(payload.get('attachments', []))}"
            )

        if wait:
            _say("")
            _say("The daemon keeps running. Try it (Ctrl-C to stop):")
            auth = f'-H "Authorization: Bearer {api_token}"'
            _say(f"  curl -s {auth} '{base}/jobs/?jobid={jobid}'")
            _say(f"  curl -s {auth} {base}/create -F prompt='a red fox in the snow' -F style=Anime -F character=klee")
            _say(f"  curl -s {auth} {base}/create -F prompt='nsfw test' -F style=Realistic   # moderated: 422")
            _say(f"  curl -s {auth} {base}/jobs")
            _say(f"  curl -s {auth} {base}/account")
            _say(f"  curl -s {auth} '{base}/messages?reason=unclassified'")
            _say(f"  curl -s http://127.0.0.1:{daemon.port}/metrics | grep pixverse_")
            await _wait_for_signal()
        return 0
    finally:
        await daemon.stop()
        await receiver.stop()
        await sim.stop()


async def _follow(http: aiohttp.ClientSession, base: str, jobid: str) -> dict[str, Any]:
    last = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with http.get(f"{base}/jobs/", params={"jobid": jobid}) as resp:
            job: dict[str, Any] = await resp.json()
        line = job.get("status"), job.get("progress")
        if line != last:
            last = line
            progress = f" {job['progress']}%" if job.get("progress") is not None else ""
            _say(f"   {time.strftime('%H:%M:%S')} status={job.get('status')}{progress}")
        if job.get("status") in ("completed", "failed", "moderated", "cancelled"):
            return job
        await asyncio.sleep(0.25)
    return job


async def _wait_for_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
