"""What IAM would say about the AWS calls a function makes, from template.yaml alone.

moto enforces no IAM, so a call a function's role would deny in AWS passes every local test.
This module closes that gap without an account:

- `function_policies(template, function_id, resolver)`: the function's `Policies` as IAM
  statements, SAM policy templates expanded with SAM's own definitions (the
  policy_templates.json of the SAM CLI's aws-sam-translator) and intrinsics resolved;
- `permissions(service, operation, params, ...)`: the IAM actions and resource ARNs one botocore
  call needs (a TransactWriteItems needs PutItem/UpdateItem/... on each table it touches, a
  HeadObject needs s3:GetObject, a SendMessageBatch sqs:SendMessage, ...);
- `allows(statements, action, resource)`: IAM's matching (wildcards in actions and resources).

tests/iam records every call each function makes during the test suite and checks them with
these. Nothing here lists functions or tables: it reads whatever the template declares.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from infra.local.template import REPO_ROOT, Resolver, Template

# Narrower SAM policy templates that take the same parameter: when one of them allows every call
# an entry is needed for, the entry is broader than the code needs.
NARROWER_TEMPLATES = {
    "DynamoDBCrudPolicy": ("DynamoDBReadPolicy", "DynamoDBWritePolicy"),
    "S3CrudPolicy": ("S3ReadPolicy", "S3WritePolicy"),
    "S3FullAccessPolicy": ("S3CrudPolicy", "S3ReadPolicy", "S3WritePolicy"),
    "SQSPollerPolicy": (),
}


@dataclass(frozen=True)
class Permission:
    action: str  # e.g. "dynamodb:PutItem"
    resource: str  # an ARN

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}"


@dataclass(frozen=True)
class PolicyEntry:
    """One item of a function's `Policies`, as IAM statements."""

    index: int
    label: str  # "DynamoDBCrudPolicy(DatasetsTable)", "inline statement 3", ...
    template_name: str | None  # the SAM policy template, when it is one
    parameters: Mapping[str, Any]
    statements: tuple[dict[str, Any], ...]


# ---------------------------------------------------------------- SAM's policy templates
def _policy_templates_file() -> Path:
    candidates = [
        *(REPO_ROOT / ".tools" / "lib").glob("python3*/site-packages/samtranslator/policy_templates_data"),
        *(Path(p) / "samtranslator" / "policy_templates_data" for p in sys.path if p),
    ]
    for folder in candidates:
        if (folder / "policy_templates.json").exists():
            return folder / "policy_templates.json"
    raise FileNotFoundError(
        "SAM's policy_templates.json not found: `make build` (or `make test`) installs the SAM CLI into .tools"
    )


@cache
def policy_templates() -> dict[str, Any]:
    return dict(json.loads(_policy_templates_file().read_text())["Templates"])


