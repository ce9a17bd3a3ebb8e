"""The ``/v1/pixverse/`` endpoints. Handlers parse, delegate to the job service, and answer.

Where the hosted API answers a bare collection (the executing jobs, the account map), so do
we: those two bodies and the empty 204 are the only ones without a top-level ``code``.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from worker.api.bodies import read_fields
from worker.api.constants import BASE
from worker.api.keys import ACCOUNTS, SERVICE
from worker.api.openapi import openapi_document
from worker.api.responses import json_response, no_content
from worker.api.validation import parse_account, parse_create
from worker.driver import AccountView
from worker.errors import ApiError

log = logging.getLogger(__name__)

SHUTTING_DOWN = "Service is shutting down"
JOBID_MISSING = "Query param jobid not provided"
ACCOUNTS_NOT_FOUND = "Configuration not found. To create configuration use pixverse/account/<channel>"


async def create(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if not service.intake_open:
        raise ApiError(503, SHUTTING_DOWN)
    create_request = parse_create(await read_fields(request))
    status, body = await service.create(create_request)
    return json_response(body, status=status)


async def jobs(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if "jobid" not in request.query:
        return json_response(await service.executing())
    status, body = await service.job_body(_jobid(request))
    return json_response(body, status=status)


async def cancel(request: web.Request) -> web.Response:
    body = await request.app[SERVICE].cancel(_jobid(request))
    return json_response(body, status=body.get("code", 200))


async def accounts(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    listed = request.app[ACCOUNTS].listed()
    if not listed:
        raise ApiError(404, ACCOUNTS_NOT_FOUND)
    return json_response({view.channel: service.account_body(view) for view in listed})


async def account_get(request: web.Request) -> web.Response:
    view = _listed_account(request)
    return json_response({**request.app[SERVICE].account_body(view), "code": 200})


async def account_post(request: web.Request) -> web.Response:
    registry = request.app[ACCOUNTS]
    path_channel = request.match_info["channel"]
    parsed = parse_account(path_channel, await read_fields(request))
    existing = registry.get(parsed.channel)
    if existing is not None and existing.source == "config":
        raise ApiError(
            400,
            f"Channel {parsed.channel} is configured in the config file "
            "and cannot be changed through the API",
        )
    for other in registry.listed():
        if other.channel != parsed.channel and other.token == parsed.discord:
            raise ApiError(400, f"Channel {other.channel} configuration has same discord value")
    await registry.put(
        AccountView(
            channel=parsed.channel,
            server=parsed.server,
            token=parsed.discord,
            max_jobs=parsed.max_jobs,
            enabled=True,
            reply_url=parsed.reply_url,
            source="api",
        )
    )
    log.info("account %s stored through the API (maxJobs=%d)", parsed.channel, parsed.max_jobs)
    return no_content()


async def account_delete(request: web.Request) -> web.Response:
    view = _listed_account(request)
    if view.source == "config":
        raise ApiError(
            400,
            f"Channel {view.channel} is configured in the config file and cannot be deleted through the API",
        )
    await request.app[ACCOUNTS].delete(view.channel)
    log.info("account %s deleted through the API", view.channel)
    return no_content()


async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


def _jobid(request: web.Request) -> str:
    jobid = request.query.get("jobid", "").strip()
    if not jobid:
        raise ApiError(400, JOBID_MISSING)
    return jobid


def _listed_account(request: web.Request) -> AccountView:
    channel = request.match_info["channel"]
    view = request.app[ACCOUNTS].get(channel)
    if view is None or view.source == "adhoc":
        raise ApiError(404, f"Configuration for channel {channel} not found")
    return view


def add_routes(app: web.Application) -> None:
    """Each path is served with and without a trailing slash, as the hosted API does."""

    def both(method: str, path: str, handler: Handler) -> None:
        app.router.add_route(method, f"{BASE}/{path}", handler)
        app.router.add_route(method, f"{BASE}/{path}/", handler)

    both("POST", "create", create)
    both("GET", "jobs", jobs)
    both("GET", "jobs/cancel", cancel)
    both("GET", "account", accounts)
    both("GET", "account/{channel}", account_get)
    both("POST", "account/{channel}", account_post)
    both("DELETE", "account/{channel}", account_delete)
    app.router.add_get(f"{BASE}/openapi.json", openapi)
