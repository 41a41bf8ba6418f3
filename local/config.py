"""Local mode settings, from the environment only, with LocalStack-like defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow.deployment import DEFAULT_STACK_NAME

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"  # moto's default account
# Whether the embedded AWS refuses what AWS refuses (docs/local-mode.md, "What fails on AWS
# fails here"): on unless `0`, `off`, `false` or `no`.
ENFORCEMENT_ENV = "CHOREO_ENFORCEMENT"


def enforcement_from_environment() -> bool:
    return os.environ.get(ENFORCEMENT_ENV, "on").strip().lower() not in {"0", "off", "false",
                                                                          "no"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


@dataclass(frozen=True)
class Chaos:
    """Faults the local runtime injects, for demos and the reliability suite."""

    duplicate_rate: float = 0.0  # a delivered batch is delivered again
    failure_rate: float = 0.0  # an invocation fails before the handler runs
    jitter_seconds: float = 0.0  # deliveries are held back up to this long (reordering)
    poison_rate: float = 0.0  # share of events whose every delivery fails, until switched off

    FIELDS = ("duplicate_rate", "failure_rate", "jitter_seconds", "poison_rate")

    @classmethod
    def from_environment(cls) -> Chaos:
        return cls(**{name: _float(f"CHOREO_CHAOS_{name.upper()}", 0.0) for name in cls.FIELDS})

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> Chaos:
        unknown = set(values) - set(cls.FIELDS)
        if unknown:
            raise ValueError(f"unknown chaos settings: {sorted(unknown)}")
        chaos = cls(**{name: float(values.get(name, 0.0)) for name in cls.FIELDS})  # type: ignore[arg-type]
        for name in ("duplicate_rate", "failure_rate", "poison_rate"):
            if not 0.0 <= getattr(chaos, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        # held deliveries must come due well within the queues' visibility timeout (60 s)
        if not 0.0 <= chaos.jitter_seconds <= 30.0:
            raise ValueError("jitter_seconds must be between 0 and 30")
        return chaos

    def to_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.FIELDS}

    @property
    def active(self) -> bool:
        return any(self.to_dict().values())


class ChaosControl:
    """The chaos in force, switched at run time (the HTTP front's `/_local/chaos`)."""

    def __init__(self, chaos: Chaos) -> None:
        self.chaos = chaos


@dataclass(frozen=True)
class LocalConfig:
    host: str = "127.0.0.1"
    aws_port: int = 4566
    api_port: int = 4567
    dashboard_port: int = 8000
    region: str = "us-east-1"
    stack_name: str = DEFAULT_STACK_NAME
    cache_dir: Path = ROOT / ".cache"
    chaos: Chaos = field(default_factory=Chaos)
    # Failed SQS records come back after this many seconds rather than the queue's visibility
    # timeout (a minute), so failures resolve while you watch; 0 keeps Lambda's behaviour.
    retry_delay_seconds: int = 2
    # Execution environments a function may have at once, and concurrent batches an event
    # source mapping may run while a queue is backed up. Lambda scales out much further; here
    # each environment costs ~35 MiB, and on two cores the embedded AWS, not the functions,
    # sets the pace: one each holds the sustained rate. Raise it to watch a FIFO queue's
    # partitions worked on side by side.
    lambda_concurrency: int = 1
    # How long an event may wait for a function before the order API refuses new work with
    # 503 and Retry-After (see local/http_front.py): past the system's capacity, latency stays
    # near this per hop instead of growing with the queues.
    behind_after_seconds: float = 1.0
    # How long consumers remember the CloudEvents they handled (the model's idempotency
    # window, an hour on AWS). Locally every retry comes within seconds, and the embedded AWS
    # keeps its tables in memory: ten minutes bounds the records instead of letting an hour of
    # them pile up. 0 keeps the deployed window.
    idempotency_window_seconds: int = 600
    # Subdomains deployed in accounts of their own (`loyalty=222222222222`): the embedded AWS
    # serves each account (see docs/local-mode.md); empty: everything in ACCOUNT_ID.
    subdomain_accounts: str = ""
    # A region for the observability replica (`eu-west-1`); empty: none.
    replica_region: str = ""
    # Which version of each event its producers publish (`order.placed=2`, the CDK setting
    # choreo:eventVersions); empty: the model's. A running system switches without a deploy
    # by updating the function's EVENT_VERSIONS through the Lambda API (docs/versioning.md).
    event_versions: str = ""
    # The v1-only sales ledger and its translator (the CDK setting choreo:legacyConsumer);
    # off: the choreography alone.
    legacy_consumer: bool = False
    # Whether the embedded AWS refuses what AWS refuses: IAM on every call a function makes,
    # resource policies on every delivery (docs/local-mode.md, the fidelity ledger).
    enforcement: bool = True

    @property
    def placed(self) -> bool:
        """Whether the deployment spans accounts or regions (several stacks)."""
        return bool(self.subdomain_accounts or self.replica_region)

    @classmethod
    def from_environment(cls) -> LocalConfig:
        return cls(
            host=os.environ.get("CHOREO_HOST", "127.0.0.1"),
            aws_port=_int("CHOREO_AWS_PORT", 4566),
            api_port=_int("CHOREO_API_PORT", 4567),
            dashboard_port=_int("CHOREO_DASHBOARD_PORT", 8000),
            region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            stack_name=os.environ.get("CHOREO_STACK_NAME", DEFAULT_STACK_NAME),
            cache_dir=Path(os.environ.get("CHOREO_CACHE_DIR", str(ROOT / ".cache"))),
            chaos=Chaos.from_environment(),
            retry_delay_seconds=_int("CHOREO_RETRY_DELAY_SECONDS", 2),
            lambda_concurrency=_int("CHOREO_LAMBDA_CONCURRENCY", 1),
            behind_after_seconds=_float("CHOREO_BEHIND_AFTER_SECONDS", 1.0),
            idempotency_window_seconds=_int("CHOREO_IDEMPOTENCY_WINDOW_SECONDS", 600),
            subdomain_accounts=os.environ.get("CHOREO_SUBDOMAIN_ACCOUNTS", ""),
            replica_region=os.environ.get("CHOREO_REPLICA_REGION", ""),
            event_versions=os.environ.get("CHOREO_EVENT_VERSIONS", ""),
            legacy_consumer=os.environ.get("CHOREO_LEGACY_CONSUMER", "").strip().lower()
            in {"1", "true", "yes", "on"},
            enforcement=enforcement_from_environment(),
        )

    def to_dict(self) -> dict[str, object]:
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return {**values, "cache_dir": str(self.cache_dir), "chaos": self.chaos.to_dict()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LocalConfig:
        return cls(**{**values, "cache_dir": Path(values["cache_dir"]),
                      "chaos": Chaos.from_dict(values["chaos"])})

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.host}:{self.dashboard_port}"

    def client_environment(self) -> dict[str, str]:
        """What an AWS SDK needs to talk to the embedded AWS."""
        return {"AWS_ENDPOINT_URL": self.aws_endpoint, "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region}
