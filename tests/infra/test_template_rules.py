"""template.yaml: valid for CloudFormation, and following the project's deployment rules."""

import ast
import json
import re
from pathlib import Path

import pytest

from infra.local.template import (
    DEFAULT_TEMPLATE,
    SQS_DEFAULT_VISIBILITY_TIMEOUT,
    Template,
    referenced_id,
)

TEMPLATE = Template(DEFAULT_TEMPLATE)
FUNCTIONS = sorted(TEMPLATE.functions)
SQS_SOURCES = [source for fn in TEMPLATE.functions.values() for source in fn.sqs_sources]
SQS_DEFAULT_RETENTION = 345_600
API_GATEWAY_MAX_INTEGRATION_MS = 30_000


def test_cfn_lint_passes():
    from cfnlint.api import lint_file

    matches = lint_file(Path(DEFAULT_TEMPLATE))
    problems = [m for m in matches if m.rule.id[0] in ("E", "W")]
    assert not problems, "cfn-lint:\n" + "\n".join(str(m) for m in problems)


# ---------------------------------------------------------------- functions
def test_globals_grant_no_shared_permissions():
    shared = set(TEMPLATE.globals.get("Function") or {}) & {"Role", "Policies", "PermissionsBoundary"}
    assert not shared, f"Globals.Function must not give every function the same permissions: {shared}"


def test_no_two_functions_share_a_role():
    roles = {}
    for lid, fn in TEMPLATE.functions.items():
        role = fn.properties.get("Role")
        if role is not None:
            key = json.dumps(role, sort_keys=True)
            assert key not in roles, f"{lid} and {roles[key]} share the role {role}"
            roles[key] = lid


def _broad_policies(policies):
    """Managed *FullAccess policies and inline statements that allow everything."""
    found = []
    for policy in policies if isinstance(policies, list) else [policies]:
        if isinstance(policy, str) and "FullAccess" in policy:
            found.append(policy)
        if isinstance(policy, dict) and "Statement" in policy:
            for statement in policy["Statement"]:
                actions = statement.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                if statement.get("Effect") == "Allow" and any(a == "*" or a.endswith(":*") for a in actions):
                    found.append(json.dumps(statement))
    return found


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_function_permissions_are_its_own_and_narrow(function_id):
    props = TEMPLATE.functions[function_id].properties
    assert not _broad_policies(props.get("Policies") or []), f"{function_id} has broad policies"
    if "Role" in props:
        assert "Policies" not in props, f"{function_id}: Role and Policies together (SAM ignores Policies)"


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_function_has_an_explicit_timeout(function_id):
    fn = TEMPLATE.functions[function_id]
    assert "Timeout" in fn.properties, f"{function_id} has no Timeout (neither its own nor from Globals)"
    assert 1 <= fn.timeout <= 900
    for route in fn.http_routes:
        assert fn.timeout * 1000 <= min(route.timeout_ms, API_GATEWAY_MAX_INTEGRATION_MS), (
            f"{function_id} may run {fn.timeout}s but API Gateway gives up on {route.route_key} "
            f"after {route.timeout_ms / 1000:g}s"
        )


def _defines(tree: ast.Module, name: str) -> bool:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return True
        if isinstance(node, ast.ImportFrom | ast.Import) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_function_code_exists_and_defines_its_handler(function_id):
    fn = TEMPLATE.functions[function_id]
    assert fn.code_uri is not None, f"{function_id}: CodeUri must be a local folder"
    assert fn.code_uri.is_dir(), f"{function_id}: CodeUri folder {fn.code_uri} does not exist"
    assert fn.module_path is not None and fn.module_path.is_file(), f"{function_id}: {fn.module_path} missing"
    tree = ast.parse(fn.module_path.read_text(), str(fn.module_path))
    assert _defines(tree, fn.handler_attribute), f"{fn.module_path} does not define {fn.handler_attribute!r}"


# ---------------------------------------------------------------- queues consumed by functions
@pytest.mark.parametrize("source", SQS_SOURCES, ids=lambda s: f"{s.function_id}.{s.event_name}")
def test_consumed_queue_is_safe(source):
    fn = TEMPLATE.functions[source.function_id]
    assert source.queue_id in TEMPLATE.queues, f"{source.function_id} consumes a queue the template does not declare"
    queue = TEMPLATE.queues[source.queue_id]
    where = f"{source.queue_id} (consumed by {source.function_id})"

    dlq_id = queue.dead_letter_queue_id
    assert dlq_id in TEMPLATE.queues, f"{where} needs a RedrivePolicy to a dead-letter queue of the template"
    assert (queue.max_receive_count or 0) >= 1
    dlq = TEMPLATE.queues[dlq_id]
    retention = int(queue.properties.get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION))
    dlq_retention = int(dlq.properties.get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION))
    assert dlq_retention >= retention, f"{dlq_id} must keep messages at least as long as {source.queue_id}"

    visibility = int(queue.properties.get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY_TIMEOUT))
    needed = 6 * fn.timeout + source.maximum_batching_window
    assert visibility >= needed, (
        f"{where}: VisibilityTimeout {visibility} < 6 x Timeout {fn.timeout} (+ batching window)"
    )

    assert source.report_batch_item_failures, f"{source.function_id}.{source.event_name} lacks ReportBatchItemFailures"


# ---------------------------------------------------------------- routes
def test_every_route_is_unique():
    seen = {}
    for route in TEMPLATE.routes:
        shape = re.sub(r"\{[^}+]+\}", "{}", route.path.rstrip("/") or "/")
        key = (route.api_id, route.method, shape)
        assert key not in seen, f"{route.function_id} and {seen[key]} both take {route.route_key}"
        seen[key] = route.function_id


