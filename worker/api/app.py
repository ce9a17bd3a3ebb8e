"""The API's app factory: routes, the one middleware, and the services it reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from worker.api.keys import ACCOUNTS, CONFIG, METRICS, SERVICE
from worker.api.middleware import make_middleware
from worker.api.routes import add_routes
from worker.config import Config
from worker.jobs.accounts import AccountRegistry
from worker.metrics import Metrics

if TYPE_CHECKING:
    from worker.jobs.service import JobService

RouteRegistrar = Callable[[web.Application], None]


def create_app(
    *,
    service: JobService,
    accounts: AccountRegistry,
    config: Config,
    metrics: Metrics,
    extra_routes: Sequence[RouteRegistrar] = (),
) -> web.Application:
    """Build the app. ``extra_routes`` lets other modules (health, metrics, ...) add routes;
    the middleware covers them too, but only ``/v1/`` paths need the bearer token."""
    middleware = make_middleware(
        tokens=[t.get_secret_value() for t in config.api.tokens],
        max_body_bytes=config.api.max_body_bytes,
        metrics=metrics,
    )
    app = web.Application(client_max_size=config.api.max_body_bytes, middlewares=[middleware])
    app[SERVICE] = service
    app[ACCOUNTS] = accounts
    app[CONFIG] = config
    app[METRICS] = metrics
    add_routes(app)
    for register in extra_routes:
        register(app)
    return app
