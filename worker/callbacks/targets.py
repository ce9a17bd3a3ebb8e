"""Which replyUrls the daemon will POST to.

Two layers:

* ``check_reply_url`` (syntax, at request time and again at delivery time): only ``http`` and
  ``https`` URLs with a host, at most 1024 characters.
* ``callbacks.refuse_private_targets: true`` (at delivery time): the host is resolved and the
  delivery is refused - a permanent failure, ``last_error`` says which address - when any
  address is loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, which includes
  cloud metadata endpoints, fe80::/10), multicast, reserved, unspecified or shared (100.64/10).
  The same rule is enforced again by the resolver used for the connection itself, so a DNS
  answer that changes between the check and the connect (DNS rebinding) is refused as well.

How operators restrict targets: turn ``refuse_private_targets`` on whenever API clients are
not fully trusted (the daemon would otherwise POST wherever a caller points it, including
services on the daemon's own network). For an allow-list of receivers, or when the daemon
must reach an internal receiver while refusing everything else internal, use an egress
firewall in front of the daemon: the per-URL rule here is deliberately simple and does not
replace network policy. (The callback HTTP client ignores the ``HTTP(S)_PROXY`` environment
variables, so a proxy cannot be used to bypass this rule by accident.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

MAX_URL_LENGTH = 1024
ALLOWED_SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The target is not allowed by the URL policy; never worth retrying."""


def check_reply_url(url: str) -> str | None:
    """``None`` when ``url`` is an acceptable replyUrl, else the reason in words."""
    if not isinstance(url, str) or not url.strip():
        return "replyUrl is empty"
    if len(url) > MAX_URL_LENGTH:
        return f"replyUrl is longer than {MAX_URL_LENGTH} characters"
    try:
        parsed = URL(url.strip())
    except (ValueError, TypeError):
        return f"replyUrl {url} is not a valid URL"
    if parsed.scheme.lower() not in ALLOWED_SCHEMES:
        return f"replyUrl {url} must use http or https"
    if not parsed.host:
        return f"replyUrl {url} has no host"
    try:
        parsed.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        return f"replyUrl {url} has an invalid port"
    return None


def host_key(url: str) -> str:
    """The per-host concurrency key: the URL's host name, lower case (ports share a host)."""
    try:
        return (URL(url).host or "").lower()
    except (ValueError, TypeError):
        return ""


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` is refused under ``refuse_private_targets``, or ``None``."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("shared", isinstance(address, ipaddress.IPv4Address) and address in _SHARED),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


async def check_resolved_target(url: str) -> None:
    """Resolve the URL's host; raise ``TargetRefused`` when any address is not public.

    Resolution errors (``OSError``) propagate: DNS trouble is temporary, worth a retry.
    """
    parsed = URL(url)
    host = parsed.host or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    for address in await _addresses(host, port):
        if reason := forbidden_reason(address):
            raise TargetRefused(f"refused target {host}: {address} is {reason} (refuse_private_targets)")


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


class PublicOnlyResolver(ThreadedResolver):
    """The connector's resolver under ``refuse_private_targets``: refuses non-public answers."""

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(str(result["host"]).split("%", 1)[0])
            if reason := forbidden_reason(address):
                raise OSError(f"refused target {host} ({address} is {reason})")
        return results
