"""What the job scheduler did with one repeating job (the trading tick) while a test watched it, read from APScheduler's
own events instead of wall-clock gaps (which a loaded machine stretches): each time the job was due, whether it
ran, was skipped (its previous run was still going: ``max_instances``), was missed (the event loop reached it later
than the grace time), or was dropped without a word (coalesced: the loop woke more than a period late)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)

WATCHED = EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED


class JobSchedule:
    def __init__(self, app: Any, name: str) -> None:
        self._scheduler = app.job_queue.scheduler
        self.job = app.job_queue.get_jobs_by_name(name)[0].job
        self.interval: timedelta = self.job.trigger.interval
        self.submitted: list[datetime] = []
        self.skipped: list[datetime] = []
        self.missed: list[datetime] = []
        self._scheduler.add_listener(self._on, WATCHED)

    def _on(self, ev: SchedulerEvent) -> None:
        if getattr(ev, "job_id", None) != self.job.id:
            return
        if isinstance(ev, JobSubmissionEvent):
            (self.submitted if ev.code == EVENT_JOB_SUBMITTED else self.skipped).extend(ev.scheduled_run_times)
        elif isinstance(ev, JobExecutionEvent):
            self.missed.append(ev.scheduled_run_time)

    def stop(self) -> None:
        self._scheduler.remove_listener(self._on)

    @property
    def ran(self) -> list[datetime]:
        return [t for t in self.submitted if t not in self.missed]

    def dropped(self) -> list[datetime]:
        """Due times between the first and the last one seen that no event names (coalesced away)."""
        seen = sorted(set(self.submitted) | set(self.skipped))
        out: list[datetime] = []
        for a, b in zip(seen, seen[1:], strict=False):
            t = a + self.interval
            while t < b - self.interval / 2:
                out.append(t)
                t += self.interval
        return out

    def report(self) -> dict[str, Any]:
        return {"ran": len(self.ran), "skipped": [str(t) for t in self.skipped],
                "missed": [str(t) for t in self.missed], "dropped": [str(t) for t in self.dropped()]}
