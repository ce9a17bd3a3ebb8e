"""The OpenAPI 3.1 description of the API, served at ``GET /v1/pixverse/openapi.json``.

Built from the same constants the validation uses, so the two cannot drift. A copy is kept
in ``openapi.json`` next to this module for tools (``python -m worker.api.openapi`` rewrites
it; a test fails when it is stale).
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from worker.api.constants import (
    ASPECT_RATIOS,
    BASE,
    CHARACTERS,
    MAX_JOBS_MAX,
    MAX_JOBS_MIN,
    PROMPT_MAX,
    REPLY_MAX,
    REPLY_URL_PATTERN,
    STYLES,
)
from worker.jobs.status import JobStatus

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")

SNOWFLAKE = r"^\d{15,21}$"
# Empty means absent, as for every optional field.
REPLY_URL = r"^\s*(" + REPLY_URL_PATTERN[1:-1] + r")?\s*$"
FORM_NAMES = {"pattern": "^[^\\x00-\\x1f\\x7f]*$"}
_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _bodies(schema_name: str, form_schema_name: str) -> dict[str, Any]:
    content: dict[str, Any] = {_JSON: {"schema": _ref(schema_name)}}
    # Multipart names travel in a header, where control characters are not allowed.
    content["multipart/form-data"] = {
        "schema": {"allOf": [_ref(form_schema_name), {"propertyNames": FORM_NAMES}]}
    }
    content["application/x-www-form-urlencoded"] = {"schema": _ref(form_schema_name)}
    return {"required": True, "content": content}


def _string(max_length: int | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", **extra}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def _max_jobs(form: bool, required: bool = False) -> dict[str, Any]:
    # "2", " 2 " and "2.0" are accepted from forms as from JSON strings; "" and null mean absent.
    number = rf"([{MAX_JOBS_MIN}-9]|{MAX_JOBS_MAX})(\.0*)?"
    text = {"type": "string", "pattern": rf"^\s*{number}\s*$" if required else rf"^\s*({number})?\s*$"}
    if form:
        return text
    integer = {"type": "integer", "minimum": MAX_JOBS_MIN, "maximum": MAX_JOBS_MAX}
    return {"anyOf": [integer, text] if required else [integer, text, {"type": "null"}]}


def _nullable(schema: dict[str, Any], optional: list[str]) -> dict[str, Any]:
    """In JSON, null means absent for the optional fields."""
    for name in optional:
        prop = schema["properties"][name]
        if prop.get("type") == "string":
            prop["type"] = ["string", "null"]
            if "enum" in prop:
                prop["enum"] = [*prop["enum"], None]
    return schema


def _create_schema(form: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "description": "discord, server and channel: all three, channel alone, or none of them.",
        "required": ["prompt", "style"],
        "properties": {
            "prompt": _string(PROMPT_MAX, minLength=1, pattern=r"\S"),
            "style": {"type": "string", "enum": list(STYLES)},
            "negative_prompt": _string(PROMPT_MAX),
            "aspect_ratio": {"type": "string", "enum": list(ASPECT_RATIOS)},
            "character": {
                "type": "string",
                "enum": list(CHARACTERS),
                "description": "Used when style is Anime, otherwise ignored.",
            },
            "discord": _string(minLength=1, pattern=r"\S", description="Discord token."),
            "server": _string(pattern=SNOWFLAKE, description="Discord server id."),
            "channel": _string(pattern=SNOWFLAKE, description="Discord channel id."),
            "maxJobs": _max_jobs(form),
            "replyUrl": _string(REPLY_MAX, pattern=REPLY_URL),
            "replyRef": _string(REPLY_MAX),
        },
        "dependentRequired": {"discord": ["server", "channel"], "server": ["discord", "channel"]},
    }
    # Not the credentials: a null one would still count as "given" for dependentRequired.
    credentials = ("discord", "server", "channel")
    optional = [n for n in schema["properties"] if n not in schema["required"] and n not in credentials]
    return schema if form else _nullable(schema, optional)


def _account_request_schema(form: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["discord", "server", "channel", "maxJobs"],
        "properties": {
            "discord": _string(minLength=1, pattern=r"\S", description="Discord token."),
            "server": _string(pattern=SNOWFLAKE),
            "channel": _string(pattern=SNOWFLAKE, description="Must equal the channel in the path."),
            "maxJobs": _max_jobs(form, required=True),
            "replyUrl": _string(REPLY_MAX, pattern=REPLY_URL),
        },
    }
    return schema if form else _nullable(schema, ["replyUrl"])


def _schemas() -> dict[str, Any]:
    nullable_str = {"type": "string"}
    return {
        "Error": {
            "type": "object",
            "required": ["error", "code"],
            "properties": {
                "error": {"type": "string"},
                "errorDetails": {"type": "string"},
                "executingJobs": {"type": "array", "items": {"type": "string"}},
                "jobid": {"type": "string"},
                "status": {"type": "string"},
                "code": {"type": "integer"},
            },
        },
        "Job": {
            "type": "object",
            "required": ["jobid", "verb", "status", "created", "updated", "code"],
            "properties": {
                "jobid": {"type": "string"},
                "verb": {"type": "string", "const": "pixverse-create"},
                "status": {"type": "string", "enum": [s.value for s in JobStatus]},
                "created": {"type": "string", "format": "date-time"},
                "updated": {"type": "string", "format": "date-time"},
                "prompt": nullable_str,
                "style": nullable_str,
                "negative_prompt": nullable_str,
                "aspect_ratio": nullable_str,
                "character": nullable_str,
                "discord": {"type": "string", "description": "Masked: first 3 and last 3 characters."},
                "server": nullable_str,
                "channel": nullable_str,
                "maxJobs": {"type": "integer"},
                "replyUrl": nullable_str,
                "replyRef": nullable_str,
                "messageId": nullable_str,
                "content": nullable_str,
                "timestamp": nullable_str,
                "progress": {"type": "integer"},
                "attachments": {"type": "array", "items": {"type": "object"}},
                "buttons": {"type": "array", "items": {"type": "string"}},
                "embeds": {"type": "array", "items": {"type": "object"}},
                "parentJobId": nullable_str,
                "error": nullable_str,
                "errorDetails": nullable_str,
                "executingJobs": {"type": "array", "items": {"type": "string"}},
                "callback": {"type": "object"},
                "code": {"type": "integer"},
            },
        },
        "Cancelled": {
            "type": "object",
            "required": ["jobid", "status", "code"],
            "properties": {
                "jobid": {"type": "string"},
                "status": {"type": "string", "const": "cancelled"},
                "code": {"type": "integer", "const": 200},
            },
        },
        "Account": {
            "type": "object",
            "required": ["discord", "server", "channel", "maxJobs"],
            "properties": {
                "discord": {"type": "string", "description": "Masked: first 3 and last 3 characters."},
                "server": {"type": "string"},
                "channel": {"type": "string"},
                "maxJobs": {"type": "integer"},
                "replyUrl": {"type": "string"},
                "enabled": {"type": "boolean"},
                "source": {"type": "string", "enum": ["config", "api"]},
                "state": {"type": "string"},
                "error": {"type": "string"},
                "code": {"type": "integer"},
            },
        },
        "Accounts": {
            "type": "object",
            "description": "The accounts keyed by channel, as the hosted API answers (no top-level code).",
            "additionalProperties": _ref("Account"),
        },
        "CreateRequest": _create_schema(form=False),
        "CreateForm": _create_schema(form=True),
        "AccountRequest": _account_request_schema(form=False),
        "AccountForm": _account_request_schema(form=True),
    }


def _jobid_param(required: bool) -> dict[str, Any]:
    schema = {"type": "string", "minLength": 1, "pattern": r"\S"}
    return {"name": "jobid", "in": "query", "required": required, "schema": schema}


def _channel_param() -> dict[str, Any]:
    return {
        "name": "channel",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": SNOWFLAKE},
    }


_UNAUTHORIZED = _error("Missing or wrong bearer token: Unauthorized.")
_SERVER_ERROR = _error("Internal error, or the daemon could not reach Discord.")
_JOB_OR_ERROR = {"anyOf": [_ref("Job"), _ref("Error")]}


def _paths() -> dict[str, Any]:
    return {
        f"{BASE}/create": {
            "post": {
                "operationId": "create",
                "summary": "Submit the PixVerse /create command.",
                "requestBody": _bodies("CreateRequest", "CreateForm"),
                "responses": {
                    "200": _json(_ref("Job"), "The job, started (the bot acknowledged the command)."),
                    "400": _error("Invalid request (see the texts in the seed)."),
                    "401": _UNAUTHORIZED,
                    "402": _json(_JOB_OR_ERROR, "Account has no subscription or subscription expired."),
                    "404": _error("The channel given alone is not a configured account."),
                    "413": _error("Request body too large."),
                    "422": _json(_JOB_OR_ERROR, "Moderated by the bot: the job with status moderated."),
                    "429": _error("The account's parallel limit is full (executingJobs), or Discord's 429."),
                    "5XX": _json(_JOB_OR_ERROR, "No account available, shutting down, or Discord failed."),
                },
            }
        },
        f"{BASE}/jobs/": {
            "get": {
                "operationId": "jobs",
                "summary": "One job (with jobid), or the jobs executing now (without).",
                "parameters": [_jobid_param(False)],
                "responses": {
                    "200": _json(
                        {"oneOf": [_ref("Job"), {"type": "array", "items": _ref("Job")}]},
                        "The job; without jobid, a bare array of the executing jobs.",
                    ),
                    "400": _error("Query param jobid not provided."),
                    "401": _UNAUTHORIZED,
                    "402": _json(_JOB_OR_ERROR, "The job; it failed for lack of a subscription."),
                    "404": _error("Unable to locate job."),
                    "422": _json(_JOB_OR_ERROR, "The job; it was moderated."),
                    "429": _json(_JOB_OR_ERROR, "The job; Discord rate-limited its command."),
                    "5XX": _json(_JOB_OR_ERROR, "The job; it failed (error says why)."),
                },
            }
        },
        f"{BASE}/jobs/cancel/": {
            "get": {
                "operationId": "cancel",
                "summary": "Cancel an executing job; its slot is freed at once.",
                "parameters": [_jobid_param(True)],
                "responses": {
                    "200": _json(_ref("Cancelled"), "Cancelled."),
                    "400": _error("Query param jobid not provided, or the job is already final."),
                    "401": _UNAUTHORIZED,
                    "404": _error("Unable to locate job."),
                    "5XX": _SERVER_ERROR,
                },
            }
        },
        f"{BASE}/account": {
            "get": {
                "operationId": "accounts",
                "summary": "The configured accounts, keyed by channel.",
                "responses": {
                    "200": _json(_ref("Accounts"), "The accounts."),
                    "401": _UNAUTHORIZED,
                    "404": _error("Configuration not found."),
                    "5XX": _SERVER_ERROR,
                },
            }
        },
        f"{BASE}/account/{{channel}}": {
            "parameters": [_channel_param()],
            "get": {
                "operationId": "accountGet",
                "summary": "One account.",
                "responses": {
                    "200": _json(_ref("Account"), "The account, with code 200."),
                    "401": _UNAUTHORIZED,
                    "404": _error("Configuration for channel not found."),
                    "5XX": _SERVER_ERROR,
                },
            },
            "post": {
                "operationId": "accountPost",
                "summary": "Add or replace an account (stored in the database).",
                "requestBody": _bodies("AccountRequest", "AccountForm"),
                "responses": {
                    "204": {"description": "Stored; no body."},
                    "400": _error("Invalid account (Required param ... texts), or a config-file account."),
                    "401": _UNAUTHORIZED,
                    "413": _error("Request body too large."),
                    "5XX": _SERVER_ERROR,
                },
            },
            "delete": {
                "operationId": "accountDelete",
                "summary": "Delete an account added through the API.",
                "responses": {
                    "204": {"description": "Deleted; no body."},
                    "400": _error("The account is configured in the config file."),
                    "401": _UNAUTHORIZED,
                    "404": _error("Configuration for channel not found."),
                    "5XX": _SERVER_ERROR,
                },
            },
        },
        f"{BASE}/messages": {
            "get": {
                "operationId": "messages",
                "summary": "Bot messages the daemon kept aside (unclassified, unmatched, late, unparsable).",
                "parameters": [
                    {
                        "name": "reason",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["unclassified", "unmatched", "late", "unparsable"]},
                    },
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                ],
                "responses": {
                    "200": _json({"type": "object"}, "{messages: [...], counts: {reason: n}, code: 200}."),
                    "400": _error("Unknown reason or bad limit."),
                    "401": _UNAUTHORIZED,
                    "5XX": _SERVER_ERROR,
                },
            }
        },
        f"{BASE}/callbacks": {
            "get": {
                "operationId": "callbacks",
                "summary": "Callback deliveries by state (default failed).",
                "parameters": [
                    {
                        "name": "state",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "enum": ["failed", "pending", "delivered", "superseded", "all"],
                        },
                    },
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                ],
                "responses": {
                    "200": _json({"type": "object"}, "{deliveries: [...], code: 200}."),
                    "400": _error("Unknown state or bad limit."),
                    "401": _UNAUTHORIZED,
                    "5XX": _SERVER_ERROR,
                },
            }
        },
        f"{BASE}/callbacks/redeliver": {
            "post": {
                "operationId": "redeliver",
                "summary": "Deliver a failed callback again (same delivery id), or all failed ones.",
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {"deliveryId": {"type": "string"}, "all": {"type": "boolean"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json({"type": "object"}, "{redelivered: n, code: 200}."),
                    "400": _error("Neither deliveryId nor all given."),
                    "401": _UNAUTHORIZED,
                    "404": _error("Unable to locate delivery."),
                    "5XX": _SERVER_ERROR,
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "The process is alive. No token needed.",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "{status: ok, code: 200}.")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Database reachable and at least one account ready. No token needed.",
                "security": [],
                "responses": {
                    "200": _json({"type": "object"}, "Ready."),
                    "503": _json({"type": "object"}, "Not ready; problems lists why."),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics. No token needed.",
                "security": [],
                "responses": {"200": {"description": "Prometheus text format.", "content": {"text/plain": {}}}},
            }
        },
        f"{BASE}/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document. No token needed.",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
            }
        },
    }


@cache
def _document_text() -> str:
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "pixverse-worker",
            "version": "1",
            "description": (
                "Self-hosted, wire-compatible PixVerse API v1. Every body is JSON carrying `code` "
                "(the HTTP status), except 204 (empty), the executing-jobs array and the account map. "
                "Paths are also served with a trailing slash (or without one). Request bodies may be "
                "JSON, multipart/form-data or application/x-www-form-urlencoded, with the same meaning."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def openapi_document() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_document_text())
    return result


def main() -> None:
    DOCUMENT_PATH.write_text(_document_text(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOCUMENT_PATH}\n")


if __name__ == "__main__":
    main()
