"""SQS queues as every queue here is made: encrypted, TLS-only, and either redriven to a
dead-letter queue or itself a dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.constructs.naming import logical_id_set
from workflow.model import queue_name

# The longest SQS allows: a dead letter waits two weeks to be looked at and redriven.
DEAD_LETTER_RETENTION = Duration.days(14)


def secure_queue(scope: Construct, construct_id: str, *, logical_id: str,
                 queue_name: str | None = None, fifo: bool = False,
                 content_based_deduplication: bool | None = None,
                 visibility_timeout: Duration | None = None,
                 delivery_delay: Duration | None = None,
                 retention_period: Duration | None = None,
                 dead_letter_queue: sqs.DeadLetterQueue | None = None) -> sqs.Queue:
    queue = sqs.Queue(
        scope, construct_id,
        queue_name=queue_name,
        fifo=fifo or None,
        content_based_deduplication=content_based_deduplication,
        visibility_timeout=visibility_timeout,
        delivery_delay=delivery_delay,
        retention_period=retention_period,
        dead_letter_queue=dead_letter_queue,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )
    logical_id_set(queue, logical_id)
    return queue


def dead_letter_queue(scope: Construct, construct_id: str, *, logical_id: str,
                      queue_name: str | None = None, fifo: bool = False) -> sqs.Queue:
    """A queue that is only ever a dead-letter queue: it keeps what it is given as long as
    SQS allows, and has no dead-letter queue of its own."""
    return secure_queue(scope, construct_id, logical_id=logical_id, queue_name=queue_name,
                        fifo=fifo, retention_period=DEAD_LETTER_RETENTION)


class RedrivenQueue(Construct):
    """A queue, and the dead-letter queue SQS moves a message to once it has been received
    `max_receive_count` times without being deleted."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str | None,
                 logical_id: str, fifo: bool, max_receive_count: int,
                 visibility_timeout: Duration | None = None,
                 delivery_delay: Duration | None = None) -> None:
        super().__init__(scope, construct_id)
        # Named after the stack (cdk.settings.physical_names), so stacks share a region.
        base = f"{Stack.of(self).stack_name}-{name}" if name else None
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetterQueue", logical_id=f"{logical_id}DeadLetterQueue",
            queue_name=queue_name(f"{base}-dlq", fifo=fifo) if base else None, fifo=fifo)
        self.queue = secure_queue(
            self, "Queue", logical_id=f"{logical_id}Queue",
            queue_name=queue_name(base, fifo=fifo) if base else None, fifo=fifo,
            # Identical deliveries within SQS's five-minute window collapse into one; the
            # consumers are idempotent anyway, so this only saves work.
            content_based_deduplication=True if fifo else None,
            visibility_timeout=visibility_timeout, delivery_delay=delivery_delay,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue,
                                                  max_receive_count=max_receive_count))
