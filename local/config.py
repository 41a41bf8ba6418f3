"""Local mode settings, from the environment only, with LocalStack-like defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"  # moto's default account


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
    jitter_seconds: float = 0.0  # each delivery waits up to this long (reordering)

    @classmethod
    def from_environment(cls) -> Chaos:
        return cls(duplicate_rate=_float("CHOREO_CHAOS_DUPLICATE_RATE", 0.0),
                   failure_rate=_float("CHOREO_CHAOS_FAILURE_RATE", 0.0),
                   jitter_seconds=_float("CHOREO_CHAOS_JITTER_SECONDS", 0.0))

    @property
    def active(self) -> bool:
        return bool(self.duplicate_rate or self.failure_rate or self.jitter_seconds)


@dataclass(frozen=True)
class LocalConfig:
    host: str = "127.0.0.1"
    aws_port: int = 4566
    api_port: int = 4567
    dashboard_port: int = 8000
    region: str = "us-east-1"
    stack_name: str = "choreo"
    notification_api_key: str = "local-notification-key"
    cache_dir: Path = ROOT / ".cache"
    chaos: Chaos = field(default_factory=Chaos)

    @classmethod
    def from_environment(cls) -> LocalConfig:
        return cls(
            host=os.environ.get("CHOREO_HOST", "127.0.0.1"),
            aws_port=_int("CHOREO_AWS_PORT", 4566),
            api_port=_int("CHOREO_API_PORT", 4567),
            dashboard_port=_int("CHOREO_DASHBOARD_PORT", 8000),
            region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            stack_name=os.environ.get("CHOREO_STACK_NAME", "choreo"),
            notification_api_key=os.environ.get("CHOREO_NOTIFICATION_API_KEY",
                                                "local-notification-key"),
            cache_dir=Path(os.environ.get("CHOREO_CACHE_DIR", str(ROOT / ".cache"))),
            chaos=Chaos.from_environment(),
        )

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def notification_endpoint(self) -> str:
        return f"{self.api_url}/notifications"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.host}:{self.dashboard_port}"

    def client_environment(self) -> dict[str, str]:
        """What an AWS SDK needs to talk to the embedded AWS."""
        return {"AWS_ENDPOINT_URL": self.aws_endpoint, "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region}
