"""Handing dead letters back to where they failed: one at a time, or a whole queue in a job."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from dashboard import aws
from dashboard.failures.dead_letter_queues import (
    DeadLetterQueue,
    RedriveResult,
    dead_letter_queues,
    dead_letters_count,
    dead_letters_redrive,
)
from dashboard.failures.redrive_jobs import RedriveJob
from dashboard.failures.selectors import dead_letters_seen_forget
from workflow.model import Bus

log = logging.getLogger("dashboard.failures.services")


class DeadLetterQueueUnknown(LookupError):
    """The stack names no dead-letter queue by that name."""


class RedriveRunning(RuntimeError):
    """A redrive of that queue is running already."""

    def __init__(self, job: RedriveJob | None) -> None:
        super().__init__(f"a redrive of {job.queue if job else 'that queue'} is running")
        self.job = job


ONE_LETTER_SEARCH = 100
"""How many dead letters a request looks through for the one it is asked to redrive: the
page shows at most fifty, so one it showed is found unless others took its place."""


def _dead_letter_queue(outputs: aws.StackOutputs, queue_name: str) -> DeadLetterQueue:
    queue = next((q for q in dead_letter_queues(outputs.values) if q.name == queue_name), None)
    if queue is None:
        raise DeadLetterQueueUnknown(queue_name)
    return queue


def dead_letter_redrive(*, queue_name: str, message_id: str) -> RedriveResult:
    """Hand one dead letter back to where it failed (`redriven` is 0 if it is gone), looking
    through at most `ONE_LETTER_SEARCH` messages for it: bounded work for one request."""
    context = aws.current()
    outputs = context.outputs()
    queue = _dead_letter_queue(outputs, queue_name)
    try:
        return dead_letters_redrive(sqs=context.client("sqs"), events=context.client("events"),
                                    queue=queue, global_bus_name=outputs.bus_name(Bus.GLOBAL),
                                    message_ids={message_id}, limit=ONE_LETTER_SEARCH)
    finally:
        dead_letters_seen_forget(queue=queue)


REDRIVE_JOB_WAIT_SECONDS = 2
"""A job long-polls its queue (see `dead_letters_redrive`): nobody waits for it."""


def redrive_job_start(*, queue_name: str) -> RedriveJob:
    """Start handing every dead letter of a queue back, in a thread of this process, and
    return at once; the job records its progress (`redrive_jobs`). Raises `RedriveRunning`
    while another redrive of the queue runs, in any process."""
    context = aws.current()
    outputs = context.outputs()
    queue = _dead_letter_queue(outputs, queue_name)
    work = {"queue": queue, "sqs": context.client("sqs"), "events": context.client("events"),
            "global_bus_name": outputs.bus_name(Bus.GLOBAL)}  # all it needs, before it is begun
    now = timezone.now()
    # A job whose process stopped holds the queue no longer.
    RedriveJob.objects.filter(
        queue=queue.name, state=RedriveJob.RUNNING,
        updated_at__lt=now - timedelta(seconds=settings.DASHBOARD_REDRIVE_STALE_SECONDS),
    ).update(state=RedriveJob.FAILED, error="its process stopped", finished_at=now)
    try:
        with transaction.atomic():
            job = RedriveJob.objects.create(queue=queue.name)
    except IntegrityError:
        raise RedriveRunning(RedriveJob.objects.filter(
            queue=queue.name, state=RedriveJob.RUNNING).first()) from None
    threading.Thread(target=redrive_job_run, name=f"redrive-{queue.name}", daemon=True,
                     kwargs={"job_id": job.pk, **work}).start()
    return job


def redrive_job_run(*, job_id: int, queue: DeadLetterQueue, sqs: Any, events: Any,
                    global_bus_name: str) -> None:
    """Run a redrive job to its end, recording its progress after every batch; a failure
    is recorded, not raised (nobody waits for the job)."""
    jobs = RedriveJob.objects.filter(pk=job_id)

    def progress(result: RedriveResult) -> None:
        jobs.update(moved=result.redriven, kept=result.kept, failed=result.failed,
                    updated_at=timezone.now())

    try:
        jobs.update(total=dead_letters_count(sqs=sqs, queue=queue), updated_at=timezone.now())
        dead_letters_redrive(sqs=sqs, events=events, queue=queue,
                             global_bus_name=global_bus_name, progress=progress,
                             wait_seconds=REDRIVE_JOB_WAIT_SECONDS)
        jobs.update(state=RedriveJob.FINISHED, finished_at=timezone.now(),
                    updated_at=timezone.now())
    except Exception as error:
        log.exception("redrive of %s failed", queue.name)
        jobs.update(state=RedriveJob.FAILED, error=str(error)[:2000], finished_at=timezone.now(),
                    updated_at=timezone.now())
    finally:
        dead_letters_seen_forget(queue=queue)
        connections.close_all()  # this thread's own: it ends here
