"""Logging set-up: readable lines by default, JSON lines on request, secrets always scrubbed."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

# The SQL loggers (sqlalchemy, aiosqlite) print statement parameters and rows at DEBUG, and the
# accounts table holds raw Discord tokens: they stay at WARNING even when the level is DEBUG.
_QUIET = ("discord", "curl_cffi", "aiohttp.access", "alembic", "sqlalchemy", "aiosqlite")


class SecretScrubber(logging.Filter):
    """Replace any known secret in a record with ``***`` (defence in depth: we never log them)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        self.secrets |= {s for s in secrets if s and len(s) >= 6}

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        exc_text = ""
        if record.exc_info:
            exc_text = logging.Formatter().formatException(record.exc_info)
        cleaned = message
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, "***")
            exc_text = exc_text.replace(secret, "***")
        if cleaned != message or (record.exc_info and exc_text):
            record.msg, record.args = cleaned, None
            if record.exc_info:
                record.exc_info = None
                record.exc_text = exc_text
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body = {
            "ts": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            body["exc"] = record.exc_text
        return json.dumps(body, ensure_ascii=False)


SCRUBBER = SecretScrubber()


def setup_logging(level: str = "INFO", *, json_lines: bool = False, secrets: Iterable[str] = ()) -> None:
    SCRUBBER.update(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(SCRUBBER)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Python warnings (e.g. the library's "coroutine was never awaited" at shutdown) are log
    # records too: they get the same format (JSON lines stay JSON) and the same scrubbing.
    logging.captureWarnings(True)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
