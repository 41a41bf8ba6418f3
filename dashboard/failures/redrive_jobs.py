"""Redrive jobs: a queue's dead letters handed back in the background, with progress.

A redrive of thousands of messages takes minutes, longer than a request should; so a request
starts a job and returns, and the job records how far it got after every batch. The records
are kept in the database, which every dashboard process shares, apart from the read model
(`models.py`): they are what was done, not what was observed, so a rebuild of the read model
leaves them be.

At most one job runs per queue: the database refuses a second running row for the same
queue. A job whose process stopped mid-way no longer reports progress; once it has been
silent for `DASHBOARD_REDRIVE_STALE_SECONDS` it counts as failed, and a new redrive may start.
Nothing is lost by stopping: a dead letter is deleted only after it was handed back, and one
handed back twice is absorbed by its consumer (idempotent by CloudEvent id).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class RedriveJob(models.Model):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    STATES = [(RUNNING, RUNNING), (FINISHED, FINISHED), (FAILED, FAILED)]

    queue = models.CharField(max_length=64, help_text="The dead-letter queue's name.")
    state = models.CharField(max_length=16, choices=STATES, default=RUNNING)
    total = models.IntegerField(null=True, help_text="Dead letters in the queue as it began.")
    moved = models.IntegerField(default=0, help_text="Handed back and deleted.")
    kept = models.IntegerField(default=0, help_text="Holding nothing to hand back; left in place.")
    failed = models.IntegerField(default=0, help_text="Refused where they go back; left in place.")
    error = models.TextField(blank=True, help_text="Why the job stopped, if it failed.")
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now,
                                      help_text="Its last progress: how a stopped job is told.")
    finished_at = models.DateTimeField(null=True)

    class Meta:
        app_label = "dashboard"
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(
            fields=["queue"], condition=models.Q(state="running"),
            name="one_running_redrive_per_queue")]
        indexes = [models.Index(fields=["queue", "-started_at"], name="redrive_queue_recent")]

    def __str__(self) -> str:
        return f"redrive of {self.queue} ({self.state})"

    @property
    def remaining(self) -> int | None:
        """What is left of what the queue held as the job began (more may have arrived)."""
        if self.total is None:
            return None
        return max(0, self.total - self.moved - self.kept - self.failed)

    def stalled(self, now: datetime | None = None) -> bool:
        """Running, but silent for so long that its process must have stopped."""
        silent = timedelta(seconds=settings.DASHBOARD_REDRIVE_STALE_SECONDS)
        return self.state == self.RUNNING and self.updated_at < (now or timezone.now()) - silent

    @property
    def running(self) -> bool:
        return self.state == self.RUNNING and not self.stalled()

    @property
    def done(self) -> int:
        return self.moved + self.kept + self.failed

    @property
    def shown_state(self) -> str:
        return self.FAILED if self.stalled() else self.state

    @property
    def summary(self) -> str:
        """What the job did, in words, for the page and its progress updates alike."""
        counts = f"{self.moved} moved"
        if self.total is not None and self.shown_state == self.RUNNING:
            counts += f", {self.remaining} remaining"
        if self.kept:
            counts += f", {self.kept} kept (no event to hand back)"
        if self.failed:
            counts += f", {self.failed} refused where they go back"
        if self.shown_state == self.RUNNING:
            return f"Redrive running: {counts}."
        if self.shown_state == self.FINISHED:
            return f"Redrive finished: {counts}."
        return f"Redrive failed ({self.error or 'its process stopped'}): {counts}."

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.pk, "queue": self.queue, "state": self.shown_state,
                "summary": self.summary, "done": self.done,
                "total": self.total, "moved": self.moved, "kept": self.kept,
                "failed": self.failed, "remaining": self.remaining,
                "error": self.error or ("its process stopped" if self.stalled() else None),
                "startedAt": self.started_at.isoformat(),
                "finishedAt": self.finished_at.isoformat() if self.finished_at else None}
