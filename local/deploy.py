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
from workflow.deployment import BUNDLE, LOCAL, STACK_NAME

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

    def to_dict(self) -> dict[str, Any]:
        return {"original": self.original, "outputs": self.outputs,
                "physical_ids": self.physical_ids, "assembly": str(self.assembly),
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
                   physical_ids=values["physical_ids"], assembly=Path(values["assembly"]))


def synth_context(config: LocalConfig) -> dict[str, str]:
    """The settings of the local template: what `make deploy` deploys, but for the stack's
    name and the dependency layer, which the local runtime does not need (it runs the
    handlers with the project's own packages), so synth needs no network."""
    return {STACK_NAME: config.stack_name, LOCAL: "true", BUNDLE: "false"}


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


def _resolve_placeholders(text: str, region: str) -> str:
    return text.replace("${AWS::AccountId}", ACCOUNT_ID).replace("${AWS::Region}", region) \
        .replace("${AWS::Partition}", "aws")


def publish_assets(config: LocalConfig, assembly: Path) -> int:
    """What `cdk deploy` does with file assets: zip and upload them to the bootstrap bucket."""
    s3 = client(config, "s3")
    manifest_path = assembly / f"{config.stack_name}.assets.json"
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
            bucket = _resolve_placeholders(destination["bucketName"], config.region)
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)
            published += 1
    return published


def deploy(config: LocalConfig, progress: Progress = print) -> Deployment:
    """Synthesize the CDK app (or take it from the cache) and deploy it, as `cdk deploy`."""
    return assembly_deploy(config, synthesize(config, progress), progress)


def assembly_deploy(config: LocalConfig, assembly: Path, progress: Progress = print) -> Deployment:
    """Deploy a synthesized cloud assembly (its stack of `config.stack_name`) into the
    embedded AWS."""
    original: Template = json.loads(template_path(assembly, config.stack_name).read_text())
    secrets = _create_secrets(config, original)
    adapted = adapt_for_moto(original, api_url=config.api_url, provided=secrets)
    progress(f"publishing assets: {publish_assets(config, assembly)} uploaded")
    client(config, "ssm").put_parameter(Name=BOOTSTRAP_VERSION_PARAMETER, Value="30",
                                        Type="String", Overwrite=True)
    cloudformation = client(config, "cloudformation")
    started = time.monotonic()
    cloudformation.create_stack(StackName=config.stack_name, TemplateBody=dumps(adapted.template),
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
    while True:
        stack = cloudformation.describe_stacks(StackName=config.stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status.endswith("_COMPLETE") or status.endswith("_FAILED"):
            break
        time.sleep(0.2)
    if status != "CREATE_COMPLETE":
        events = cloudformation.describe_stack_events(StackName=config.stack_name)["StackEvents"]
        reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events
                   if e.get("ResourceStatusReason")]
        raise DeployError(f"stack {config.stack_name} is {status}: {reasons[:5]}")
    resources = cloudformation.describe_stack_resources(StackName=config.stack_name)
    physical_ids = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                    for r in resources["StackResources"] if r.get("PhysicalResourceId")}
    physical_ids.update(secrets)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    progress(f"stack {config.stack_name} created in {time.monotonic() - started:.1f}s: "
             f"{len(physical_ids)} resources")
    _apply_time_to_live(config, original, physical_ids)
    return Deployment(original=original, adapted=adapted, outputs=outputs,
                      physical_ids=physical_ids, assembly=assembly)


def _create_secrets(config: LocalConfig, template: Template) -> dict[str, str]:
    """What CloudFormation does with an `AWS::SecretsManager::Secret` (moto's does not model
    it): a secret named after the stack, its value generated as the template asks. Returns
    each secret's ARN by logical id."""
    secretsmanager = client(config, "secretsmanager")
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
        name = properties.get("Name") or f"{config.stack_name}-{logical_id}"
        arns[logical_id] = secretsmanager.create_secret(
            Name=name, SecretString=value,
            Description=properties.get("Description", ""))["ARN"]
    return arns


def _apply_time_to_live(config: LocalConfig, template: Template,
                        physical_ids: dict[str, str]) -> None:
    """moto's CloudFormation does not apply a table's TimeToLiveSpecification."""
    dynamodb = client(config, "dynamodb")
    for logical_id, resource in template["Resources"].items():
        ttl = resource.get("Properties", {}).get("TimeToLiveSpecification")
        if resource["Type"] == "AWS::DynamoDB::Table" and ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(TableName=physical_ids[logical_id],
                                         TimeToLiveSpecification=ttl)

