"""Reads for the failures page: what sits in the dead-letter queues, and the redrives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from dashboard import aws
from dashboard.failures.dead_letter_queues import (
    DeadLetterQueue,
    dead_letter_queues,
    dead_letters_count,
    dead_letters_peek,
)
from dashboard.failures.elsewhere import Unreadable, other_dead_letter_queues
from dashboard.failures.redrive_jobs import RedriveJob
from dashboard.shared.problems import Problem
from workflow.dead_letters import DeadLetter


@dataclass(frozen=True)
class DeadLetterQueueState:
    queue: DeadLetterQueue
    count: int
    letters: list[DeadLetter]
    seen_at: datetime | None = None
    """When `letters` were received: a look is shared for a while (see `_dead_letters_seen`)."""

    @property
    def name(self) -> str:
        return self.queue.name

    @property
    def purpose(self) -> str:
        return self.queue.purpose

    @property
    def redrive_to(self) -> str:
        return self.queue.redrive_to

    @property
    def not_shown(self) -> int:
        """Counted but not seen: in flight (being looked at or redriven elsewhere), beyond the
        peek limit, or — in a FIFO queue — behind the first ten of their message group."""
        return max(0, self.count - len(self.letters))


@dataclass(frozen=True)
class DeadLetterOverview:
    queues: list[DeadLetterQueueState]
    problem: Problem | None = None
    """Why AWS could not be asked (then `queues` holds what was read before it failed)."""
    unreadable: list[Unreadable] = field(default_factory=list)
    """Stacks in other accounts whose dead-letter queues could not be read."""

    @property
    def total(self) -> int:
        return sum(state.count for state in self.queues)


@dataclass(frozen=True)
class _Look:
    letters: list[DeadLetter]
    at: datetime


LOOKING_SECONDS = 30
"""How long one request may hold a queue's look to itself (if its process dies mid-look)."""


def _look_key(queue: DeadLetterQueue) -> str:
    return f"dead-letters-look:{queue.url}"


def _dead_letters_seen(*, sqs: Any, queue: DeadLetterQueue) -> _Look | None:
    """The dead letters of a queue as last looked at, looked at again once stale.

    A look is a receive per ten letters, and it changes their visibility: many viewers (or
    one reloading) must not multiply it. So a look is kept in Django's cache (shared by every
    process in the production profile) for `DASHBOARD_DEAD_LETTER_PEEK_SECONDS`, takes at most
    `DASHBOARD_DEAD_LETTER_PEEK_RECEIVES` receives, and only one request at a time takes it:
    the others show the last look meanwhile, or none (None) if there is none yet."""
    key = _look_key(queue)
    look: _Look | None = cache.get(key)
    fresh_for = settings.DASHBOARD_DEAD_LETTER_PEEK_SECONDS
    if look is not None and (timezone.now() - look.at).total_seconds() < fresh_for:
        return look
    if not cache.add(f"{key}:looking", True, LOOKING_SECONDS):
        return look
    try:
        letters = dead_letters_peek(sqs=sqs, queue=queue,
                                    max_receives=settings.DASHBOARD_DEAD_LETTER_PEEK_RECEIVES)
        look = _Look(letters=letters, at=timezone.now())
        # Kept beyond its freshness, to be shown while another request looks again.
        cache.set(key, look, max(fresh_for, 1) * 10)
    finally:
        cache.delete(f"{key}:looking")
    return look


def dead_letters_seen_forget(*, queue: DeadLetterQueue) -> None:
    """After a redrive, the next view looks again rather than show what has gone."""
    cache.delete(_look_key(queue))


def dead_letter_queue_list(*, peek: bool = True) -> DeadLetterOverview:
    """Every dead-letter queue of the stack with its count, the non-empty first; with `peek`,
    the dead letters themselves as last looked at (see `_dead_letters_seen`), left in place
    and visible (a look is a receive, so it adds one to each message's receive count). The
    counts are asked every time: that is cheap and receives nothing."""
    context = aws.current()
    outputs = context.outputs_or_none()
    if outputs is None:
        where = f" at {context.endpoint_url}" if context.endpoint_url else ""
        return DeadLetterOverview([], Problem(
            status=503, title="AWS unreachable",
            detail=f"the stack {context.stack_name} could not be read{where}; is it up?"))
    sqs = context.client("sqs")
    states: list[DeadLetterQueueState] = []
    problem: Problem | None = None
    # the queues of stacks in other accounts too, each read in its account
    elsewhere, unreadable = other_dead_letter_queues(outputs.values, stack_name=context.stack_name)
    try:
        for queue, sqs in [*((queue, sqs) for queue in dead_letter_queues(outputs.values)),
                           *elsewhere]:
            count = dead_letters_count(sqs=sqs, queue=queue)
            look = _dead_letters_seen(sqs=sqs, queue=queue) if peek and count else None
            states.append(DeadLetterQueueState(
                queue=queue, count=count, letters=look.letters if look else [],
                seen_at=look.at if look else None))
    except (BotoCoreError, ClientError) as error:
        problem = Problem(status=503, title="SQS could not be asked", detail=str(error))
    states.sort(key=lambda state: (state.count == 0, state.name))
    return DeadLetterOverview(states, problem, unreadable=unreadable)


REDRIVE_JOBS_SHOWN_SECONDS = 3600
"""How long the failures page shows a redrive job after it started (one running, always)."""


def redrive_job_latest() -> dict[str, RedriveJob]:
    """Each queue's latest redrive job, if it runs or started in the last hour."""
    since = timezone.now() - timedelta(seconds=REDRIVE_JOBS_SHOWN_SECONDS)
    latest: dict[str, RedriveJob] = {}
    for job in RedriveJob.objects.filter(Q(state=RedriveJob.RUNNING) | Q(started_at__gte=since)):
        latest.setdefault(job.queue, job)  # newest first
    return latest
