"""Where the dashboard finds AWS: boto3 clients and the stack outputs, the single place that
names the queues, log group, buses and URLs it uses. Nothing here hard-codes a name.

Environment: `CHOREO_STACK_NAME` (default `choreo`), `AWS_DEFAULT_REGION` (default
`us-east-1`), `AWS_ENDPOINT_URL` for any AWS-compatible endpoint, and `CHOREO_AWS`, which AWS:
`embedded` (the local profile's default: `http://CHOREO_HOST:CHOREO_AWS_PORT`, credentials
test/test) or `aws` (the production profile's default: AWS itself, through boto3's default
credential chain). `CHOREO_AWS=aws` with the local profile is a dashboard on your machine,
watching a deployed stack.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from workflow import outputs
from workflow.deployment import DEFAULT_STACK_NAME
from workflow.model import Bus

RETRY_OUTPUTS_SECONDS = 10.0


class OutputMissing(LookupError):
    """The stack has no output the dashboard needs: is the stack deployed, and current?"""


@dataclass(frozen=True)
class StackOutputs:
    stack_name: str
    values: dict[str, str]

    def get(self, key: str) -> str:
        try:
            return self.values[key]
        except KeyError:
            raise OutputMissing(f"stack {self.stack_name} has no output {key}") from None

    @property
    def observability_queue_url(self) -> str:
        return self.get(outputs.OBSERVABILITY_QUEUE_URL)

    @property
    def observability_log_group_name(self) -> str:
        return self.get(outputs.OBSERVABILITY_LOG_GROUP_NAME)

    @property
    def order_api_url(self) -> str:
        return self.get(outputs.ORDER_API_URL).rstrip("/")

    @property
    def inventory_table_name(self) -> str:
        return self.get(outputs.INVENTORY_TABLE_NAME)

    def bus_name(self, bus: Bus) -> str:
        return self.get(outputs.bus_name(bus))

    def queue_url(self, queue_id: str) -> str | None:
        return self.values.get(outputs.queue_url(queue_id))


# The service is a runtime string here, which boto3's typed overloads cannot name.
_make_client: Any = boto3.client


@dataclass
class AwsContext:
    """Clients and outputs for one account, region and stack; clients are made once and
    shared, which boto3 allows across threads."""

    region: str
    stack_name: str
    endpoint_url: str | None = None
    credentials: dict[str, str] = field(default_factory=dict)
    account: str | None = None
    """Another account to act in (its stack's outputs and queues): in the embedded AWS by
    moto's `x-moto-account-id` header, on AWS by the boto3 `profile` named for it."""
    profile: str | None = None
    _outputs: StackOutputs | None = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _failed_at: float = -1e9

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                make: Any = boto3.session.Session(profile_name=self.profile).client \
                    if self.profile else _make_client
                self._clients[service] = made = make(
                    service, region_name=self.region, endpoint_url=self.endpoint_url,
                    # Long polls wait up to 20 s: the read timeout must outlast them, and a
                    # pool wide enough for the poller's concurrent receives and deletes.
                    config=Config(read_timeout=30, connect_timeout=5, max_pool_connections=20,
                                  retries={"max_attempts": 3, "mode": "standard"}),
                    aws_access_key_id=self.credentials.get("aws_access_key_id"),
                    aws_secret_access_key=self.credentials.get("aws_secret_access_key"))
                if self.account and not self.profile:
                    account = self.account
                    made.meta.events.register(
                        "before-sign.*.*", lambda request, **_: request.headers.__setitem__(
                            "x-moto-account-id", account))
            return self._clients[service]

    def outputs(self, *, refresh: bool = False) -> StackOutputs:
        if self._outputs is None or refresh:
            stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)
            values = {output["OutputKey"]: output["OutputValue"]
                      for output in stacks["Stacks"][0].get("Outputs", [])}
            self._outputs = StackOutputs(stack_name=self.stack_name, values=values)
        return self._outputs

    def outputs_or_none(self) -> StackOutputs | None:
        """The outputs if the stack can be read; pages still render without them. A failure
        is remembered for a while, so that pages do not each wait on an AWS that is down."""
        if self._outputs is None and time.monotonic() - self._failed_at < RETRY_OUTPUTS_SECONDS:
            return None
        try:
            return self.outputs()
        except Exception:
            self._failed_at = time.monotonic()
            return None


AWS_TARGETS = ("embedded", "aws")


class UnknownAws(ValueError):
    pass


def _from_environment() -> AwsContext:
    production = os.environ.get("CHOREO_PROFILE", "local").strip().lower() == "production"
    target = os.environ.get("CHOREO_AWS", "aws" if production else "embedded").strip().lower()
    if target not in AWS_TARGETS:
        raise UnknownAws(f"CHOREO_AWS must be one of {', '.join(AWS_TARGETS)}, not {target!r}")
    local = target == "embedded"
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    credentials: dict[str, str] = {}
    if local:
        host = os.environ.get("CHOREO_HOST", "127.0.0.1")
        endpoint = endpoint or f"http://{host}:{os.environ.get('CHOREO_AWS_PORT', '4566')}"
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
    if not region and not local:  # the region of the AWS profile, as the AWS CLI would
        region = boto3.session.Session().region_name
    return AwsContext(region=region or "us-east-1",
                      stack_name=os.environ.get("CHOREO_STACK_NAME", DEFAULT_STACK_NAME),
                      endpoint_url=endpoint, credentials=credentials)


_current: AwsContext | None = None
_current_lock = threading.Lock()


def current() -> AwsContext:
    """The process's AWS context: configured by whoever started the dashboard, else read from
    the environment on first use."""
    global _current
    with _current_lock:
        if _current is None:
            _current = _from_environment()
        return _current


def configure(*, region: str, stack_name: str, endpoint_url: str | None,
              outputs: dict[str, str] | None = None,
              credentials: dict[str, str] | None = None) -> AwsContext:
    """Point the dashboard at one stack (the local runtime knows it already, so it passes
    the outputs it has rather than having them read again)."""
    global _current
    context = AwsContext(region=region, stack_name=stack_name, endpoint_url=endpoint_url,
                         credentials=credentials or {})
    if outputs is not None:
        context._outputs = StackOutputs(stack_name=stack_name, values=dict(outputs))
    with _current_lock:
        _current = context
    return context


_elsewhere: dict[tuple[str, str, str], AwsContext] = {}


def in_account(account: str, *, stack_name: str, region: str | None = None,
               profiles: dict[str, str] | None = None) -> AwsContext | None:
    """A context for a stack of another account, beside the current one: in the embedded
    AWS (an endpoint is set) the same endpoint, as that account; on AWS through the boto3
    profile `profiles` names for the account. None when nothing says how to reach it."""
    home = current()
    region = region or home.region
    profile = (profiles or {}).get(account)
    if profile is None and home.endpoint_url is None:
        return None
    key = (account, region, stack_name)
    with _current_lock:
        found = _elsewhere.get(key)
        if found is None or found.endpoint_url != home.endpoint_url or found.profile != profile:
            found = _elsewhere[key] = AwsContext(
                region=region, stack_name=stack_name, endpoint_url=home.endpoint_url,
                credentials={} if profile else dict(home.credentials), account=account,
                profile=profile)
        return found