def test_unknown_paths_have_a_catch_all_route():
    assert any(route.path == "/{proxy+}" and route.method == "ANY" for route in TEMPLATE.routes)


# ---------------------------------------------------------------- storage
@pytest.mark.parametrize("bucket_id", sorted(TEMPLATE.buckets))
def test_bucket_is_encrypted_and_private(bucket_id):
    props = TEMPLATE.buckets[bucket_id].properties
    rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
    assert any(r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules), (
        f"{bucket_id} unencrypted"
    )
    block = props.get("PublicAccessBlockConfiguration") or {}
    flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    assert all(block.get(flag) is True for flag in flags), f"{bucket_id} must block all public access"


@pytest.mark.parametrize("bucket_id", sorted(TEMPLATE.buckets))
def test_bucket_notifications_can_reach_their_queues(bucket_id):
    """S3 checks it may send to a queue when the notification is created: the queue's policy must
    allow s3.amazonaws.com, and the bucket must be created after that policy (DependsOn)."""
    bucket = TEMPLATE.buckets[bucket_id]
    for config in bucket.notification_configuration.get("QueueConfigurations") or []:
        queue_id = referenced_id(config["Queue"])
        assert queue_id in TEMPLATE.queues, f"{bucket_id} notifies a queue the template does not declare"
        policies = [
            pid
            for pid, policy in TEMPLATE.queue_policies.items()
            if queue_id in {referenced_id(q) for q in policy.properties.get("Queues") or []}
            and any(
                s.get("Effect") == "Allow" and (s.get("Principal") or {}).get("Service") == "s3.amazonaws.com"
                for s in policy.properties["PolicyDocument"]["Statement"]
            )
        ]
        assert policies, f"no QueuePolicy lets S3 send to {queue_id}"
        assert set(policies) & set(bucket.depends_on), f"{bucket_id} must DependsOn {policies}"


@pytest.mark.parametrize("table_id", sorted(TEMPLATE.tables))
def test_table_is_on_demand_with_point_in_time_recovery(table_id):
    props = TEMPLATE.tables[table_id].properties
    assert props.get("BillingMode") == "PAY_PER_REQUEST", f"{table_id} must be PAY_PER_REQUEST"
    pitr = props.get("PointInTimeRecoverySpecification") or {}
    assert pitr.get("PointInTimeRecoveryEnabled") is True, f"{table_id} must enable point-in-time recovery"


# ---------------------------------------------------------------- operations
ALARMS = {lid: res for lid, res in TEMPLATE.all_resources.items() if res.get("Type") == "AWS::CloudWatch::Alarm"}


def _alarm_metrics(alarm):
    props = alarm.get("Properties") or {}
    if "MetricName" in props:
        yield props.get("Namespace"), props["MetricName"], props.get("Dimensions") or []
    for query in props.get("Metrics") or []:
        metric = (query.get("MetricStat") or {}).get("Metric")
        if metric:
            yield metric.get("Namespace"), metric.get("MetricName"), metric.get("Dimensions") or []


def _watched(namespace, metric_name, dimension):
    return {
        referenced_id(d["Value"])
        for alarm in ALARMS.values()
        for ns, name, dims in _alarm_metrics(alarm)
        if ns == namespace and name == metric_name
        for d in dims
        if d.get("Name") == dimension
    }


def test_every_alarm_notifies_the_alert_topic():
    silent = [
        lid for lid, res in ALARMS.items() if {"Ref": "AlertTopic"} not in res["Properties"].get("AlarmActions", [])
    ]
    assert not silent, f"alarms nobody hears: {silent}"


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_every_function_has_an_alarm_on_its_errors_and_throttles(function_id):
    assert function_id in _watched("AWS/Lambda", "Errors", "FunctionName"), f"no Errors alarm on {function_id}"
    assert function_id in _watched("AWS/Lambda", "Throttles", "FunctionName"), f"no Throttles alarm on {function_id}"


def test_every_dead_letter_queue_is_alarmed():
    dead_letters = {q.dead_letter_queue_id for q in TEMPLATE.queues.values() if q.dead_letter_queue_id}
    failure_destinations = {
        referenced_id(
            ((fn.properties.get("EventInvokeConfig") or {}).get("DestinationConfig") or {})
            .get("OnFailure", {})
            .get("Destination")
        )
        for fn in TEMPLATE.functions.values()
    } - {None}
    missing = (dead_letters | failure_destinations) - _watched(
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName"
    )
    assert not missing, f"dead letters nobody is told about: {sorted(missing)}"


@pytest.mark.parametrize("function_id", [lid for lid, fn in TEMPLATE.functions.items() if fn.schedules])
def test_scheduled_functions_have_a_failure_destination(function_id):
    fn = TEMPLATE.functions[function_id]
    assert (fn.properties.get("EventInvokeConfig") or {}).get("DestinationConfig", {}).get("OnFailure")
    for schedule in fn.schedules:
        assert schedule.properties.get("DeadLetterConfig"), f"{function_id}.{schedule.event_name} has no DLQ"


@pytest.mark.parametrize("logical_id", sorted([*TEMPLATE.tables, *TEMPLATE.buckets]))
def test_data_survives_deleting_or_replacing_the_stack(logical_id):
    resource = TEMPLATE.all_resources[logical_id]
    assert resource.get("DeletionPolicy") == "Retain" and resource.get("UpdateReplacePolicy") == "Retain"


@pytest.mark.parametrize("stack_name", ["KB-Prod", "a" * 128])
def test_the_bucket_name_is_valid_for_any_stack_name(stack_name):
    from infra.local.template import Resolver

    bucket = next(iter(TEMPLATE.buckets.values()))
    name = Resolver(TEMPLATE, {}, stack_name=stack_name).resolve(bucket.properties["BucketName"])
    assert re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", name), name
