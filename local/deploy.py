"""Deploy the CDK app into the embedded AWS the way `cdk deploy` would: synthesize (cached by
a hash of everything that shapes the template), publish the file assets to the bootstrap
bucket, create the stack with CloudFormation, then do what moto's CloudFormation leaves out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.config import ACCOUNT_ID, ROOT, LocalConfig
from local.embedded_aws import client
from local.template import AdaptedTemplate, Tap, Template, adapt_for_moto, dumps
from workflow.deployment import BUNDLE, EVENT_VERSIONS, LEGACY_CONSUMER, LOCAL, STACK_NAME
from workflow.placement import (
    HOME_ACCOUNT,
    HOME_REGION,
    REPLICA_REGION,
    SUBDOMAIN_ACCOUNTS,
    Placements,
)

log = logging.getLogger("choreo.local")

BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
SOURCES = ("workflow", "functions", "cdk")
Progress = Callable[[str], None]


class DeployError(RuntimeError):
    pass


@dataclass(frozen=True)
class Deployment:
    original: Template
    adapted: AdaptedTemplate
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    assembly: Path
    # The account the stack is in, and the credentials its functions run with there (moto
    # picks the account from an access key its IAM issued); None: the default account's.
    account: str = ACCOUNT_ID
    credentials: dict[str, str] | None = None
    # The stacks of the subdomains deployed in other accounts, and of the observability
    # replica in another region, beside this home stack.
    others: tuple[Deployment, ...] = ()
    region: str | None = None  # None: the configured region

    def to_dict(self) -> dict[str, Any]:
        return {"original": self.original, "outputs": self.outputs,
                "physical_ids": self.physical_ids, "assembly": str(self.assembly),
                "account": self.account, "credentials": self.credentials, "region": self.region,
                "others": [other.to_dict() for other in self.others],
                "adapted": {"template": self.adapted.template,
                            "taps": [dataclasses.asdict(tap) for tap in self.adapted.taps],
                            "function_urls": self.adapted.function_urls,
                            "url_functions": self.adapted.url_functions}}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Deployment:
        adapted = AdaptedTemplate(template=values["adapted"]["template"],
                                  taps=tuple(Tap(**tap) for tap in values["adapted"]["taps"]),
                                  function_urls=values["adapted"]["function_urls"],
                                  url_functions=values["adapted"]["url_functions"])
        return cls(original=values["original"], adapted=adapted, outputs=values["outputs"],
                   physical_ids=values["physical_ids"], assembly=Path(values["assembly"]),
                   account=values.get("account", ACCOUNT_ID),
                   credentials=values.get("credentials"), region=values.get("region"),
                   others=tuple(cls.from_dict(other) for other in values.get("others", [])))


def synth_context(config: LocalConfig) -> dict[str, str]:
    """The settings of the local template: what `make deploy` deploys, but for the stack's
    name and the dependency layer, which the local runtime does not need (it runs the
    handlers with the project's own packages), so synth needs no network."""
    context = {STACK_NAME: config.stack_name, LOCAL: "true", BUNDLE: "false"}
    if config.placed:
        context.update({HOME_ACCOUNT: ACCOUNT_ID, HOME_REGION: config.region})
    if config.subdomain_accounts:
        context[SUBDOMAIN_ACCOUNTS] = config.subdomain_accounts
    if config.replica_region:
        context[REPLICA_REGION] = config.replica_region
    if config.event_versions:
        context[EVENT_VERSIONS] = config.event_versions
    if config.legacy_consumer:
        context[LEGACY_CONSUMER] = "true"
    return context


def template_path(assembly: Path, stack_name: str) -> Path:
    return assembly / f"{stack_name}.template.json"


def _inputs_hash(context: dict[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(context, sort_keys=True).encode())
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    for name in ("cdk.json", "pyproject.toml"):
        if (ROOT / name).exists():
            digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def synthesize(config: LocalConfig, progress: Progress = print) -> Path:
    """The cloud assembly for this source tree, synthesized in a child process (the CDK's
    Node runtime needs ~1 GB while it works; the running system should not keep it)."""
    context = synth_context(config)
    assembly = config.cache_dir / "synth" / _inputs_hash(context)
    if template_path(assembly, config.stack_name).exists():
        progress(f"CDK template unchanged since the last run: reusing {assembly}")
        return assembly
    progress("synthesizing the CDK app (first run or sources changed, ~10 s)")
    started = time.monotonic()
    shutil.rmtree(assembly, ignore_errors=True)
    assembly.parent.mkdir(parents=True, exist_ok=True)
    # cdk-nag does not change the template; `make synth` and the tests run it
    env = {**os.environ, "CDK_OUTDIR": str(assembly),
           "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    command = [sys.executable, "-m", "cdk.app", "--no-nag"]
    for key, value in context.items():
        command += ["-c", f"{key}={value}"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0 or not template_path(assembly, config.stack_name).exists():
        raise DeployError(f"cdk synth failed:\n{result.stderr[-3000:]}")
    for stale in assembly.parent.iterdir():  # keep the cache to the newest few
        if stale != assembly and stale.stat().st_mtime < time.time() - 7 * 86400:
            shutil.rmtree(stale, ignore_errors=True)
    progress(f"synthesized in {time.monotonic() - started:.1f}s")
    return assembly


def _resolve_placeholders(text: str, region: str, account: str = ACCOUNT_ID) -> str:
    return text.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region) \
        .replace("${AWS::Partition}", "aws")


def publish_assets(config: LocalConfig, assembly: Path, *, stack_name: str | None = None,
                   account: str = ACCOUNT_ID) -> int:
    """What `cdk deploy` does with file assets: zip and upload them to the bootstrap bucket."""
    s3 = client(config, "s3", account=account)
    manifest_path = assembly / f"{stack_name or config.stack_name}.assets.json"
    if not manifest_path.exists():
        return 0
    manifest = json.loads(manifest_path.read_text())
    published = 0
    for asset in manifest.get("files", {}).values():
        source = assembly / asset["source"]["path"]
        if asset["source"].get("packaging") == "zip" or source.is_dir():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(source.rglob("*")):
                    if path.is_file():
                        archive.write(path, path.relative_to(source))
            body = buffer.getvalue()
        else:
            body = source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = _resolve_placeholders(destination["bucketName"], config.region, account)
            # S3 wants the region said, but for us-east-1
            where = {} if config.region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": config.region}}
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(Bucket=bucket, **where)
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)
            published += 1
    return published


def deploy(config: LocalConfig, progress: Progress = print) -> Deployment:
    """Synthesize the CDK app (or take it from the cache) and deploy it, as `cdk deploy`:
    the stacks of the roles that forward to other accounts first (the bus policies name
    them), then the home stack, each stack of a subdomain placed in another account, in its
    account (`config.subdomain_accounts`), and the observability replica in its region
    (`config.replica_region`)."""
    assembly = synthesize(config, progress)
    if not config.placed:
        return assembly_deploy(config, assembly, progress)
    placements = Placements.from_context(synth_context(config))
    for roles in placements.forwarding_stacks(config.stack_name):
        assembly_deploy(config, assembly, progress, stack_name=roles.name,
                        account=roles.placement.account or ACCOUNT_ID,
                        region=roles.placement.region or config.region)
    home = assembly_deploy(config, assembly, progress)
    others = tuple(
        assembly_deploy(config, assembly, progress, stack_name=plan.name,
                        account=plan.placement.account or ACCOUNT_ID,
                        region=plan.placement.region or config.region)
        for plan in placements.stacks(config.stack_name)[1:])
    return dataclasses.replace(home, others=others)


def account_credentials(config: LocalConfig, account: str) -> dict[str, str]:
    """An access key of `account`, issued by the embedded AWS's IAM: a client signing with it
    is in that account, as the functions deployed there must be."""
    iam = client(config, "iam", account=account)
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName="choreo-local")
    key = iam.create_access_key(UserName="choreo-local")["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def assembly_deploy(config: LocalConfig, assembly: Path, progress: Progress = print, *,
                    stack_name: str | None = None, account: str = ACCOUNT_ID,
                    region: str | None = None) -> Deployment:
    """Deploy a synthesized cloud assembly (its stack of `stack_name`, by default
    `config.stack_name`) into the embedded AWS, in `account` and `region` (by default the
    configured one)."""
    stack_name = stack_name or config.stack_name
    home_region = config.region
    region = region or config.region
    if region != config.region:  # every client below is in that region
        config = dataclasses.replace(config, region=region)
    original: Template = json.loads(template_path(assembly, stack_name).read_text())
    secrets = _create_secrets(config, original, stack_name=stack_name, account=account)
    adapted = adapt_for_moto(original, api_url=config.api_url, provided=secrets)
    uploaded = publish_assets(config, assembly, stack_name=stack_name, account=account)
    progress(f"publishing assets: {uploaded} uploaded")
    client(config, "ssm", account=account).put_parameter(
        Name=BOOTSTRAP_VERSION_PARAMETER, Value="30", Type="String", Overwrite=True)
    cloudformation = client(config, "cloudformation", account=account)
    started = time.monotonic()
    cloudformation.create_stack(StackName=stack_name, TemplateBody=dumps(adapted.template),
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status.endswith("_COMPLETE") or status.endswith("_FAILED"):
            break
        time.sleep(0.2)
    if status != "CREATE_COMPLETE":
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events
                   if e.get("ResourceStatusReason")]
        raise DeployError(f"stack {stack_name} is {status}: {reasons[:5]}")
    resources = cloudformation.describe_stack_resources(StackName=stack_name)
    physical_ids = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                    for r in resources["StackResources"] if r.get("PhysicalResourceId")}
    physical_ids.update(secrets)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    where = "".join([f" in account {account}" if account != ACCOUNT_ID else "",
                     f" in {region}" if region != home_region else ""])
    progress(f"stack {stack_name} created{where} in {time.monotonic() - started:.1f}s: "
             f"{len(physical_ids)} resources")
    _apply_time_to_live(config, original, physical_ids, account=account)
    _apply_bus_policies(config, original, account=account)
    return Deployment(original=original, adapted=adapted, outputs=outputs,
                      physical_ids=physical_ids, assembly=assembly, account=account,
                      credentials=None if account == ACCOUNT_ID or not _runs_functions(original)
                      else account_credentials(config, account),
                      region=None if region == home_region else region)


