"""The one place where the CDK template is adapted to what moto can run.

Every change here stands for a gap of moto 5.2.5 (measured; see docs/local-mode.md) and is
pinned by tests/local/test_template.py:

- EventBridge rule targets moto cannot deliver (a Lambda function, an API destination) are
  pointed at a tap queue of their own; the local runtime drains it with the real target's
  semantics (asynchronous invocation; HTTP call with the connection's auth).
- SQS event source mappings are created disabled: moto would invoke one record at a time
  and ignore batch item failures; the local runtime polls the queues instead.
- Resource types moto's CloudFormation does not model (the HTTP API, the API destination and
  its connection) are left out, with whatever refers to them; the local HTTP front and the
  runtime read them from the original template.
- A function URL (`AWS::Lambda::Url`, which moto's CloudFormation does not model) becomes a
  path of the local HTTP front, `{api_url}/_lambda-url/<function logical id>/`, wherever the
  template uses it; the front serves it with the function URL's event shape.
- A Secrets Manager secret (not modelled either) is created before the stack by
  `local.deploy`, which passes its ARN in; references to it become that ARN.
- An event bus's resource policy (`AWS::Events::EventBusPolicy`, not modelled either) is
  applied by `local.deploy` with `PutPermission` once the stack exists; the embedded AWS
  enforces it on deliveries from other accounts (`local.moto_patches`).
- `Ref` to an `AWS::Events::EventBus` becomes the bus's name, which is what it means.
- `OrderApiUrl` becomes the local HTTP front's URL.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from workflow.model import CHOREOGRAPHY
from workflow.outputs import http_api_url

Template = dict[str, Any]

UNSUPPORTED_TYPES = ("AWS::ApiGatewayV2::", "AWS::Events::Connection",
                     "AWS::Events::ApiDestination", "AWS::SecretsManager::Secret",
                     "AWS::Lambda::Url", "AWS::Events::EventBusPolicy")
# Where the local front serves a function's URL.
FUNCTION_URL_PATH = "/_lambda-url/"


def function_url_path(function_logical_id: str) -> str:
    return f"{FUNCTION_URL_PATH}{function_logical_id}/"


@dataclass(frozen=True)
class Tap:
    """A rule target re-pointed at a tap queue."""

    kind: Literal["function", "api-destination"]
    queue_logical_id: str
    rule_logical_id: str
    target: dict[str, Any]  # the original target, as the template declares it
    target_logical_id: str  # the function or API destination it stood for


@dataclass(frozen=True)
class AdaptedTemplate:
    template: Template
    taps: tuple[Tap, ...]
    # The local front's URL of each function URL, by the logical id of the AWS::Lambda::Url,
    # and the logical id of the function it serves.
    function_urls: dict[str, str] = field(default_factory=dict)
    url_functions: dict[str, str] = field(default_factory=dict)


def _getatt_target(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, _attribute = value["Fn::GetAtt"]
        return str(logical_id)
    return None


def _refers_to(value: Any, logical_ids: set[str]) -> bool:
    if isinstance(value, dict):
        if value.get("Ref") in logical_ids:
            return True
        getatt = value.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt and getatt[0] in logical_ids:
            return True
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            if any(f"${{{logical_id}" in text for logical_id in logical_ids):
                return True
        return any(_refers_to(item, logical_ids) for item in value.values())
    if isinstance(value, list):
        return any(_refers_to(item, logical_ids) for item in value)
    return False


def _replace_refs(value: Any, values: dict[str, Any]) -> Any:
    """`value` with each `Ref` to one of `values`' logical ids replaced by its value."""
    if isinstance(value, dict):
        if len(value) == 1 and value.get("Ref") in values:
            return values[value["Ref"]]
        return {key: _replace_refs(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_refs(item, values) for item in value]
    return value


def _replace_getatts(value: Any, values: dict[tuple[str, str], Any]) -> Any:
    """`value` with each `Fn::GetAtt` of one of `values`' (logical id, attribute) replaced."""
    if isinstance(value, dict):
        getatt = value.get("Fn::GetAtt")
        if len(value) == 1 and isinstance(getatt, list) and tuple(getatt) in values:
            return values[(getatt[0], getatt[1])]
        return {key: _replace_getatts(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_getatts(item, values) for item in value]
    return value


def adapt_for_moto(original: Template, *, api_url: str,
                   provided: dict[str, str] | None = None) -> AdaptedTemplate:
    """`original` as moto can deploy it: each pass below stands for one gap (the module's
    docstring). `provided` maps the logical ids of resources created outside the stack (the
    secrets) to their ARNs."""
    template = copy.deepcopy(original)
    resources: dict[str, Any] = _replace_refs(template["Resources"], provided or {})
    url_functions, function_urls = _function_urls(resources, api_url=api_url)
    url_values = {(logical_id, "FunctionUrl"): url for logical_id, url in function_urls.items()}
    resources = _replace_getatts(resources, url_values)
    types = {logical_id: resource["Type"] for logical_id, resource in resources.items()}
    taps = _taps(resources, types)
    _mappings_disabled(resources)
    dropped = _unsupported_dropped(resources, types)
    bus_names = {logical_id: resource["Properties"]["Name"]
                 for logical_id, resource in resources.items()
                 if resource["Type"] == "AWS::Events::EventBus"}
    template["Resources"] = _replace_refs(resources, bus_names)
    template["Outputs"] = _outputs(template.get("Outputs", {}), api_url=api_url,
                                   provided=provided or {}, url_values=url_values,
                                   dropped=dropped, bus_names=bus_names)
    return AdaptedTemplate(template=template, taps=tuple(taps), function_urls=function_urls,
                           url_functions=url_functions)


def _function_urls(resources: dict[str, Any], *, api_url: str
                   ) -> tuple[dict[str, str], dict[str, str]]:
    """Each function URL's function (by the URL's logical id), and where the local front
    serves it."""
    url_functions = {logical_id: str(_getatt_target(resource["Properties"]["TargetFunctionArn"]))
                     for logical_id, resource in resources.items()
                     if resource["Type"] == "AWS::Lambda::Url"}
    return url_functions, {logical_id: f"{api_url}{function_url_path(function_id)}"
                           for logical_id, function_id in url_functions.items()}


def _taps(resources: dict[str, Any], types: dict[str, str]) -> list[Tap]:
    """Rule targets moto cannot deliver (a function, an API destination), each re-pointed at a
    tap queue of its own, which is added; the original target is kept in its `Tap`."""
    taps: list[Tap] = []
    for rule_id, rule in list(resources.items()):
        if rule["Type"] != "AWS::Events::Rule":
            continue
        for target in rule["Properties"].get("Targets", []):
            target_id = _getatt_target(target["Arn"])
            kind: Literal["function", "api-destination"] | None = None
            if target_id and types.get(target_id) == "AWS::Lambda::Function":
                kind = "function"
            elif target_id and types.get(target_id) == "AWS::Events::ApiDestination":
                kind = "api-destination"
            if kind is None or target_id is None:
                continue
            queue_id = f"LocalTap{rule_id}{target['Id']}"[:255]
            taps.append(Tap(kind, queue_id, rule_id, copy.deepcopy(target), target_id))
            resources[queue_id] = {"Type": "AWS::SQS::Queue",
                                   "Properties": {"VisibilityTimeout": 30}}
            target["Arn"] = {"Fn::GetAtt": [queue_id, "Arn"]}
            for key in ("InputPath", "InputTransformer", "Input", "HttpParameters", "RoleArn"):
                target.pop(key, None)
    return taps


def _mappings_disabled(resources: dict[str, Any]) -> None:
    """SQS event source mappings created disabled: the local runtime polls the queues."""
    for resource in resources.values():
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            resource["Properties"]["Enabled"] = False


def _unsupported_dropped(resources: dict[str, Any], types: dict[str, str]) -> set[str]:
    """Resources of types moto's CloudFormation does not model left out, then whatever refers
    to what was left out, until nothing more goes; the logical ids that went."""
    dropped = {logical_id for logical_id, kind in types.items()
               if kind.startswith(UNSUPPORTED_TYPES)}
    while True:
        more = {logical_id for logical_id, resource in resources.items()
                if logical_id not in dropped and _refers_to(resource, dropped)}
        if not more:
            break
        dropped |= more
    for logical_id in dropped:
        resources.pop(logical_id, None)
    return dropped


def _outputs(outputs: dict[str, Any], *, api_url: str, provided: dict[str, str],
             url_values: dict[tuple[str, str], Any], dropped: set[str],
             bus_names: dict[str, Any]) -> dict[str, Any]:
    """The stack's outputs: the HTTP API's URL is the local front's (which serves every HTTP
    API of the model), an output of what was left out is left out too."""
    outputs = _replace_getatts(_replace_refs(outputs, provided), url_values)
    http_api_urls = {http_api_url(api) for api in CHOREOGRAPHY.http_apis}
    for key, output in list(outputs.items()):
        if key in http_api_urls:
            output["Value"] = api_url
        elif _refers_to(output, dropped):
            outputs.pop(key)
        else:
            outputs[key] = _replace_refs(output, bus_names)
    return outputs


def dumps(template: Template) -> str:
    return json.dumps(template, separators=(",", ":"))
