"""template.yaml read into typed views, and a resolver for the intrinsic functions it uses.

The template is the only description of the stack: the local stack, gateway and pollers take
every table, bucket, queue, route, handler, timeout and environment variable from here.

    tpl = Template()                      # template.yaml at the repo root, parameters at their defaults
    tpl.tables["DatasetsTable"].properties["KeySchema"]
    tpl.functions["CreateDatasetFunction"].timeout            # 15, from Globals
    tpl.routes                                                 # every HttpApi route, as API Gateway sees it
    resolver = Resolver(tpl, physical={...}, stack_name="kb-local")
    resolver.resolve({"Fn::Sub": "${AWS::StackName}-documents-${AWS::AccountId}"})
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"

LOCAL_STACK_NAME = "kb-local"
LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"

# Lambda's own defaults when neither the function nor Globals say.
LAMBDA_DEFAULT_TIMEOUT = 3
LAMBDA_DEFAULT_MEMORY = 128
# API Gateway HTTP API integration timeout when the route does not set TimeoutInMillis.
HTTP_API_DEFAULT_TIMEOUT_MS = 30_000
# SQS's default visibility timeout when a queue does not set one.
SQS_DEFAULT_VISIBILITY_TIMEOUT = 30
# Lambda's SQS event-source default batch size.
SQS_DEFAULT_BATCH_SIZE = 10

IMPLICIT_HTTP_API = "ServerlessHttpApi"  # the API SAM creates for HttpApi events without ApiId

TABLE_TYPE = "AWS::DynamoDB::Table"
BUCKET_TYPE = "AWS::S3::Bucket"
QUEUE_TYPE = "AWS::SQS::Queue"
QUEUE_POLICY_TYPE = "AWS::SQS::QueuePolicy"
EVENT_BUS_TYPE = "AWS::Events::EventBus"
EVENT_RULE_TYPE = "AWS::Events::Rule"
FUNCTION_TYPE = "AWS::Serverless::Function"
LAYER_TYPE = "AWS::Serverless::LayerVersion"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"


class TemplateError(Exception):
    """The template cannot be read, or says something the local stack cannot honour."""


class UnresolvableError(TemplateError):
    """An intrinsic function refers to something that has no local value."""


_NO_VALUE = object()  # AWS::NoValue: the enclosing key or list item disappears


# ---------------------------------------------------------------- loading
def _plain(value: Any) -> Any:
    """cfn-lint's node classes (dict/str/list subclasses with line marks) as plain Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def load_template_dict(path: str | Path) -> dict[str, Any]:
    """The template as plain dicts, short intrinsic tags expanded (`!Ref X` -> `{"Ref": "X"}`)."""
    from cfnlint.decode import decode

    path = Path(path)
    if not path.exists():
        raise TemplateError(f"template not found: {path}")
    data, matches = decode(str(path))
    if matches or data is None:
        problems = "; ".join(str(m) for m in matches) or "empty template"
        raise TemplateError(f"cannot read {path}: {problems}")
    return _plain(data)


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _INTRINSIC_KEYS


_INTRINSIC_KEYS = {
    "Ref",
    "Condition",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::Equals",
    "Fn::And",
    "Fn::Or",
    "Fn::Not",
    "Fn::FindInMap",
    "Fn::Base64",
    "Fn::GetAZs",
    "Fn::ImportValue",
    "Fn::ToJsonString",
    "Fn::Length",
    "Fn::Cidr",
}


def merge_globals(global_value: Any, own_value: Any) -> Any:
    """SAM's Globals rule: maps merge (the resource's keys win), lists concatenate (globals first),
    anything else (intrinsic functions included) is replaced by the resource's own value."""
    if isinstance(global_value, dict) and isinstance(own_value, dict):
        if _is_intrinsic(global_value) or _is_intrinsic(own_value):
            return own_value
        merged = dict(global_value)
        for key, value in own_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(own_value, list):
        return [*global_value, *own_value]
    return own_value


