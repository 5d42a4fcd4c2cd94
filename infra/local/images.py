"""Image-packaged functions (plain `AWS::Lambda::Function`, `PackageType: Image`) as the same
`Function` views the zip functions have, so the local stack runs them in-process, the gateway
routes to them and the pollers feed them, all from template.yaml.

SAM cannot apply Globals (Runtime, Layers) to an image function, so these are plain Lambda
resources and their wiring is written out as CloudFormation does it; this module reads it back:

- code: the image's `ImageConfig.Command` (`index_chunks.app.handler`) names the module; its
  folder is the Dockerfile's, or the nearest folder above it (up to `DockerContext`) holding that
  module, which is where the Dockerfile copies it from (`functions/index_chunks/app.py`).
- routes: `AWS::ApiGatewayV2::Route` -> its `Target` integration -> the integration's function.
- SQS sources: `AWS::Lambda::EventSourceMapping` on a queue of the template.
- policies: the inline `Policies` of the function's `AWS::IAM::Role`, shown as the view's
  `Policies` (statements), so the IAM check (tests/iam) reads them as it reads a zip function's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.local.template import (
    HTTP_API_DEFAULT_TIMEOUT_MS,
    LAMBDA_DEFAULT_MEMORY,
    LAMBDA_DEFAULT_TIMEOUT,
    SQS_DEFAULT_BATCH_SIZE,
    Function,
    HttpRoute,
    SqsSource,
    referenced_id,
)

if TYPE_CHECKING:
    from infra.local.template import Template

PLAIN_FUNCTION_TYPE = "AWS::Lambda::Function"
ROUTE_TYPE = "AWS::ApiGatewayV2::Route"
INTEGRATION_TYPE = "AWS::ApiGatewayV2::Integration"
EVENT_SOURCE_MAPPING_TYPE = "AWS::Lambda::EventSourceMapping"
ROLE_TYPE = "AWS::IAM::Role"


def _code_folder(template: Template, metadata: dict[str, Any], module: str) -> Path | None:
    dockerfile = metadata.get("Dockerfile")
    if not isinstance(dockerfile, str):
        return None
    context = (template.root / str(metadata.get("DockerContext", "."))).resolve()
    folder = (template.root / dockerfile).resolve().parent
    relative = Path(*module.split("."))
    while True:
        if (folder / relative).with_suffix(".py").is_file() or (folder / relative / "__init__.py").is_file():
            return folder
        if folder == context or context not in folder.parents:
            return None
        folder = folder.parent


def _role_policies(template: Template, role: Any) -> list[dict[str, Any]]:
    role_id = referenced_id(role)
    resource = template.resources.get(role_id or "")
    if not resource or resource.get("Type") != ROLE_TYPE:
        return []
    policies = []
    for policy in (resource.get("Properties") or {}).get("Policies") or []:
        if isinstance(policy, dict) and "Fn::If" in policy:  # a policy only under a condition
            name, when_true, when_false = policy["Fn::If"]
            policy = when_true if template.condition(name) else when_false
            if not isinstance(policy, dict) or "PolicyDocument" not in policy:
                continue
        statements = (policy.get("PolicyDocument") or {}).get("Statement") or []
        policies.append({"Statement": statements if isinstance(statements, list) else [statements]})
    return policies


def _routes_to(template: Template, function_id: str) -> list[HttpRoute]:
    integrations = {
        lid: res.get("Properties") or {}
        for lid, res in template.resources.items()
        if res.get("Type") == INTEGRATION_TYPE
        and function_id in _ids_in((res.get("Properties") or {}).get("IntegrationUri"))
    }
    routes = []
    for lid, res in template.resources.items():
        if res.get("Type") != ROUTE_TYPE:
            continue
        props = res.get("Properties") or {}
        target = set(_ids_in(props.get("Target")))
        integration_id = next((i for i in integrations if i in target), None)
        if integration_id is None:
            continue
        method, _, path = str(props.get("RouteKey", "")).partition(" ")
        integration = integrations[integration_id]
        routes.append(
            HttpRoute(
                function_id=function_id,
                event_name=lid,
                method=method.upper() if path else "ANY",
                path=path or str(props.get("RouteKey")),
                api_id=referenced_id(props.get("ApiId")) or "",
                payload_format_version=str(integration.get("PayloadFormatVersion", "2.0")),
                timeout_ms=int(integration.get("TimeoutInMillis", HTTP_API_DEFAULT_TIMEOUT_MS)),
                properties=props,
            )
        )
    return routes


def _sqs_sources(template: Template, function_id: str) -> list[SqsSource]:
    sources = []
    for lid, res in template.resources.items():
        props = res.get("Properties") or {}
        if res.get("Type") != EVENT_SOURCE_MAPPING_TYPE or referenced_id(props.get("FunctionName")) != function_id:
            continue
        queue_id = referenced_id(props.get("EventSourceArn"))
        if queue_id not in template.queues:
            continue
        enabled = props.get("Enabled", True)
        sources.append(
            SqsSource(
                function_id=function_id,
                event_name=lid,
                queue=props.get("EventSourceArn"),
                queue_id=queue_id,
                batch_size=int(props.get("BatchSize", SQS_DEFAULT_BATCH_SIZE)),
                function_response_types=tuple(props.get("FunctionResponseTypes") or ()),
                enabled=str(enabled).lower() != "false",
                maximum_batching_window=int(props.get("MaximumBatchingWindowInSeconds", 0)),
                properties=props,
            )
        )
    return sources


def _ids_in(value: Any) -> list[str]:
    from infra.local.template import iter_intrinsic_ids

    return list(iter_intrinsic_ids(value))


def image_functions(template: Template) -> dict[str, Function]:
    """Every image function whose handler module can be found in the repository."""
    found = {}
    for lid, resource in template.resources.items():
        props = resource.get("Properties") or {}
        if resource.get("Type") != PLAIN_FUNCTION_TYPE or props.get("PackageType") != "Image":
            continue
        command = (props.get("ImageConfig") or {}).get("Command") or []
        if not command or not isinstance(command[0], str) or "." not in command[0]:
            continue
        handler = command[0]
        code_uri = _code_folder(template, resource.get("Metadata") or {}, handler.rsplit(".", 1)[0])
        if code_uri is None:
            continue
        view = {key: value for key, value in props.items() if key != "Role"}
        view["Policies"] = _role_policies(template, props.get("Role"))
        found[lid] = Function(
            logical_id=lid,
            properties=view,
            code_uri=code_uri,
            handler=handler,
            timeout=int(props.get("Timeout", LAMBDA_DEFAULT_TIMEOUT)),
            memory_size=int(props.get("MemorySize", LAMBDA_DEFAULT_MEMORY)),
            environment=dict(((props.get("Environment") or {}).get("Variables")) or {}),
            http_routes=tuple(_routes_to(template, lid)),
            sqs_sources=tuple(_sqs_sources(template, lid)),
        )
    return found
