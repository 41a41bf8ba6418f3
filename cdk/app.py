"""The CDK app's entry point.

`python -m cdk.app` (what cdk.json runs, so `cdk synth` and `cdk deploy` work as usual)
synthesizes into cdk.out/. From Python, `build_app` gives the app and `synth_template` the
stack's CloudFormation template, without the CDK CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any

from aws_cdk import App

from cdk.assets import PROJECT_ROOT
from cdk.nag import nag_checks_add
from cdk.stack import ChoreoStack
from workflow.model import CHOREOGRAPHY, Choreography

STACK_NAME = "choreo"
CDK_JSON = PROJECT_ROOT / "cdk.json"
# Set by the CDK CLI when it runs the app; the app then writes where the CLI says.
OUTDIR_ENV = "CDK_OUTDIR"


def project_context() -> dict[str, Any]:
    """cdk.json's context (the feature flags), so that an app built from Python synthesizes
    the same template as `cdk synth`."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text()).get("context", {})
    return context


def build_app(context: dict[str, Any] | None = None, *, outdir: str | None = None,
              nag: bool = True, choreography: Choreography = CHOREOGRAPHY) -> App:
    """The app with its one stack, `choreo`, environment-agnostic, built from `choreography`
    (the model). `context` adds to and overrides cdk.json's; with `nag`, synth fails on any
    unacknowledged cdk-nag finding."""
    # Passed as defaults: context the CDK CLI hands over (cdk.json, `-c`) still wins.
    app = App(context={**project_context(), **(context or {})}, outdir=outdir)
    stack = ChoreoStack(app, STACK_NAME, choreography=choreography,
                        description="Order fulfilment choreographed over EventBridge")
    if nag:
        nag_checks_add(app, stack)
    return app


def synth_template(context: dict[str, Any] | None = None, *, nag: bool = True) -> dict[str, Any]:
    """The stack's CloudFormation template, synthesized into a scratch directory."""
    with tempfile.TemporaryDirectory(prefix="choreo-synth-") as outdir:
        assembly = build_app(context, outdir=outdir, nag=nag).synth()
        template: dict[str, Any] = assembly.get_stack_by_name(STACK_NAME).template
        return template


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cdk.app", description=__doc__)
    parser.add_argument("--nag", action=argparse.BooleanOptionalAction, default=True,
                        help="check the app with cdk-nag's AWS Solutions rules (default: on)")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE",
                        help="set a context value, as `cdk synth -c` does")
    arguments = parser.parse_args(argv)
    context = dict(item.split("=", 1) for item in arguments.context)
    outdir = None if os.environ.get(OUTDIR_ENV) else str(PROJECT_ROOT / "cdk.out")
    assembly = build_app(context, outdir=outdir, nag=arguments.nag).synth()
    checks = "cdk-nag AwsSolutions checks passed" if arguments.nag else "cdk-nag not run"
    print(f"synthesized {STACK_NAME} into {assembly.directory} ({checks})", file=sys.stderr)


if __name__ == "__main__":
    main()
