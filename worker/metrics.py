"""Prometheus metrics. One registry per daemon so tests can run several in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.job_transitions = Counter(
            "pixverse_job_transitions", "Job status transitions, by target status.", ["status"], registry=r
        )
        self.jobs = Gauge("pixverse_jobs", "Stored jobs by status.", ["status"], registry=r)
        self.create_latency = Histogram(
            "pixverse_create_latency_seconds",
            "POST create: request received to response.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.bot_reply_latency = Histogram(
            "pixverse_bot_reply_latency_seconds",
            "Command sent to the bot's first reply.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.result_latency = Histogram(
            "pixverse_result_latency_seconds",
            "Command sent to the completed result.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.sessions = Gauge("pixverse_sessions", "Discord sessions by state.", ["state"], registry=r)
        self.discord_429 = Counter(
            "pixverse_discord_rate_limited", "Discord 429 answers to interactions.", registry=r
        )
        self.unclassified = Counter(
            "pixverse_unclassified_messages", "Bot messages no matcher claimed.", ["reason"], registry=r
        )
        self.callbacks = Counter(
            "pixverse_callback_attempts", "Callback delivery attempts by outcome.", ["outcome"], registry=r
        )
        self.callbacks_pending = Gauge(
            "pixverse_callbacks_pending", "Callback deliveries waiting to be delivered.", registry=r
        )
        self.http_requests = Counter(
            "pixverse_http_requests", "API requests by route and status.", ["route", "code"], registry=r
        )

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
