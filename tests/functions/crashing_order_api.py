"""The order API placing one order, read from stdin, in a process of its own that dies at the
step named on the command line: `os._exit`, as a timeout, an out-of-memory kill or a lost host
ends an invocation, with no `except`, no `finally` and nothing flushed. AWS is whatever
`AWS_ENDPOINT_URL` names.

    python -m tests.functions.crashing_order_api written < order.json

Steps, each named after what was done when it dies:
- `asked`: the check is asked for, and the order is not written yet;
- `written`: the order is written, and its event not published yet;
- `published`: the event is published, and the client not answered yet.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from tests.functions.conftest import FakeContext
from tests.support import api_request

CRASHED = 75


def die(*_args: Any, **_kwargs: Any) -> NoReturn:
    os._exit(CRASHED)


def then_die(step: Callable[..., Any]) -> Callable[..., NoReturn]:
    def run(*args: Any, **kwargs: Any) -> NoReturn:
        step(*args, **kwargs)
        die()
    return run


def main(step: str) -> None:
    from functions.order import api

    dying = {"asked": (api.orders, "add", die), "written": (api.publisher, "publish", die),
             "published": (api.publisher, "publish", then_die(api.publisher.publish))}
    target, method, replacement = dying[step]
    setattr(target, method, replacement)
    response = api.lambda_handler(api_request("POST", "/orders", sys.stdin.read()), FakeContext())
    print(json.dumps(response))  # it lived: the test says what it expected instead


if __name__ == "__main__":
    main(sys.argv[1])