def _runs_functions(template: Template) -> bool:
    return any(resource["Type"] == "AWS::Lambda::Function"
               for resource in template["Resources"].values())


def _apply_bus_policies(config: LocalConfig, template: Template, *, account: str) -> None:
    """What CloudFormation does with an `AWS::Events::EventBusPolicy` (moto's does not model
    it): the statement put on the bus with `PutPermission`, which the embedded AWS enforces
    on deliveries from other accounts (`local.moto_patches.event_buses_across_accounts`)."""
    events = client(config, "events", account=account)
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Events::EventBusPolicy":
            continue
        properties = resource["Properties"]
        bus_name = template["Resources"][properties["EventBusName"]["Ref"]]["Properties"]["Name"]
        statement = {**properties["Statement"],
                     "Resource": events.describe_event_bus(Name=bus_name)["Arn"]}
        policy = json.loads(events.describe_event_bus(Name=bus_name).get("Policy") or
                            '{"Version": "2012-10-17", "Statement": []}')
        policy["Statement"].append(statement)
        events.put_permission(EventBusName=bus_name, Policy=json.dumps(policy))


def _create_secrets(config: LocalConfig, template: Template, *, stack_name: str,
                    account: str = ACCOUNT_ID) -> dict[str, str]:
    """What CloudFormation does with an `AWS::SecretsManager::Secret` (moto's does not model
    it): a secret named after the stack, its value generated as the template asks. Returns
    each secret's ARN by logical id."""
    secretsmanager = client(config, "secretsmanager", account=account)
    arns = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::SecretsManager::Secret":
            continue
        properties = resource.get("Properties", {})
        generate = properties.get("GenerateSecretString", {})
        value = properties.get("SecretString") or secretsmanager.get_random_password(
            PasswordLength=int(generate.get("PasswordLength", 32)),
            ExcludePunctuation=bool(generate.get("ExcludePunctuation", False)),
            IncludeSpace=bool(generate.get("IncludeSpace", True)))["RandomPassword"]
        name = properties.get("Name") or f"{stack_name}-{logical_id}"
        arns[logical_id] = secretsmanager.create_secret(
            Name=name, SecretString=value,
            Description=properties.get("Description", ""))["ARN"]
    return arns


def _apply_time_to_live(config: LocalConfig, template: Template,
                        physical_ids: dict[str, str], *, account: str = ACCOUNT_ID) -> None:
    """moto's CloudFormation does not apply a table's TimeToLiveSpecification."""
    dynamodb = client(config, "dynamodb", account=account)
    for logical_id, resource in template["Resources"].items():
        ttl = resource.get("Properties", {}).get("TimeToLiveSpecification")
        if resource["Type"] == "AWS::DynamoDB::Table" and ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(TableName=physical_ids[logical_id],
                                         TimeToLiveSpecification=ttl)