def referenced_id(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` points at; None for anything else."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            if isinstance(target, str):
                return target.split(".", 1)[0]
            if isinstance(target, list) and target and isinstance(target[0], str):
                return target[0]
    return None


# ---------------------------------------------------------------- views
@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any]
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table(Resource):
    pass


@dataclass(frozen=True)
class Bucket(Resource):
    @property
    def notification_configuration(self) -> dict[str, Any]:
        return self.properties.get("NotificationConfiguration") or {}


@dataclass(frozen=True)
class Queue(Resource):
    @property
    def visibility_timeout(self) -> int:
        return int(self.properties.get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY_TIMEOUT))

    @property
    def redrive_policy(self) -> dict[str, Any] | None:
        policy = self.properties.get("RedrivePolicy")
        if isinstance(policy, str):
            policy = json.loads(policy)
        return policy or None

    @property
    def dead_letter_queue_id(self) -> str | None:
        """Logical id of the dead-letter queue, when the RedrivePolicy points at one of the template's."""
        policy = self.redrive_policy
        return referenced_id(policy.get("deadLetterTargetArn")) if policy else None

    @property
    def max_receive_count(self) -> int | None:
        policy = self.redrive_policy
        return int(policy["maxReceiveCount"]) if policy and "maxReceiveCount" in policy else None


@dataclass(frozen=True)
class EventBus(Resource):
    pass


@dataclass(frozen=True)
class EventRule(Resource):
    pass


@dataclass(frozen=True)
class HttpRoute:
    """One HttpApi event of a function: the route API Gateway sends to that function."""

    function_id: str
    event_name: str
    method: str  # upper-case; "ANY" matches every method
    path: str  # e.g. "/api/v1/dataset/{dataset_id}", or "$default"
    api_id: str  # logical id of the HTTP API (SAM's implicit ServerlessHttpApi when not given)
    payload_format_version: str = "2.0"
    timeout_ms: int = HTTP_API_DEFAULT_TIMEOUT_MS
    properties: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsSource:
    """One SQS event of a function: an event-source mapping on a queue."""

    function_id: str
    event_name: str
    queue: Any  # the Queue property as written (usually {"Fn::GetAtt": [X, "Arn"]})
    queue_id: str | None  # logical id of the template queue, when `queue` refers to one
    batch_size: int
    function_response_types: tuple[str, ...]
    enabled: bool = True
    maximum_batching_window: int = 0
    properties: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def report_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True)
class ScheduleSource:
    """One Schedule event of a function: an EventBridge rule that invokes it."""

    function_id: str
    event_name: str
    expression: str  # "rate(15 minutes)" or "cron(...)"
    enabled: bool = True
    input: str | None = None  # a constant JSON event replacing the scheduled-event shape
    name: str | None = None  # the rule's Name property, if given
    properties: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Function:
    """An AWS::Serverless::Function with Globals applied."""

    logical_id: str
    properties: dict[str, Any]  # merged with Globals.Function
    code_uri: Path | None  # absolute folder; None for inline or S3 code
    handler: str
    timeout: int
    memory_size: int
    environment: dict[str, Any]  # Globals + own variables, intrinsics unresolved
    http_routes: tuple[HttpRoute, ...] = ()
    sqs_sources: tuple[SqsSource, ...] = ()
    schedules: tuple[ScheduleSource, ...] = ()
    other_events: dict[str, str] = field(default_factory=dict)  # event name -> type, not emulated

    @property
    def handler_module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def handler_attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    @property
    def module_path(self) -> Path | None:
        """The file Lambda would import for the handler (`app.handler` -> CodeUri/app.py)."""
        if self.code_uri is None:
            return None
        relative = Path(*self.handler_module.split("."))
        module = self.code_uri / relative.with_suffix(".py")
        package = self.code_uri / relative / "__init__.py"
        return package if not module.exists() and package.exists() else module


@dataclass(frozen=True)
class Layer(Resource):
    @property
    def content_uri(self) -> Any:
        return self.properties.get("ContentUri")


class Template:
    """template.yaml with parameters applied, Conditions evaluated, and SAM Globals merged."""

    def __init__(
        self,
        path: str | Path = DEFAULT_TEMPLATE,
        parameter_overrides: Mapping[str, Any] | None = None,
        *,
        stack_name: str = LOCAL_STACK_NAME,
        account_id: str = LOCAL_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> None:
        self.path = Path(path).resolve()
        self.root = self.path.parent
        self.data = load_template_dict(self.path)
        self.parameters = self._parameters(parameter_overrides or {})
        self.globals: dict[str, Any] = self.data.get("Globals") or {}
        self.mappings: dict[str, Any] = self.data.get("Mappings") or {}
        self._condition_cache: dict[str, bool] = {}
        self.all_resources: dict[str, Any] = self.data.get("Resources") or {}
        self.resources: dict[str, dict[str, Any]] = {}
        self._condition_resolver = Resolver(
            self, {}, stack_name=stack_name, account_id=account_id, region=region, strict=True
        )
        self.conditions = {name: self.condition(name) for name in self.data.get("Conditions") or {}}
        self.resources = {
            lid: res
            for lid, res in self.all_resources.items()
            if "Condition" not in res or self.condition(res["Condition"])
        }
        self.tables = {lid: Table(**self._base(lid)) for lid in self._ids(TABLE_TYPE)}
        self.buckets = {lid: Bucket(**self._base(lid)) for lid in self._ids(BUCKET_TYPE)}
        self.queues = {lid: Queue(**self._base(lid)) for lid in self._ids(QUEUE_TYPE)}
        self.queue_policies = {lid: Resource(**self._base(lid)) for lid in self._ids(QUEUE_POLICY_TYPE)}
        self.event_buses = {lid: EventBus(**self._base(lid)) for lid in self._ids(EVENT_BUS_TYPE)}
        self.event_rules = {lid: EventRule(**self._base(lid)) for lid in self._ids(EVENT_RULE_TYPE)}
        self.layers = {lid: Layer(**self._base(lid)) for lid in self._ids(LAYER_TYPE)}
        self.http_apis = {
            lid: Resource(
                **{
                    **self._base(lid),
                    "properties": merge_globals(self.globals.get("HttpApi") or {}, self._base(lid)["properties"]),
                }
            )
            for lid in self._ids(HTTP_API_TYPE)
        }
        self.functions = {lid: self._function(lid) for lid in self._ids(FUNCTION_TYPE)}
        # AWS::Lambda::Function resources (image-packaged functions, to which Globals cannot apply);
        # those whose code is in the repository run locally like the others (infra/local/images.py).
        self.plain_functions = self._ids("AWS::Lambda::Function")
        from infra.local.images import image_functions

        self.functions.update(image_functions(self))

    # ------------------------------------------------------------ public helpers
    @property
    def routes(self) -> list[HttpRoute]:
        return [route for fn in self.functions.values() for route in fn.http_routes]

    def resource_type(self, logical_id: str) -> str | None:
        res = self.resources.get(logical_id)
        return res.get("Type") if res else None

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            conditions = self.data.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name!r}")
            self._condition_cache[name] = bool(self._condition_resolver.resolve(conditions[name], f"Conditions.{name}"))
        return self._condition_cache[name]

    # ------------------------------------------------------------ internals
    def _parameter_ref(self, value: Any) -> Any:
        """`!Ref SomeParameter` as the parameter's value (a schedule rate kept as a parameter)."""
        name = value.get("Ref") if isinstance(value, dict) and len(value) == 1 else None
        return self.parameters[name] if isinstance(name, str) and name in self.parameters else value

    def _parameters(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        declared: dict[str, Any] = self.data.get("Parameters") or {}
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"parameter overrides for undeclared parameters: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                value = overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default and no override")
            allowed = spec.get("AllowedValues")
            if allowed is not None and str(value) not in {str(v) for v in allowed}:
                raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = [part.strip() for part in value.split(",")]
            values[name] = value
        return values

    def _ids(self, resource_type: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") == resource_type]

    def _base(self, logical_id: str) -> dict[str, Any]:
        res = self.resources[logical_id]
        depends = res.get("DependsOn") or ()
        return {
            "logical_id": logical_id,
            "type": res["Type"],
            "properties": res.get("Properties") or {},
            "depends_on": (depends,) if isinstance(depends, str) else tuple(depends),
        }

    def _function(self, logical_id: str) -> Function:
        own = self.resources[logical_id].get("Properties") or {}
        props = merge_globals(self.globals.get("Function") or {}, own)
        code = props.get("CodeUri")
        code_uri = (self.root / code).resolve() if isinstance(code, str) else None
        env = ((props.get("Environment") or {}).get("Variables")) or {}
        routes: list[HttpRoute] = []
        sqs: list[SqsSource] = []
        schedules: list[ScheduleSource] = []
        others: dict[str, str] = {}
        for event_name, event in (props.get("Events") or {}).items():
            kind = event.get("Type")
            ev = event.get("Properties") or {}
            if kind == "HttpApi":
                api_ref = ev.get("ApiId")
                api_id = referenced_id(api_ref) if api_ref is not None else IMPLICIT_HTTP_API
                if api_id is None:
                    raise TemplateError(f"{logical_id}.Events.{event_name}: ApiId must be a Ref to an HttpApi")
                routes.append(
                    HttpRoute(
                        function_id=logical_id,
                        event_name=event_name,
                        method=str(ev.get("Method", "ANY")).upper() if "Path" in ev else "ANY",
                        path=str(ev.get("Path", "$default")),
                        api_id=api_id,
                        payload_format_version=str(ev.get("PayloadFormatVersion", "2.0")),
                        timeout_ms=int(ev.get("TimeoutInMillis", HTTP_API_DEFAULT_TIMEOUT_MS)),
                        properties=ev,
                    )
                )
            elif kind == "SQS":
                sqs.append(
                    SqsSource(
                        function_id=logical_id,
                        event_name=event_name,
                        queue=ev.get("Queue"),
                        queue_id=referenced_id(ev.get("Queue")),
                        batch_size=int(ev.get("BatchSize", SQS_DEFAULT_BATCH_SIZE)),
                        function_response_types=tuple(ev.get("FunctionResponseTypes") or ()),
                        enabled=_truthy(ev.get("Enabled", True)),
                        maximum_batching_window=int(ev.get("MaximumBatchingWindowInSeconds", 0)),
                        properties=ev,
                    )
                )
            elif kind == "Schedule":
                enabled = _truthy(ev.get("Enabled", True)) and str(ev.get("State", "ENABLED")).upper() == "ENABLED"
                schedules.append(
                    ScheduleSource(
                        function_id=logical_id,
                        event_name=event_name,
                        expression=str(self._parameter_ref(ev.get("Schedule", ""))),
                        enabled=enabled,
                        input=ev.get("Input"),
                        name=ev.get("Name"),
                        properties=ev,
                    )
                )
            else:
                others[event_name] = str(kind)
        return Function(
            logical_id=logical_id,
            properties=props,
            code_uri=code_uri,
            handler=str(props.get("Handler", "")),
            timeout=int(props.get("Timeout", LAMBDA_DEFAULT_TIMEOUT)),
            memory_size=int(props.get("MemorySize", LAMBDA_DEFAULT_MEMORY)),
            environment=dict(env),
            http_routes=tuple(routes),
            sqs_sources=tuple(sqs),
            schedules=tuple(schedules),
            other_events=others,
        )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


# ---------------------------------------------------------------- resolver
@dataclass
class Physical:
    """What the cloud would give for one resource: its Ref value and its GetAtt attributes."""

    ref: Any
    attrs: dict[str, Any] = field(default_factory=dict)


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Resolves intrinsic functions against a map of logical id -> physical values.

    Ref of a parameter gives its value (Default or override); pseudo parameters come from the
    constructor; Ref/GetAtt of a resource come from `physical`. Anything without a value raises
    UnresolvableError naming where it was met.
    """

    def __init__(
        self,
        template: Template,
        physical: Mapping[str, Physical],
        *,
        stack_name: str = LOCAL_STACK_NAME,
        account_id: str = LOCAL_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        partition: str = "aws",
        url_suffix: str = "amazonaws.com",
        strict: bool = True,
    ) -> None:
        self.template = template
        self.physical = physical
        self.pseudo: dict[str, Any] = {
            "AWS::StackName": stack_name,
            "AWS::AccountId": account_id,
            "AWS::Region": region,
            "AWS::Partition": partition,
            "AWS::URLSuffix": url_suffix,
            # A stack id ends in a UUID, unique per stack: here one derived from the stack name.
            "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account_id}:stack/{stack_name}/"
            + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account_id}/{region}/{stack_name}")),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": _NO_VALUE,
        }
        self.strict = strict

    # ------------------------------------------------------------ entry points
    def resolve(self, value: Any, where: str = "") -> Any:
        resolved = self._resolve(value, where or "<value>")
        if resolved is _NO_VALUE:
            return None
        return resolved

    def ref(self, name: str, where: str = "") -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.template.parameters:
            return self.template.parameters[name]
        if name in self.physical:
            return self.physical[name].ref
        raise UnresolvableError(f"{where}: Ref {name} has no local value{self._hint(name)}")

    def get_att(self, name: str, attribute: str, where: str = "") -> Any:
        phys = self.physical.get(name)
        if phys is None:
            raise UnresolvableError(f"{where}: Fn::GetAtt {name}.{attribute}: no local resource{self._hint(name)}")
        if attribute not in phys.attrs:
            raise UnresolvableError(
                f"{where}: Fn::GetAtt {name}.{attribute}: the local stack knows only {sorted(phys.attrs)}"
            )
        return phys.attrs[attribute]

    def _hint(self, name: str) -> str:
        rtype = self.template.resource_type(name)
        if rtype:
            return f" (a {rtype}, which the local stack does not emulate)"
        if name in self.template.all_resources:
            return " (its Condition is false)"
        return " (no such parameter or resource)"

    # ------------------------------------------------------------ recursion
    def _resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            items = [self._resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            key, arg = next(iter(value.items()))
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg, f"{where}.{key}")
        out = {}
        for key, item in value.items():
            resolved = self._resolve(item, f"{where}.{key}")
            if resolved is not _NO_VALUE:
                out[key] = resolved
        return out

    def _ref(self, arg: Any, where: str) -> Any:
        return self.ref(self._resolve(arg, where), where)

    def _get_att(self, arg: Any, where: str) -> Any:
        if isinstance(arg, str):
            name, _, attribute = arg.partition(".")
        else:
            name, attribute = arg[0], self._resolve(arg[1], where)
        return self.get_att(name, attribute, where)

    def _sub(self, arg: Any, where: str) -> Any:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self._resolve(v, f"{where}.{k}") for k, v in (arg[1] or {}).items()}
        else:
            text, variables = arg, {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                res, _, attribute = name.partition(".")
                value = self.get_att(res, attribute, where)
            else:
                value = self.ref(name, where)
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            return _scalar_str(value)

        return _SUB_VARIABLE.sub(substitute, text)

    def _join(self, arg: Any, where: str) -> Any:
        sep, items = arg
        items = self._resolve(items, where)
        return str(sep).join(_scalar_str(i) for i in items)

    def _select(self, arg: Any, where: str) -> Any:
        index, items = self._resolve(arg[0], where), self._resolve(arg[1], where)
        return items[int(index)]

    def _split(self, arg: Any, where: str) -> Any:
        sep, text = arg
        return str(self._resolve(text, where)).split(sep)

    def _if(self, arg: Any, where: str) -> Any:
        name, when_true, when_false = arg
        branch = when_true if self.template.condition(name) else when_false
        return self._resolve(branch, where)

    def _condition(self, arg: Any, where: str) -> Any:
        return self.template.condition(arg)

    def _equals(self, arg: Any, where: str) -> Any:
        left, right = (self._resolve(v, where) for v in arg)
        return _scalar_str(left) == _scalar_str(right)

    def _and(self, arg: Any, where: str) -> Any:
        return all(self._resolve(v, where) for v in arg)

    def _or(self, arg: Any, where: str) -> Any:
        return any(self._resolve(v, where) for v in arg)

    def _not(self, arg: Any, where: str) -> Any:
        return not self._resolve(arg[0], where)

    def _find_in_map(self, arg: Any, where: str) -> Any:
        name, top, second = (self._resolve(v, where) for v in arg[:3])
        try:
            return self.template.mappings[name][top][second]
        except KeyError as exc:
            raise UnresolvableError(f"{where}: Fn::FindInMap {name}.{top}.{second} not found") from exc

    def _base64(self, arg: Any, where: str) -> Any:
        return base64.b64encode(str(self._resolve(arg, where)).encode()).decode()

    def _to_json_string(self, arg: Any, where: str) -> Any:
        return json.dumps(self._resolve(arg, where), separators=(",", ":"))

    def _length(self, arg: Any, where: str) -> Any:
        return len(self._resolve(arg, where))

    def _get_azs(self, arg: Any, where: str) -> Any:
        region = self._resolve(arg, where) or self.pseudo["AWS::Region"]
        return [f"{region}a", f"{region}b", f"{region}c"]

    def _unsupported(self, arg: Any, where: str) -> Any:
        raise UnresolvableError(f"{where}: not supported by the local stack")


_FUNCTIONS = {
    "Ref": Resolver._ref,
    "Fn::GetAtt": Resolver._get_att,
    "Fn::Sub": Resolver._sub,
    "Fn::Join": Resolver._join,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::If": Resolver._if,
    "Condition": Resolver._condition,
    "Fn::Equals": Resolver._equals,
    "Fn::And": Resolver._and,
    "Fn::Or": Resolver._or,
    "Fn::Not": Resolver._not,
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::Base64": Resolver._base64,
    "Fn::ToJsonString": Resolver._to_json_string,
    "Fn::Length": Resolver._length,
    "Fn::GetAZs": Resolver._get_azs,
    "Fn::ImportValue": Resolver._unsupported,
    "Fn::Cidr": Resolver._unsupported,
}


def _scalar_str(value: Any) -> str:
    """How CloudFormation writes a scalar into a string (booleans lower-case)."""
    if value is _NO_VALUE or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise UnresolvableError(f"cannot use {value!r} where a string is expected")
    return str(value)


def env_value(value: Any, where: str = "") -> str:
    """An environment variable as Lambda would see it (CloudFormation stringifies numbers/booleans)."""
    try:
        return _scalar_str(value)
    except UnresolvableError as exc:
        raise UnresolvableError(f"{where}: {exc}") from None


def iter_intrinsic_ids(value: Any) -> Iterable[str]:
    """Every logical id or parameter a value refers to (Ref, GetAtt, Sub variables)."""
    if isinstance(value, list):
        for item in value:
            yield from iter_intrinsic_ids(item)
    elif isinstance(value, dict):
        target = referenced_id(value)
        if target is not None:
            yield target
            return
        if "Fn::Sub" in value and len(value) == 1:
            arg = value["Fn::Sub"]
            text = arg[0] if isinstance(arg, list) else arg
            local = set(arg[1]) if isinstance(arg, list) and len(arg) > 1 and arg[1] else set()
            for name in _SUB_VARIABLE.findall(text):
                if not name.startswith("!") and name not in local and not name.startswith("AWS::"):
                    yield name.split(".", 1)[0]
            if isinstance(arg, list) and len(arg) > 1:
                yield from iter_intrinsic_ids(arg[1])
            return
        for item in value.values():
            yield from iter_intrinsic_ids(item)
