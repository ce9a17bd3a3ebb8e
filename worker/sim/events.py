"""An observable record of what the sim saw, for assertions in tests and numbers in benchmarks."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any


@dataclass
class InteractionRecord:
    interaction_id: int
    user_id: int
    channel_id: int
    type: int  # 2 application command, 3 component
    name: str  # command name or custom_id
    options: dict[str, Any]
    nonce: str | None
    session_id: str
    status: int  # HTTP status the sim answered


@dataclass
class SimEvents:
    """Counters and logs; ``interactions`` lists every POST /interactions, accepted or not."""

    interactions: list[InteractionRecord] = field(default_factory=list)
    rest_requests: collections.Counter[str] = field(default_factory=collections.Counter)
    dispatches: collections.Counter[str] = field(default_factory=collections.Counter)
    unknown_routes: collections.Counter[str] = field(default_factory=collections.Counter)
    gateway_connections: int = 0
    identifies: int = 0
    resumes: int = 0

    def record_dispatch(self, event: str, user_id: int) -> None:
        self.dispatches[event] += 1

    def accepted(self, name: str | None = None) -> list[InteractionRecord]:
        return [i for i in self.interactions if i.status == 204 and (name is None or i.name == name)]

    def snapshot(self) -> dict[str, Any]:
        return {
            "interactions": len(self.interactions),
            "interactions_accepted": len(self.accepted()),
            "rest_requests": dict(self.rest_requests),
            "dispatches": dict(self.dispatches),
            "unknown_routes": dict(self.unknown_routes),
            "gateway_connections": self.gateway_connections,
            "identifies": self.identifies,
            "resumes": self.resumes,
        }
