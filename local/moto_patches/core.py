"""moto's own machinery: what every request and every model instance costs."""

from __future__ import annotations

import contextlib
import functools
import weakref
from typing import Any

import moto
import moto.backends
import moto.core.responses
import moto.dynamodb.models
import moto.events.models
import moto.sqs.models
from moto.core.common_models import BaseModel


class LiveInstances(weakref.WeakSet[Any]):
    """A model class's instances, as long as something else keeps them."""

    def append(self, instance: Any) -> None:  # moto appends to the list this replaces
        self.add(instance)


def track_live_instances_only() -> None:
    """moto keeps every instance of every model it ever made (for its `/moto-api/data.json`
    view): every SQS message ever sent, deleted or not, every version of every DynamoDB
    item ever written, every copy made on the way. That was most of the embedded AWS's
    growth: ~25 messages and ~30 items an order, forever. Each class now keeps its instances
    weakly, so the view shows what exists and the rest is freed."""

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        instance: Any = object.__new__(cls)
        tracked = cls.__dict__.get("instances_tracked")
        if not isinstance(tracked, LiveInstances):
            tracked = LiveInstances(tracked or ())
            type.__setattr__(cls, "instances_tracked", tracked)
        with contextlib.suppress(TypeError):  # a class that cannot be referred to weakly
            tracked.add(instance)
        return instance

    model_class: Any = BaseModel
    model_class.__new__ = staticmethod(__new__)


def memoise_backend_lookup() -> None:
    """To route each request, moto's server lists its own package directory and checks every
    entry with `isdir` (about 200 system calls), under a lock that every request takes: ~8 %
    of the server's time. The directory does not change while it runs."""
    modules = tuple(moto.backends.list_of_moto_modules())
    lookup: Any = functools.lru_cache(maxsize=1)(lambda: modules)
    moto.backends.list_of_moto_modules = lookup


def memoise_action_lookup() -> None:
    """To find the method that answers a request, moto lists every member of the response
    class with `inspect.getmembers`, on every request (~0.2 ms). A class's methods do not
    change while the server runs."""
    responses: Any = moto.core.responses
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(
        responses.method_names_from_class)


def count_calls() -> None:
    """Count every request moto's HTTP layer answers, by service and operation
    (`local.hooks.CALLS`): the calls an order costs are the first thing its cost is made of."""
    from local.hooks import CALLS, PRINCIPALS

    response_class: Any = moto.core.responses.BaseResponse
    call_action = response_class.call_action

    def counted(self: Any) -> Any:
        # the access key is parsed from the request only while functions hold sessions
        principal = PRINCIPALS.get(self.get_access_key()) if PRINCIPALS else None
        caller = principal.role_arn.rsplit("/", 1)[-1] if principal is not None else ""
        CALLS.count(str(getattr(self, "service_name", "") or "unknown"), str(self._get_action()),
                    caller=caller)
        return call_action(self)

    response_class.call_action = counted
