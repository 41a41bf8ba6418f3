"""What the management commands say when the stack they need cannot be read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import CommandError

from dashboard import aws


@contextmanager
def stack_errors(context: aws.AwsContext) -> Iterator[None]:
    """Turn AWS's refusals into a CommandError that says where the command looked and what
    to check."""
    where = context.endpoint_url or f"AWS {context.region}"
    try:
        yield
    except aws.OutputMissing as error:
        raise CommandError(f"{error} (at {where}): is the stack deployed, and current?") from None
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message") or str(error)
        raise CommandError(f"stack {context.stack_name} at {where}: {message} (is it deployed? "
                           "CHOREO_STACK_NAME names the stack)") from None
    except BotoCoreError as error:
        raise CommandError(f"cannot reach AWS at {where}: {error} (is `python -m choreo up` "
                           "running? CHOREO_AWS_PORT or AWS_ENDPOINT_URL say where)") from None
