"""The daemon's discord.py-self client factory.

Everything here is for the REAL Discord as much as for the simulated one; each patch exists
because of a fact about discord.py-self 2.1.0 (see shared/docs/discord-protocol.md):

- the endpoints are class attributes with no other way to point them elsewhere
  (:func:`configure_endpoints`);
- ``Headers.default`` makes network calls with no timeout of its own on each client's first
  request (:func:`install_offline_headers`);
- the real failure event is INTERACTION_FAILURE but 2.1.0 only parses INTERACTION_FAILED;
- explicit JSON nulls (``components: null``, ``thread: null`` ...) crash message parsing, and a
  parser exception must never cost the daemon the message: the raw payload hook sees every
  MESSAGE_* dict before (and regardless of) the library's parsing (:func:`make_client`).
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import discord
import discord.gateway
import discord.http
import discord.utils
import yarl

log = logging.getLogger(__name__)

DISCORD_REST_BASE = "https://discord.com/api/v9"
DISCORD_GATEWAY_BASE = "wss://gateway.discord.gg/"

# A recent stable Chrome on Windows and a plausible web client build; Discord only needs them
# to look like a browser, and fixed values cost no start-up network calls.
OFFLINE_BROWSER_VERSION = 136
OFFLINE_BUILD_NUMBER = 400000

RawMessageListener = Callable[[str, dict[str, Any]], None]

RAW_MESSAGE_EVENTS = ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE")

# Raw interaction events, seen before the library's parser (the session driver's hook).
RawInteractionListener = Callable[[str, dict[str, Any]], None]
RAW_INTERACTION_EVENTS = (
    "INTERACTION_CREATE",
    "INTERACTION_SUCCESS",
    "INTERACTION_FAILED",
    "INTERACTION_FAILURE",
)

# Top-level message keys whose explicit null is meaningful to 2.1.0 and must be kept:
# `referenced_message: null` means "the replied-to message was deleted". Every other top-level
# null is at best equal to absence (`data.get(k)`), and at worst a crash: 2.1.0 iterates or
# indexes `components`, `thread`, `attachments`, `embeds`, `mentions`, `mention_roles`,
# `reactions`, `sticker_items`, `interaction`, `member`, `application`, `poll`,
# `message_reference`, ... whenever the key is present.
_MEANINGFUL_NULLS = frozenset({"referenced_message"})


def configure_endpoints(rest_base: str = DISCORD_REST_BASE, gateway_base: str = DISCORD_GATEWAY_BASE) -> None:
    """Point every discord.py-self client in this process at ``rest_base`` / ``gateway_base``.

    2.1.0 hard-codes both as class attributes (``Route.BASE``, ``DiscordWebSocket.DEFAULT_GATEWAY``)
    and has no ``GET /gateway`` step; plain ``http://`` and ``ws://`` work. Process-global.
    """
    discord.http.Route.BASE = rest_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_base)


async def _offline_headers(
    cls: type[discord.utils.Headers], session: Any, proxy: Any = None, proxy_auth: Any = None
) -> discord.utils.Headers:
    bv = OFFLINE_BROWSER_VERSION
    properties = {
        "os": "Windows",
        "browser": "Chrome",
        "device": "",
        "system_locale": "en-US",
        "browser_user_agent": (
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{bv}.0.0.0 Safari/537.36"
        ),
        "browser_version": f"{bv}.0.0.0",
        "os_version": "10",
        "referrer": "",
        "referring_domain": "",
        "referrer_current": "",
        "referring_domain_current": "",
        "release_channel": "stable",
        "client_build_number": OFFLINE_BUILD_NUMBER,
        "client_event_source": None,
        "has_client_mods": False,
        "client_launch_id": str(uuid.uuid4()),
        "client_app_state": "unfocused",
        "client_heartbeat_session_id": str(uuid.uuid4()),
    }
    encoded = base64.b64encode(json.dumps(properties, separators=(",", ":")).encode()).decode()
    return cls(
        platform="Windows",
        major_version=bv,
        super_properties=properties,
        encoded_super_properties=encoded,
        extra_gateway_properties={
            "is_fast_connect": False,
            "latest_headless_tasks": [],
            "latest_headless_task_run_seconds_before": None,
            "gateway_connect_reasons": "AppSkeleton",
        },
    )


_offline_headers.__offline__ = True  # type: ignore[attr-defined]


def install_offline_headers() -> None:
    """Replace ``Headers.default`` with a builder that makes no network calls. Idempotent.

    The stock one asks a third-party properties service, then scrapes discord.com and Google
    for a build number and browser version, with no timeout of its own (field notes): slow or
    hanging start-ups with many accounts, and impossible offline.
    """
    current = discord.utils.Headers.__dict__.get("default")
    if getattr(getattr(current, "__func__", None), "__offline__", False):
        return
    discord.utils.Headers.default = classmethod(_offline_headers)  # type: ignore[assignment,method-assign]


# -- error bodies -------------------------------------------------------------------------
# 2.1.0's ``RateLimited`` (raised when a 429's retry_after exceeds max_ratelimit_timeout) keeps
# only retry_after; the daemon must hand Discord's own body to the API caller. The response is
# read through the module-level ``json_or_text``: a wrapper records >= 400 bodies into a box
# held by a ContextVar, so only the awaiting task that opened the box sees its own responses.
_error_bodies: contextvars.ContextVar[list[tuple[int, str]] | None] = contextvars.ContextVar(
    "discord_error_bodies", default=None
)


def install_error_body_capture() -> None:
    """Wrap ``discord.http.json_or_text`` so :func:`capture_error_bodies` works. Idempotent."""
    original = discord.http.json_or_text
    if getattr(original, "__capturing__", False):
        return

    async def json_or_text(response: Any) -> Any:
        data = await original(response)
        box = _error_bodies.get()
        status = getattr(response, "status_code", None) or getattr(response, "status", 0) or 0
        if box is not None and status >= 400:
            box.append((int(status), data if isinstance(data, str) else json.dumps(data)))
        return data

    json_or_text.__capturing__ = True  # type: ignore[attr-defined]
    json_or_text.__wrapped__ = original  # type: ignore[attr-defined]
    discord.http.json_or_text = json_or_text  # type: ignore[assignment]


@contextlib.contextmanager
def capture_error_bodies() -> Iterator[list[tuple[int, str]]]:
    """Collect ``(status, body text)`` of every >= 400 response awaited inside the block."""
    box: list[tuple[int, str]] = []
    token = _error_bodies.set(box)
    try:
        yield box
    finally:
        _error_bodies.reset(token)


def strip_nulls(data: dict[str, Any]) -> dict[str, Any]:
    """Drop top-level explicit nulls that crash 2.1.0's message parsing (a copy; input untouched)."""
    return {k: v for k, v in data.items() if v is not None or k in _MEANINGFUL_NULLS}


