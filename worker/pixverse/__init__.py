"""Pure parsing of the PixVerse bot's Discord messages into events.

Flow: raw gateway dict --snapshot_from_payload--> MessageSnapshot --classify(ReplyMatchers)-->
BotEvent, which `worker.jobs.correlate` assigns to a job. Nothing here does I/O.
"""

from worker.pixverse.echo import find_echo, parse_echo, parse_key_tail, strip_echo
from worker.pixverse.events import BotEvent, BotEventKind, EchoedParams
from worker.pixverse.matchers import PATTERN_KINDS, ReplyMatchers
from worker.pixverse.parser import classify
from worker.pixverse.snapshot import MessageSnapshot, snapshot_from_payload, videos

__all__ = [
    "PATTERN_KINDS",
    "BotEvent",
    "BotEventKind",
    "EchoedParams",
    "MessageSnapshot",
    "ReplyMatchers",
    "classify",
    "find_echo",
    "parse_echo",
    "parse_key_tail",
    "snapshot_from_payload",
    "strip_echo",
    "videos",
]
