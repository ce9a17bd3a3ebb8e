"""Job statuses, their named sets, and the moves between them.

``JobStore.transition`` is the only code that changes a status; it checks moves against
``ALLOWED`` below.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    CREATED = "created"
    STARTED = "started"
    PROGRESS = "progress"
    MODERATED = "moderated"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: The job holds one of its account's parallel slots.
ACTIVE: frozenset[JobStatus] = frozenset({JobStatus.CREATED, JobStatus.STARTED, JobStatus.PROGRESS})
#: Final: the callback is sent, nothing changes it any more.
TERMINAL: frozenset[JobStatus] = frozenset(
    {JobStatus.MODERATED, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
)

# Gateway events can be reordered or the acknowledgement lost, so a job may jump from
# created straight to progress or completed.
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.CREATED: frozenset(
        {
            JobStatus.STARTED,
            JobStatus.PROGRESS,
            JobStatus.COMPLETED,
            JobStatus.MODERATED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
        }
    ),
    JobStatus.STARTED: frozenset(
        {JobStatus.PROGRESS, JobStatus.COMPLETED, JobStatus.MODERATED, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    JobStatus.PROGRESS: frozenset(
        {JobStatus.PROGRESS, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
}


def can_move(current: JobStatus, target: JobStatus) -> bool:
    return target in ALLOWED.get(current, frozenset())
