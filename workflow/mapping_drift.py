"""Where a deployment's SQS event source mappings differ from the model.

Each of the model's queues is consumed by one function (`Queue.consumer`) through an SQS event
source mapping that the stack builds from the model (`cdk/stack.py`): the queue's batch size,
its batching window, and `ReportBatchItemFailures`, so that one failed record is retried alone
rather than with its whole batch (AWS Lambda Developer Guide, "Handling errors for an SQS event
source in Lambda",
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html). Given the
mappings deployed on those queues (as `lambda:ListEventSourceMappings` describes them:
`EventSourceArn`, `FunctionArn`, `BatchSize`, `MaximumBatchingWindowInSeconds`,
`FunctionResponseTypes`; https://docs.aws.amazon.com/lambda/latest/api/API_ListEventSourceMappings.html),
`mapping_drift` says which declared mappings are missing or changed, and which mappings on the
model's queues nobody declared (another consumer takes the queue's messages too).

Whether a mapping is enabled is not judged: the embedded AWS keeps every mapping disabled, the
local runtime polling the queues in their place (`local/template.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from workflow.drift import Difference
from workflow.model import CHOREOGRAPHY, Choreography

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


@dataclass(frozen=True)
class DeployedMapping:
    uuid: str
    queue_arn: str
    function_arn: str
    batch_size: int | None = None
    batching_window_seconds: int | None = None
    """None when the mapping says none: no window, as 0 is"""
    response_types: tuple[str, ...] = ()
    state: str = ""

    @property
    def function_name(self) -> str:
        """The function's name in its ARN (`arn:aws:lambda:<region>:<account>:function:<name>`,
        perhaps with a `:<qualifier>`)."""
        parts = self.function_arn.split(":")
        return parts[6] if len(parts) > 6 else self.function_arn


@dataclass(frozen=True)
class DeployedMappings:
    """The mappings whose source is one of the model's queues, and what the stack's outputs say
    those queues and functions are: a queue missing from `queues` was not read, so it is not
    checked."""

    mappings: tuple[DeployedMapping, ...]
    queues: dict[str, str]
    """each queue's ARN, by the model's queue id"""
    functions: dict[str, str]
    """each function's deployed name, by the model's function id: a consumer whose name is not
    known here is matched by its queue alone"""


@dataclass(frozen=True)
class MappingDrift:
    queue: str
    function: str
    """the model's consumer; for an undeclared mapping, the deployed function's name"""
    problem: str  # missing | changed | undeclared
    uuid: str | None = None
    differences: tuple[Difference, ...] = ()

    @property
    def key(self) -> str:
        """What stays the same while this drift lasts, and changes when it does."""
        kinds = ",".join(sorted({d.kind for d in self.differences})) or self.problem
        return f"mapping:{self.queue}:{self.function}:{self.uuid or ''}:{kinds}"

    @property
    def summary(self) -> str:
        if self.problem == "missing":
            return f"no event source mapping delivers queue {self.queue} to {self.function}"
        if self.problem == "undeclared":
            return f"queue {self.queue} is also consumed by {self.function}, which the model " \
                   f"does not declare"
        return "; ".join(d.detail for d in self.differences)


def _differences(choreography: Choreography, queue_id: str,
                 mapping: DeployedMapping) -> tuple[Difference, ...]:
    queue = choreography.queue(queue_id)
    found = []
    if mapping.batch_size != queue.batch_size:
        found.append(Difference("batch-size", f"batches of {mapping.batch_size}, not "
                                f"{queue.batch_size}"))
    window = mapping.batching_window_seconds or 0
    if window != queue.batching_window_seconds:
        found.append(Difference("batching-window", f"a batching window of {window} s, not "
                                f"{queue.batching_window_seconds} s"))
    if REPORT_BATCH_ITEM_FAILURES not in mapping.response_types:
        found.append(Difference("batch-item-failures", f"no {REPORT_BATCH_ITEM_FAILURES}: one "
                                "failed record fails its whole batch"))
    return tuple(found)


def mapping_drift(deployed: DeployedMappings,
                  choreography: Choreography = CHOREOGRAPHY) -> tuple[MappingDrift, ...]:
    """The declared mappings missing or changed on the queues read, and the mappings on them
    the model does not declare."""
    found: list[MappingDrift] = []
    for queue in choreography.queues:
        arn = deployed.queues.get(queue.id)
        if arn is None:
            continue
        on_queue = [mapping for mapping in deployed.mappings if mapping.queue_arn == arn]
        name = deployed.functions.get(queue.consumer)
        # Whichever stands for the declared one when the function's name is not known: the one
        # closest to the declaration.
        declared = sorted((mapping for mapping in on_queue
                           if name is None or mapping.function_name == name),
                          key=lambda mapping: len(_differences(choreography, queue.id, mapping)))
        if not declared:
            found.append(MappingDrift(queue.id, queue.consumer, "missing"))
        else:
            differences = _differences(choreography, queue.id, declared[0])
            if differences:
                found.append(MappingDrift(queue.id, queue.consumer, "changed", declared[0].uuid,
                                          differences))
        found.extend(MappingDrift(queue.id, mapping.function_name, "undeclared", mapping.uuid)
                     for mapping in on_queue if not declared or mapping is not declared[0])
    return tuple(found)