def _wrap_message_parser(
    event: str, original: Callable[[Any], None], listener: RawMessageListener | None
) -> Callable[[Any], None]:
    def parse(data: Any) -> None:
        if listener is not None:
            try:
                listener(event, data)
            except Exception:
                log.exception("raw message listener failed on %s", event)
        try:
            original(strip_nulls(data) if isinstance(data, dict) else data)
        except Exception:
            # The gateway would log and go on too, but say which message it was: one odd
            # message must never break a session, and the raw listener already has it.
            msg_id = data.get("id") if isinstance(data, dict) else None
            log.warning("discord.py-self could not parse %s %s", event, msg_id, exc_info=True)

    parse.__wrapped__ = original  # type: ignore[attr-defined]
    return parse


def _wrap_interaction_parser(
    event: str, original: Callable[[Any], None], listener: RawInteractionListener
) -> Callable[[Any], None]:
    def parse(data: Any) -> None:
        try:
            listener(event, data)
        except Exception:
            log.exception("raw interaction listener failed on %s", event)
        original(data)

    parse.__wrapped__ = original  # type: ignore[attr-defined]
    return parse


def make_client(
    *,
    raw_message_listener: RawMessageListener | None = None,
    raw_interaction_listener: RawInteractionListener | None = None,
    **kwargs: Any,
) -> discord.Client:
    """A light ``discord.Client`` for one account, ready for ``login`` + ``connect``.

    - ``chunk_guilds_at_startup=False``: otherwise ``on_ready`` is late by seconds or never fires.
    - ``max_messages=None`` and ``MemberCacheFlags.none()``: no message or member cache (about
      1.2 MB per idle client); edits arrive as ``on_raw_message_edit``.
    - INTERACTION_FAILURE is aliased to the library's INTERACTION_FAILED parser, so that
      an interaction the bot never answered ends the wait as ``successful=False``.
    - ``raw_message_listener(event_name, data)`` sees every MESSAGE_CREATE / MESSAGE_UPDATE /
      MESSAGE_DELETE payload first, also those the library then fails to parse.
    - ``raw_interaction_listener(event_name, data)`` sees every INTERACTION_CREATE / _SUCCESS /
      _FAILED / _FAILURE ``{id, nonce}`` first, in gateway order: 2.1.0 registers its own wait
      only after the POST returns, so events that beat the 204 are otherwise missed.

    The parsers dict is built once in ``ConnectionState.__init__`` and each new gateway
    connection takes that same dict (``ws._discord_parsers = state.parsers``), so patching it
    here survives reconnects and re-identifies.
    """
    options: dict[str, Any] = {
        "chunk_guilds_at_startup": False,
        "max_messages": None,
        "member_cache_flags": discord.MemberCacheFlags.none(),
    }
    options.update(kwargs)
    # The daemon never joins voice: don't warn every operator that PyNaCl is missing.
    discord.VoiceClient.warn_nacl = False
    client = discord.Client(**options)
    parsers = client._connection.parsers
    parsers["INTERACTION_FAILURE"] = parsers["INTERACTION_FAILED"]
    for event in RAW_MESSAGE_EVENTS:
        parsers[event] = _wrap_message_parser(event, parsers[event], raw_message_listener)
    if raw_interaction_listener is not None:
        for event in RAW_INTERACTION_EVENTS:
            parsers[event] = _wrap_interaction_parser(event, parsers[event], raw_interaction_listener)
    return client