def expand_policy_template(name: str, arguments: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A SAM policy template's statements with its parameters replaced, as SAM's translator does."""
    spec = policy_templates().get(name)
    if spec is None:
        raise KeyError(f"unknown SAM policy template {name!r}")
    parameters = set(spec.get("Parameters") or {})
    missing = parameters - set(arguments)
    if missing:
        raise ValueError(f"{name}: missing parameters {sorted(missing)}")

    def substitute(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Ref"} and value["Ref"] in parameters:
                return arguments[value["Ref"]]
            return {key: substitute(item) for key, item in value.items()}
        if isinstance(value, list):
            return [substitute(item) for item in value]
        return value

    return list(substitute(spec["Definition"])["Statement"])


def function_policies(template: Template, function_id: str, resolver: Resolver) -> list[PolicyEntry]:
    """The function's Policies, each entry as resolved IAM statements."""
    fn = template.functions[function_id]
    policies = fn.properties.get("Policies") or []
    if isinstance(policies, str | dict):
        policies = [policies]
    entries = []
    for index, item in enumerate(policies):
        where = f"{function_id}.Policies[{index}]"
        if isinstance(item, str):
            # A managed policy: not expandable offline, so it cannot be proven narrow.
            raise ValueError(f"{where}: managed policy {item!r}; use a SAM policy template or inline statements")
        if "Statement" in item:
            statements = item["Statement"] if isinstance(item["Statement"], list) else [item["Statement"]]
            entries.append(
                PolicyEntry(index, f"inline statements {index}", None, {}, tuple(resolver.resolve(statements, where)))
            )
            continue
        ((name, arguments),) = item.items()
        arguments = arguments or {}
        statements = resolver.resolve(expand_policy_template(name, arguments), where)
        shown = ",".join(_short(arg) for arg in arguments.values())
        entries.append(PolicyEntry(index, f"{name}({shown})", name, arguments, tuple(statements)))
    return entries


def _short(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        return str(arg[0] if key == "Fn::GetAtt" and isinstance(arg, list) else arg)
    return str(value)


# ---------------------------------------------------------------- IAM matching
def _glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statement_allows(statement: Mapping[str, Any], permission: Permission) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement or "NotResource" in statement:
        raise ValueError("NotAction/NotResource statements are not supported by this check")
    actions = _as_list(statement.get("Action", []))
    resources = _as_list(statement.get("Resource", []))
    return any(_glob(str(a), ignore_case=True).match(permission.action) for a in actions) and any(
        _glob(str(r), ignore_case=False).match(permission.resource) for r in resources
    )


def allows(statements: Iterable[Mapping[str, Any]], permission: Permission) -> bool:
    return any(statement_allows(statement, permission) for statement in statements)


# ---------------------------------------------------------------- calls -> permissions
def _table_arn(region: str, account: str, table: str, index: str | None = None) -> str:
    arn = table if table.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def _queue_arn(region: str, queue_url: str) -> str:
    parts = [part for part in urlparse(queue_url).path.split("/") if part]
    account, name = parts[-2], parts[-1]
    return f"arn:aws:sqs:{region}:{account}:{name}"


def _object_arn(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")


_TRANSACT_ACTIONS = {
    "ConditionCheck": "ConditionCheckItem",
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
}
_S3_ACTIONS = {
    "HeadObject": "GetObject",
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListParts": "ListMultipartUploadParts",
}
_S3_BUCKET_OPERATIONS = {"ListObjectsV2", "ListObjects", "HeadBucket", "ListObjectVersions", "ListMultipartUploads"}
_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def permissions(service: str, operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Permission]:
    """The IAM permissions one API call needs (a presigned request needs what its call would)."""
    if service == "dynamodb":
        return _dynamodb(operation, params, region, account)
    if service == "s3":
        return _s3(operation, params)
    if service == "sqs":
        if operation == "GetQueueUrl":
            owner = params.get("QueueOwnerAWSAccountId") or account
            return [Permission("sqs:GetQueueUrl", f"arn:aws:sqs:{region}:{owner}:{params['QueueName']}")]
        action = _SQS_ACTIONS.get(operation, operation)
        resource = _queue_arn(region, params["QueueUrl"]) if "QueueUrl" in params else "*"
        return [Permission(f"sqs:{action}", resource)]
    if service == "events" and operation == "PutEvents":
        buses = {str(entry.get("EventBusName") or "default") for entry in params.get("Entries") or []}
        return [
            Permission(
                "events:PutEvents",
                bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}",
            )
            for bus in sorted(buses)
        ]
    return [Permission(f"{service}:{operation}", "*")]


def _dynamodb(operation: str, params: Mapping[str, Any], region: str, account: str) -> list[Permission]:
    if operation in {"BatchGetItem", "BatchWriteItem"}:
        return [
            Permission(f"dynamodb:{operation}", _table_arn(region, account, t)) for t in params.get("RequestItems", {})
        ]
    if operation == "TransactWriteItems":
        found = []
        for item in params.get("TransactItems", []):
            ((kind, body),) = item.items()
            found.append(
                Permission(f"dynamodb:{_TRANSACT_ACTIONS[kind]}", _table_arn(region, account, body["TableName"]))
            )
        return found
    if operation == "TransactGetItems":
        return [
            Permission("dynamodb:GetItem", _table_arn(region, account, item["Get"]["TableName"]))
            for item in params.get("TransactItems", [])
        ]
    table = params.get("TableName")
    if table is None:
        return [Permission(f"dynamodb:{operation}", "*")]
    return [Permission(f"dynamodb:{operation}", _table_arn(region, account, table, params.get("IndexName")))]


def _s3(operation: str, params: Mapping[str, Any]) -> list[Permission]:
    bucket = params.get("Bucket")
    if bucket is None:
        return [Permission(f"s3:{operation}", "*")]
    if operation == "DeleteObjects":
        return [
            Permission("s3:DeleteObject", _object_arn(bucket, item["Key"]))
            for item in (params.get("Delete") or {}).get("Objects", [])
        ]
    if operation == "CopyObject":
        source = params["CopySource"]
        if isinstance(source, str):
            source_bucket, _, source_key = unquote(source.lstrip("/")).partition("/")
            source_key = source_key.split("?versionId=", 1)[0]
        else:
            source_bucket, source_key = source["Bucket"], source["Key"]
        return [
            Permission("s3:GetObject", _object_arn(source_bucket, source_key)),
            Permission("s3:PutObject", _object_arn(bucket, params["Key"])),
        ]
    action = _S3_ACTIONS.get(operation, operation)
    if operation in _S3_BUCKET_OPERATIONS or "Key" not in params:
        return [Permission(f"s3:{action}", _object_arn(bucket))]
    version = params.get("VersionId")
    if action == "GetObject" and version:
        action = "GetObjectVersion"
    return [Permission(f"s3:{action}", _object_arn(bucket, params["Key"]))]
