"""Fault injection: gateway closes and invalidations, dispatch drop/delay/duplicate/reorder,
REST errors and 429s, token revocation, bot silence.

Usable from Python (``sim.faults.reconnect(user_id)``) and, for out-of-process users, from
``POST /_sim/faults`` with ``{"action": "...", ...}`` (see :meth:`Faults.apply`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .gateway import CLOSE_AUTHENTICATION_FAILED, OP_INVALID_SESSION, OP_RECONNECT

if TYPE_CHECKING:
    from .gateway import GatewayHub
    from .world import World

log = logging.getLogger(__name__)

DISPATCH_ACTIONS = ("drop", "delay", "duplicate", "reorder")


@dataclass
class DispatchRule:
    action: str
    event: str | None  # None: any event
    remaining: int
    delay: float = 0.0
    user_id: int | None = None

    def matches(self, event: str, user_id: int) -> bool:
        return (self.event is None or self.event == event) and (
            self.user_id is None or self.user_id == user_id
        )


@dataclass
class RestRule:
    status: int
    route: str  # a regex searched in the path, e.g. "/interactions$"
    remaining: int
    method: str | None = None
    retry_after: float = 1.0
    is_global: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method.upper()) and re.search(
            self.route, path
        ) is not None


class Faults:
    """Pending faults; every rule fires for its next ``count`` matches and is then spent."""

    def __init__(self, world: World, hub: GatewayHub) -> None:
        self._world = world
        self._hub = hub
        self.dispatch_rules: list[DispatchRule] = []
        self.rest_rules: list[RestRule] = []
        # Interactions the bot will not answer (Discord then sends INTERACTION_FAILURE).
        self.unanswered_interactions = 0
        hub.faults = self

    def clear(self) -> None:
        self.dispatch_rules.clear()
        self.rest_rules.clear()
        self.unanswered_interactions = 0

    # -- dispatch --------------------------------------------------------------------------

    def add_dispatch_rule(
        self,
        action: str,
        event: str | None = None,
        *,
        count: int = 1,
        delay: float = 0.5,
        user_id: int | None = None,
    ) -> DispatchRule:
        if action not in DISPATCH_ACTIONS:
            raise ValueError(f"unknown dispatch fault {action!r}")
        rule = DispatchRule(action=action, event=event, remaining=count, delay=delay, user_id=user_id)
        self.dispatch_rules.append(rule)
        return rule

    def drop_events(
        self, event: str | None = None, *, count: int = 1, user_id: int | None = None
    ) -> DispatchRule:
        return self.add_dispatch_rule("drop", event, count=count, user_id=user_id)

    def delay_events(
        self, event: str | None = None, *, delay: float = 0.5, count: int = 1, user_id: int | None = None
    ) -> DispatchRule:
        return self.add_dispatch_rule("delay", event, count=count, delay=delay, user_id=user_id)

    def duplicate_events(
        self, event: str | None = None, *, count: int = 1, user_id: int | None = None
    ) -> DispatchRule:
        return self.add_dispatch_rule("duplicate", event, count=count, user_id=user_id)

    def reorder_events(
        self, event: str | None = None, *, count: int = 1, user_id: int | None = None
    ) -> DispatchRule:
        """Hold the matching event and send it after the next one to that session."""
        return self.add_dispatch_rule("reorder", event, count=count, user_id=user_id)

    def match_dispatch(self, event: str, user_id: int) -> DispatchRule | None:
        for rule in self.dispatch_rules:
            if rule.remaining > 0 and rule.matches(event, user_id):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.dispatch_rules.remove(rule)
                return rule
        return None

    # -- REST ------------------------------------------------------------------------------

    def rest_error(
        self,
        status: int = 500,
        route: str = "/interactions$",
        *,
        count: int = 1,
        method: str | None = None,
        retry_after: float = 1.0,
        is_global: bool = False,
    ) -> RestRule:
        """The next ``count`` requests matching ``route`` get ``status`` (a 429 carries retry_after)."""
        rule = RestRule(
            status=status,
            route=route,
            remaining=count,
            method=method,
            retry_after=retry_after,
            is_global=is_global,
        )
        self.rest_rules.append(rule)
        return rule

    def rate_limit(
        self,
        route: str = "/interactions$",
        *,
        retry_after: float = 0.5,
        count: int = 1,
        method: str | None = None,
    ) -> RestRule:
        return self.rest_error(429, route, count=count, method=method, retry_after=retry_after)

    def match_rest(self, method: str, path: str) -> RestRule | None:
        for rule in self.rest_rules:
            if rule.remaining > 0 and rule.matches(method, path):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.rest_rules.remove(rule)
                return rule
        return None

    # -- gateway ---------------------------------------------------------------------------

    async def reconnect(self, user_id: int | None = None) -> int:
        """Op 7 RECONNECT: the client closes and RESUMEs."""
        return await self._hub.close_connections(self._hub.sessions_of(user_id), op=OP_RECONNECT)

    async def close_sessions(self, user_id: int | None = None, *, code: int = 4000) -> int:
        """Close with a code (4000: resumable; 4004, 4010-4014: fatal for the client)."""
        return await self._hub.close_connections(self._hub.sessions_of(user_id), code=code)

    async def drop_connections(self, user_id: int | None = None) -> int:
        """Abort the TCP connections: no close frame at all."""
        return await self._hub.close_connections(self._hub.sessions_of(user_id), abort=True)

    async def invalidate_sessions(self, user_id: int | None = None) -> int:
        """Op 9 with d=false: the session is gone, the client must IDENTIFY again."""
        return await self._hub.close_connections(self._hub.sessions_of(user_id), op=OP_INVALID_SESSION)

    async def revoke_token(self, token: str) -> int:
        """The token stops working: REST 401, live sessions closed with 4004, RESUME refused."""
        self._world.revoke_token(token)
        sessions = [s for s in self._hub.sessions.values() if s.token == token]
        for s in sessions:
            s.resumable = False
        return await self._hub.close_connections(sessions, code=CLOSE_AUTHENTICATION_FAILED)

    def fail_interactions(self, count: int = 1) -> None:
        """The bot does not answer the next ``count`` interactions: INTERACTION_FAILURE, no messages."""
        self.unanswered_interactions += count

    def take_unanswered(self) -> bool:
        if self.unanswered_interactions > 0:
            self.unanswered_interactions -= 1
            return True
        return False

    # -- admin endpoint --------------------------------------------------------------------

    async def apply(self, spec: dict[str, Any]) -> dict[str, Any]:
        """One fault from JSON: ``{"action": "reconnect" | "close" | "drop_connections" | "invalidate"
        | "revoke_token" | "rest_error" | "rate_limit" | "drop" | "delay" | "duplicate" | "reorder"
        | "fail_interactions" | "clear", ...}``; ``user_id``, ``event``, ``count``, ``delay``,
        ``status``, ``route``, ``method``, ``retry_after``, ``code``, ``token`` as the action needs."""
        action = spec.get("action")
        user_id = int(spec["user_id"]) if spec.get("user_id") is not None else None
        count = int(spec.get("count", 1))
        if action == "reconnect":
            return {"closed": await self.reconnect(user_id)}
        if action == "close":
            return {"closed": await self.close_sessions(user_id, code=int(spec.get("code", 4000)))}
        if action == "drop_connections":
            return {"closed": await self.drop_connections(user_id)}
        if action == "invalidate":
            return {"closed": await self.invalidate_sessions(user_id)}
        if action == "revoke_token":
            return {"closed": await self.revoke_token(str(spec["token"]))}
        if action in ("rest_error", "rate_limit"):
            status = 429 if action == "rate_limit" else int(spec.get("status", 500))
            self.rest_error(
                status,
                str(spec.get("route", "/interactions$")),
                count=count,
                method=spec.get("method"),
                retry_after=float(spec.get("retry_after", 1.0)),
                is_global=bool(spec.get("global", False)),
            )
            return {"ok": True}
        if action in DISPATCH_ACTIONS:
            self.add_dispatch_rule(
                action, spec.get("event"), count=count, delay=float(spec.get("delay", 0.5)), user_id=user_id
            )
            return {"ok": True}
        if action == "fail_interactions":
            self.fail_interactions(count)
            return {"ok": True}
        if action == "clear":
            self.clear()
            return {"ok": True}
        raise ValueError(f"unknown fault action {action!r}")
