"""The services an API app carries, as typed ``web.AppKey``s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from worker.config import Config
from worker.jobs.accounts import AccountRegistry
from worker.metrics import Metrics

if TYPE_CHECKING:
    from worker.jobs.service import JobService

SERVICE: web.AppKey[JobService] = web.AppKey("service")
ACCOUNTS = web.AppKey("accounts", AccountRegistry)
CONFIG = web.AppKey("config", Config)
METRICS = web.AppKey("metrics", Metrics)
