"""The CDK app's entry point.

`python -m cdk.app` (what cdk.json runs, so `cdk synth` and `cdk deploy` work as usual)
synthesizes into cdk.out/. From Python, `build_app` gives the app and `synth_template` the
stack's CloudFormation template (`synth_templates` every stack's), without the CDK CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any

from aws_cdk import App, Environment, Stack

from cdk.assets import PROJECT_ROOT
from cdk.forwarding import ForwardingRolesStack
from cdk.nag import nag_checks_add
from cdk.replica import ObservabilityReplicaStack
from cdk.settings import Settings, SettingsError
from cdk.stack import ChoreoStack
from workflow.deployment import STACK_NAME as STACK_NAME_KEY
from workflow.deployment import stack_name_of, stack_name_problems
from workflow.legacy import with_legacy_consumer
from workflow.model import CHOREOGRAPHY, Choreography
from workflow.placement import KEYS as PLACEMENT_KEYS
from workflow.placement import ForwardingPlan, PlacementError, Placements, StackPlan

# The stack's name unless `choreo:stackName` says otherwise.
STACK_NAME = stack_name_of({})
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
    """The app with its one stack (`choreo` unless `choreo:stackName` names another),
    environment-agnostic, built from `choreography` (the model); or, when the placement
    settings put a subdomain in another account or a replica in another region
    (`workflow.placement`), one stack per account and region, each pinned to it. `context`
    adds to and overrides cdk.json's; with `nag`, synth fails on any unacknowledged cdk-nag
    finding. Settings that cannot deploy raise `SettingsError`."""
    # Passed as defaults: context the CDK CLI hands over (cdk.json, `-c`) still wins.
    app = App(context={**project_context(), **(context or {})}, outdir=outdir)
    stack_name = stack_name_of({STACK_NAME_KEY: app.node.try_get_context(STACK_NAME_KEY)})
    if Settings.legacy_consumer_of(app):
        choreography = with_legacy_consumer(choreography)
    problems = stack_name_problems(stack_name, choreography)
    if problems:
        raise SettingsError("cannot synthesize a deployable stack:\n  - " + "\n  - ".join(problems))
    try:
        placements = Placements.from_context(
            {key: app.node.try_get_context(key) for key in PLACEMENT_KEYS}, choreography)
    except PlacementError as error:
        raise SettingsError(f"cannot synthesize a deployable stack:\n  - {error}") from error
    if placements.single:
        stacks: list[Stack] = [ChoreoStack(
            app, stack_name, choreography=choreography,
            description="Order fulfilment choreographed over EventBridge")]
    else:
        forwarding = [_forwarding_stack(app, plan)
                      for plan in placements.forwarding_stacks(stack_name, choreography)]
        stacks = [_placed_stack(app, plan, placements, stack_name, choreography)
                  for plan in placements.stacks(stack_name, choreography)]
        # A bus policy can name a role only once it exists: `cdk deploy` deploys the roles
        # first, whichever stack it is asked for.
        for stack in stacks:
            for roles in forwarding:
                stack.add_stack_dependency(roles)
        stacks = [*forwarding, *stacks]
    if nag:
        nag_checks_add(app, *stacks)
    return app


def _forwarding_stack(app: App, plan: ForwardingPlan) -> Stack:
    """The roles one stack's rules put events on other accounts' buses as (`cdk.forwarding`),
    in that stack's account and region."""
    return ForwardingRolesStack(
        app, plan.name, plan=plan,
        env=Environment(account=plan.placement.account, region=plan.placement.region),
        description="The roles the order-fulfilment choreography forwards events to other "
                    "accounts as")


def _placed_stack(app: App, plan: StackPlan, placements: Placements, home_stack_name: str,
                  choreography: Choreography) -> Stack:
    """One stack of a deployment across accounts and regions, pinned to its account and
    region (each side's policies and targets name the other's)."""
    env = Environment(account=plan.placement.account, region=plan.placement.region)
    if plan.replica:
        return ObservabilityReplicaStack(
            app, plan.name, choreography=choreography, placements=placements,
            home_stack_name=home_stack_name, env=env,
            description="The observability replica of the order-fulfilment choreography")
    held = ", ".join(subdomain.value for subdomain in plan.subdomains)
    return ChoreoStack(app, plan.name, choreography=choreography, placements=placements,
                       plan=plan, home_stack_name=home_stack_name, env=env,
                       description=f"Order fulfilment choreographed over EventBridge: {held}")


def synth_templates(context: dict[str, Any] | None = None, *, nag: bool = True,
                    choreography: Choreography = CHOREOGRAPHY) -> dict[str, dict[str, Any]]:
    """Every stack's CloudFormation template, by stack name, synthesized into a scratch
    directory (one stack unless the settings place parts elsewhere)."""
    with tempfile.TemporaryDirectory(prefix="choreo-synth-") as outdir:
        assembly = build_app(context, outdir=outdir, nag=nag, choreography=choreography).synth()
        return {stack.stack_name: stack.template for stack in assembly.stacks}


def synth_template(context: dict[str, Any] | None = None, *, nag: bool = True) -> dict[str, Any]:
    """The stack's CloudFormation template, synthesized into a scratch directory."""
    with tempfile.TemporaryDirectory(prefix="choreo-synth-") as outdir:
        assembly = build_app(context, outdir=outdir, nag=nag).synth()
        (stack,) = assembly.stacks
        template: dict[str, Any] = stack.template
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
    try:
        assembly = build_app(context, outdir=outdir, nag=arguments.nag).synth()
    except SettingsError as error:
        sys.exit(f"error: {error}")
    checks = "cdk-nag AwsSolutions checks passed" if arguments.nag else "cdk-nag not run"
    names = ", ".join(stack.stack_name for stack in assembly.stacks)
    print(f"synthesized {names} into {assembly.directory} ({checks})", file=sys.stderr)


if __name__ == "__main__":
    main()
