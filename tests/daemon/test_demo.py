"""`make demo` runs `pixverse-worker demo`: it must run to the end on a fresh set-up."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

BIN = Path(sys.executable).with_name("pixverse-worker")


async def test_demo_runs_to_the_end() -> None:
    proc = await asyncio.create_subprocess_exec(
        str(BIN), "demo", "--no-wait", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "-> HTTP 200" in text and "status=started" in text
    assert re.search(r"status=progress \d+%", text), text
    assert "status=completed" in text
    assert len(re.findall(r"^\s+http://127\.0\.0\.1:\d+/attachments/.*\.mp4", text, re.M)) >= 4
    assert "signature verified with the shared secret: True" in text
    assert "status=completed replyRef=demo-ref-1 videos=4" in text
    assert "Traceback" not in text
