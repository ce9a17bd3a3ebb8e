"""The soak (bench/soak.py) at CI size: 100 jobs over 5 accounts with every fault switched on.

The full run (``python -m bench.soak --jobs 1000 --accounts 20``) is not part of the test run.
"""

from __future__ import annotations

from bench.soak import SoakSettings, run_soak


async def test_reduced_soak_has_nothing_stuck_lost_or_crashed() -> None:
    report = await run_soak(
        SoakSettings(
            jobs=100,
            accounts=5,
            seed=3,
            result_delay=0.3,
            ack_delay=0.02,
            fault_interval=0.5,
            job_timeout=15,
            drain_seconds=60,
        )
    )
    summary = "\n".join(report.lines())
    print(summary)
    assert report.accepted >= 100, summary
    assert not report.stuck, summary
    assert not report.lost, summary
    assert not report.wrong_status, summary
    assert not report.crashes, summary
    assert report.gave_up == 0, summary
    # The faults really happened, and every final job with a replyUrl got its callback.
    assert sum(report.faults.values()) > 0, summary
    assert report.distinct_jobs_delivered == report.with_reply_url == sum(report.final.values()), summary
