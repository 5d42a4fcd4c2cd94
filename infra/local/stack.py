"""LocalStack: an embedded moto server holding every table, bucket, queue, event bus and rule that
template.yaml declares, and the process environment pointed at it.

    with LocalStack() as stack:          # template.yaml, stack name "kb-local"
        stack.endpoint_url               # http://127.0.0.1:<port>
        stack.table_names["DatasetsTable"], stack.queue_urls["ParseQueue"], stack.bucket_names
        stack.describe()                 # JSON-able connection details

While it runs, os.environ holds AWS_ENDPOINT_URL, test credentials, the region and every function's
environment variables (Globals + own, resolved), so boto3, PynamoDB and kb_ingest reach moto
unchanged. Everything set is restored on stop.

Timing override for fast local runs: KB_LOCAL_VISIBILITY_TIMEOUT=<seconds> replaces every queue's
VisibilityTimeout (the template's value otherwise).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from infra.local import in_process, moto_adapters, s3_adapters, server_adapters, sqs_adapters
from infra.local.persistence import LocalState, RestoreReport
from infra.local.template import (
    BUCKET_TYPE,
    DEFAULT_TEMPLATE,
    EVENT_BUS_TYPE,
    EVENT_RULE_TYPE,
    FUNCTION_TYPE,
    HTTP_API_TYPE,
    LAYER_TYPE,
    LOCAL_ACCOUNT_ID,
    LOCAL_STACK_NAME,
    QUEUE_POLICY_TYPE,
    QUEUE_TYPE,
    TABLE_TYPE,
    Physical,
    Resolver,
    Template,
    TemplateError,
    UnresolvableError,
    env_value,
)

log = logging.getLogger("infra.local.stack")

VISIBILITY_ENV = "KB_LOCAL_VISIBILITY_TIMEOUT"

# Resource types with no local behaviour: they get a plausible Ref/Arn so references resolve.
_NAME_ONLY_TYPES = {
    "AWS::Logs::LogGroup": ("logs", "log-group:{name}", "LogGroupName"),
    "AWS::CloudWatch::Alarm": ("cloudwatch", "alarm:{name}", "AlarmName"),
    "AWS::IAM::Role": ("iam", "role/{name}", "RoleName"),
    "AWS::IAM::ManagedPolicy": ("iam", "policy/{name}", "ManagedPolicyName"),
    "AWS::SNS::Topic": ("sns", "{name}", "TopicName"),
}
# Types the local stack knows it does not need (no warning).
_IGNORED_TYPES = {
    *(_NAME_ONLY_TYPES),
    QUEUE_POLICY_TYPE,
    LAYER_TYPE,
    HTTP_API_TYPE,
    FUNCTION_TYPE,
    "AWS::Lambda::Permission",
    "AWS::IAM::Policy",
    # The wiring of image functions, read by infra/local/images.py (routes, SQS sources, roles);
    # stream event sources are polled by infra/local/streams.py.
    "AWS::Lambda::Function",
    "AWS::Lambda::EventSourceMapping",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Integration",
    "AWS::CloudWatch::Dashboard",
}

# SQS queue properties (CloudFormation) that are queue attributes (API) of the same name.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)

# Packages whose module-level functools caches (lru_cache / cache) may hold something built from the
# environment (settings, boto3 clients, PynamoDB connections, stores): they are all cleared whenever a
# local stack starts or stops, so code imported for an earlier stack follows the new one. Clients
# kept in plain module globals at import time cannot be reached this way: keep them behind a cache.
CACHE_PACKAGES = ("kb_ingest",)

# Environment variables that could send boto3 elsewhere than moto (profiles, service endpoints, config files).
_AWS_ENV_TO_CLEAR = (
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_aws_profile() -> Iterator[None]:
    """The process's environment without the caller's AWS profile and config files, for boto3
    sessions made while it is in force: botocore fails on a profile it cannot find, and a config
    file could point elsewhere than moto."""
    with _ENV_LOCK:
        names = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
        saved = {k: os.environ.pop(k) for k in names if k in os.environ}
        os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        try:
            yield
        finally:
            for key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
                os.environ.pop(key, None)
            os.environ.update(saved)


def reset_sdk_caches() -> None:
    """Forget cached settings, boto3 clients and PynamoDB connections (they remember an endpoint)."""
    for name, module in list(sys.modules.items()):
        if module is None or not any(name == p or name.startswith(p + ".") for p in CACHE_PACKAGES):
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and getattr(value, "__module__", None) == name:
                clear()
    boto3 = sys.modules.get("boto3")
    if boto3 is not None:
        boto3.DEFAULT_SESSION = None  # type: ignore[attr-defined]
    models = sys.modules.get("pynamodb.models")
    if models is not None:
        pending = list(models.Model.__subclasses__())
        while pending:
            cls = pending.pop()
            pending.extend(cls.__subclasses__())
            if "_connection" in vars(cls):
                cls._connection = None


_DYNAMODB_LOCK = threading.RLock()


def serialize_moto_dynamodb() -> None:
    """Make moto's DynamoDB handle one request at a time, and journal what each one wrote.

    moto's writes check a condition and then write with no lock (and its transactions roll back by
    putting items back): two requests in flight at once (the threaded server does that) could both
    pass a condition only one should, or see a half-rolled-back transaction. Real DynamoDB isolates
    them, so the local stack serializes DynamoDB requests to behave the same; S3 and SQS are
    untouched. With the adapters in moto_adapters.py a request costs what its items cost, so the
    lock is held for well under a millisecond. Under the same lock, the items the request touched
    are journaled (persistence.py) before the answer goes out. The streams' requests take the
    same lock: the stream pollers drop records every poller has read from moto's shard
    (streams.py), and a GetRecords must not read the shard halfway through that.
    """
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    from infra.local import persistence

    if getattr(DynamoHandler.call_action, "_serialized", False):
        return
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            try:
                result = original(self)
            except BaseException:
                persistence.flush_dynamodb()  # whatever it changed before failing is still changed
                raise
            persistence.flush_dynamodb()
            return result

    call_action._serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    streams_call_action = DynamoDBStreamsHandler.call_action

    def serialized_streams_call_action(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            return streams_call_action(self)

    DynamoDBStreamsHandler.call_action = serialized_streams_call_action  # type: ignore[method-assign]


class LocalStack:
    """The template's storage and messaging resources, served by an embedded moto server."""

    def __init__(
        self,
        template: Template | str | Path | None = None,
        *,
        stack_name: str = LOCAL_STACK_NAME,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str | None = None,
        account_id: str = LOCAL_ACCOUNT_ID,
        parameter_overrides: Mapping[str, Any] | None = None,
        visibility_timeout: int | None = None,
        env_overrides: Mapping[str, str] | None = None,
        set_environ: bool = True,
        cleanup: bool = True,
        data_dir: Path | None = None,
        function_timeouts: Mapping[str, float] | None = None,
    ) -> None:
        if isinstance(template, Template):
            if parameter_overrides:
                raise TemplateError("pass parameter_overrides to Template(), not to an already built one")
            self.template = template
        else:
            self.template = Template(
                template if template is not None else DEFAULT_TEMPLATE, parameter_overrides, stack_name=stack_name
            )
        self.stack_name = stack_name
        self.host = host
        self.port = port
        self.region = region or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
        self.account_id = account_id
        if visibility_timeout is None and os.environ.get(VISIBILITY_ENV, "").strip():
            visibility_timeout = int(os.environ[VISIBILITY_ENV])
        self.visibility_timeout = visibility_timeout
        self.env_overrides = dict(env_overrides or {})
        self.set_environ = set_environ
        self.cleanup = cleanup
        # Where the data is kept between runs (None: nothing is kept, S3 bodies in a temporary folder).
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.function_timeouts = {k: float(v) for k, v in (function_timeouts or {}).items()}
        self.state: LocalState | None = None
        self.restore_report: RestoreReport | None = None

        self.endpoint_url = ""
        self.physical: dict[str, Physical] = {}
        self.table_names: dict[str, str] = {}
        self.bucket_names: dict[str, str] = {}
        self.queue_names: dict[str, str] = {}
        self.queue_urls: dict[str, str] = {}
        self.queue_arns: dict[str, str] = {}
        self.event_bus_names: dict[str, str] = {}
        self.rule_names: dict[str, str] = {}
        self.function_names: dict[str, str] = {}
        self.function_environments: dict[str, dict[str, str]] = {}
        self.environment: dict[str, str] = {}  # every variable the stack put in os.environ
        self.warnings: list[str] = []
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._started = False
        self._lock = threading.RLock()
        self._clients: dict[str, Any] = {}

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        with self._lock:
            if self._started:
                return self
            from moto.server import ThreadedMotoServer

            moto_adapters.install()
            sqs_adapters.install()
            s3_adapters.install()
            server_adapters.install()
            from moto.core.base_backend import AccountSpecificBackend

            with _without_aws_profile():  # moto makes (and keeps) one boto3 session for its region lists
                AccountSpecificBackend.get_session()
            serialize_moto_dynamodb()

            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request otherwise
            self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.port = port
            self.endpoint_url = f"http://{host}:{port}"
            if in_process.enabled():  # this process's botocore calls skip the sockets (in_process.py)
                in_process.register(self.endpoint_url)
            self._started = True
        try:
            self._plan()
            self._resolve_environment()  # fail fast on conflicts; resolved again once URLs are known
            self._create_queues()
            self._create_tables()
            self._create_buckets()
            self._create_event_buses_and_rules()
            self.state = LocalState(self.data_dir)
            self.restore_report = self.state.attach(self)
            if self.data_dir is not None:
                log.info("local stack: data in %s (%s)", self.data_dir, self.restore_report.describe())
            self._resolve_environment()
            self._warn_unsupported()
            if self.set_environ:
                self._apply_environ()
        except BaseException:
            self.stop()
            raise
        for warning in self.warnings:
            log.warning("local stack: %s", warning)
        return self

    def stop(self) -> None:
        with self._lock:
            if not self._started:
                return
            self._started = False
        try:
            if self.state is not None:
                self.state.detach()  # the teardown below is not journaled
                self.state = None
            if self.cleanup:
                self._delete_resources()
        finally:
            self._restore_environ()
            in_process.unregister(self.endpoint_url)
            if self._server is not None:
                self._server.stop()
                self._server = None
            self._clients.clear()

    @property
    def running(self) -> bool:
        return self._started

    # ------------------------------------------------------------ helpers for callers
    def client(self, service: str) -> Any:
        """A boto3 client for this stack, independent of os.environ (cached; boto3 clients are thread-safe)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._new_client(service)
            return self._clients[service]

    def _new_client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        with _without_aws_profile():
            return boto3.session.Session().client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"mode": "standard", "max_attempts": 3}, s3={"addressing_style": "path"}),
            )

    @property
    def resolver(self) -> Resolver:
        return Resolver(
            self.template,
            self.physical,
            stack_name=self.stack_name,
            account_id=self.account_id,
            region=self.region,
        )

    def queue_url_for_arn(self, arn: str) -> str | None:
        for lid, queue_arn in self.queue_arns.items():
            if queue_arn == arn:
                return self.queue_urls[lid]
        return None

    def describe(self) -> dict[str, Any]:
        """Connection details, JSON-able."""
        return {
            "stack_name": self.stack_name,
            "template": str(self.template.path),
            "aws_endpoint_url": self.endpoint_url,
            "region": self.region,
            "account_id": self.account_id,
            "tables": dict(self.table_names),
            "buckets": dict(self.bucket_names),
            "queues": {
                lid: {"name": self.queue_names[lid], "url": url, "arn": self.queue_arns[lid]}
                for lid, url in self.queue_urls.items()
            },
            "event_buses": dict(self.event_bus_names),
            "rules": dict(self.rule_names),
            "environment": dict(self.environment),
            "visibility_timeout_override": self.visibility_timeout,
        }

    # ------------------------------------------------------------ planning: physical names
    def _arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account_id if account else ''}:{resource}"

    def _name(self, lid: str, prop: str | None, default: str) -> str:
        props = self.template.resources[lid].get("Properties") or {}
        if prop and prop in props:
            return str(self.resolver.resolve(props[prop], f"{lid}.{prop}"))
        return default

    def _plan(self) -> None:
        tpl = self.template
        phys = self.physical
        stack = self.stack_name
        for lid in tpl.functions:
            name = self._name(lid, "FunctionName", f"{stack}-{lid}")
            self.function_names[lid] = name
            phys[lid] = Physical(name, {"Arn": self._arn("lambda", f"function:{name}")})
        # Plain Lambda functions (the image-packaged OCR function) are not run locally (the code
        # that calls them runs their work in-process), but references to them still resolve.
        for lid in tpl.plain_functions:
            name = self._name(lid, "FunctionName", f"{stack}-{lid}")
            phys[lid] = Physical(name, {"Arn": self._arn("lambda", f"function:{name}")})
        for lid in tpl.layers:
            phys[lid] = Physical(self._arn("lambda", f"layer:{stack}-{lid}:1"))
        for lid in tpl.http_apis:
            phys[lid] = Physical("local", {"ApiEndpoint": "http://127.0.0.1", "ApiId": "local"})
        phys.setdefault("ServerlessHttpApi", Physical("local", {"ApiEndpoint": "http://127.0.0.1", "ApiId": "local"}))
        for lid in tpl.tables:
            name = self._name(lid, "TableName", f"{stack}-{lid}")
            self.table_names[lid] = name
            arn = self._arn("dynamodb", f"table/{name}")
            phys[lid] = Physical(name, {"Arn": arn, "StreamArn": f"{arn}/stream/local"})
        for lid, queue in tpl.queues.items():
            fifo = str(queue.properties.get("FifoQueue", "")).lower() == "true"
            name = self._name(lid, "QueueName", f"{stack}-{lid}" + (".fifo" if fifo else ""))
            arn = self._arn("sqs", name)
            url = f"{self.endpoint_url}/{self.account_id}/{name}"
            self.queue_names[lid], self.queue_arns[lid], self.queue_urls[lid] = name, arn, url
            phys[lid] = Physical(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})
        for lid in tpl.buckets:
            name = self._name(lid, "BucketName", f"{stack}-{lid}".lower()[:63])
            self.bucket_names[lid] = name
            phys[lid] = Physical(
                name,
                {
                    "Arn": f"arn:aws:s3:::{name}",
                    "DomainName": f"{name}.s3.amazonaws.com",
                    "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
                    "DualStackDomainName": f"{name}.s3.dualstack.{self.region}.amazonaws.com",
                    "WebsiteURL": f"http://{name}.s3-website-{self.region}.amazonaws.com",
                },
            )
        for lid in tpl.event_buses:
            name = self._name(lid, "Name", f"{stack}-{lid}")
            self.event_bus_names[lid] = name
            phys[lid] = Physical(name, {"Arn": self._arn("events", f"event-bus/{name}"), "Name": name})
        for lid in tpl.event_rules:
            name = self._name(lid, "Name", f"{stack}-{lid}")
            self.rule_names[lid] = name
            phys[lid] = Physical(name, {"Arn": self._arn("events", f"rule/{name}")})
        for lid, res in tpl.resources.items():
            rtype = res.get("Type", "")
            if lid in phys or rtype not in _NAME_ONLY_TYPES:
                continue
            service, pattern, name_prop = _NAME_ONLY_TYPES[rtype]
            try:
                name = self._name(lid, name_prop, f"{stack}-{lid}")
            except UnresolvableError:
                name = f"{stack}-{lid}"
            arn = self._arn(service, pattern.format(name=name), region=service != "iam", account=True)
            ref = arn if service == "sns" else name
            phys[lid] = Physical(ref, {"Arn": arn, "TopicName": name} if service == "sns" else {"Arn": arn})

    # ------------------------------------------------------------ creation
    def _create_queues(self) -> None:
        sqs = self.client("sqs")
        resolver = self.resolver
        for lid, queue in self.template.queues.items():
            props = resolver.resolve(queue.properties, f"{lid}.Properties")
            attributes = {key: _attr(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
            if self.visibility_timeout is not None:
                attributes["VisibilityTimeout"] = str(int(self.visibility_timeout))
            url = sqs.create_queue(QueueName=self.queue_names[lid], Attributes=attributes)["QueueUrl"]
            self.queue_urls[lid] = url
            self.physical[lid].ref = url
            self.physical[lid].attrs["QueueUrl"] = url
        # Redrive policies once every queue (dead-letter queues included) exists.
        for lid, queue in self.template.queues.items():
            attributes = {}
            for key in ("RedrivePolicy", "RedriveAllowPolicy"):
                if key in queue.properties:
                    value = resolver.resolve(queue.properties[key], f"{lid}.{key}")
                    attributes[key] = value if isinstance(value, str) else json.dumps(value)
            if attributes:
                sqs.set_queue_attributes(QueueUrl=self.queue_urls[lid], Attributes=attributes)
        for lid, policy in self.template.queue_policies.items():
            props = resolver.resolve(policy.properties, f"{lid}.Properties")
            for url in props.get("Queues") or []:
                sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})

    def _create_tables(self) -> None:
        ddb = self.client("dynamodb")
        resolver = self.resolver
        for lid, table in self.template.tables.items():
            props = resolver.resolve(table.properties, f"{lid}.Properties")
            request: dict[str, Any] = {
                "TableName": self.table_names[lid],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
            }
            billing = props.get("BillingMode", "PROVISIONED")
            if billing == "PAY_PER_REQUEST":
                request["BillingMode"] = "PAY_PER_REQUEST"
            else:
                request["ProvisionedThroughput"] = _throughput(props.get("ProvisionedThroughput"))
            if props.get("LocalSecondaryIndexes"):
                request["LocalSecondaryIndexes"] = [
                    {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                    for index in props["LocalSecondaryIndexes"]
                ]
            if props.get("GlobalSecondaryIndexes"):
                indexes = []
                for index in props["GlobalSecondaryIndexes"]:
                    gsi = {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                    if billing != "PAY_PER_REQUEST":
                        gsi["ProvisionedThroughput"] = _throughput(index.get("ProvisionedThroughput"))
                    indexes.append(gsi)
                request["GlobalSecondaryIndexes"] = indexes
            if "StreamSpecification" in props:
                request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            sse = props.get("SSESpecification")
            if sse:
                request["SSESpecification"] = {
                    "Enabled": bool(sse.get("SSEEnabled")),
                    **({"SSEType": sse["SSEType"]} if "SSEType" in sse else {}),
                    **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {}),
                }
            if "DeletionProtectionEnabled" in props:
                request["DeletionProtectionEnabled"] = False  # the local stack must be able to clean up
            ddb.create_table(**request)
            pitr = (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
            if pitr:
                ddb.update_continuous_backups(
                    TableName=self.table_names[lid],
                    PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
                )
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                ddb.update_time_to_live(
                    TableName=self.table_names[lid],
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )

    def _create_buckets(self) -> None:
        s3 = self.client("s3")
        resolver = self.resolver
        for lid, bucket in self.template.buckets.items():
            name = self.bucket_names[lid]
            props = resolver.resolve(bucket.properties, f"{lid}.Properties")
            if self.region == "us-east-1":
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
            encryption = props.get("BucketEncryption")
            if encryption:
                s3.put_bucket_encryption(
                    Bucket=name,
                    ServerSideEncryptionConfiguration={
                        "Rules": [_encryption_rule(rule) for rule in encryption["ServerSideEncryptionConfiguration"]]
                    },
                )
            if props.get("PublicAccessBlockConfiguration"):
                s3.put_public_access_block(
                    Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
                )
            if props.get("OwnershipControls"):
                s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
            versioning = (props.get("VersioningConfiguration") or {}).get("Status")
            if versioning:
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
            cors = props.get("CorsConfiguration")
            if cors:
                s3.put_bucket_cors(
                    Bucket=name, CORSConfiguration={"CORSRules": [_cors_rule(r) for r in cors["CorsRules"]]}
                )
            if props.get("LifecycleConfiguration"):
                self.warnings.append(f"{lid}: LifecycleConfiguration is not applied locally")
            notification = props.get("NotificationConfiguration")
            if notification:
                s3.put_bucket_notification_configuration(
                    Bucket=name, NotificationConfiguration=self._notification(lid, notification)
                )

    def _notification(self, lid: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """CloudFormation's NotificationConfiguration in the S3 API's shape (queue ARNs are local ones)."""
        out: dict[str, Any] = {}
        queues = []
        for item in config.get("QueueConfigurations") or []:
            entry: dict[str, Any] = {"QueueArn": item["Queue"], "Events": [item["Event"]]}
            if item.get("Filter"):
                entry["Filter"] = {"Key": {"FilterRules": item["Filter"]["S3Key"]["Rules"]}}
            queues.append(entry)
        if queues:
            out["QueueConfigurations"] = queues
        for kind in ("TopicConfigurations", "LambdaConfigurations"):
            if config.get(kind):
                self.warnings.append(f"{lid}: NotificationConfiguration.{kind} is not emulated locally")
        if (config.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled"):
            out["EventBridgeConfiguration"] = {}
        return out

    def _create_event_buses_and_rules(self) -> None:
        if not self.template.event_buses and not self.template.event_rules:
            return
        events = self.client("events")
        resolver = self.resolver
        for lid in self.template.event_buses:
            events.create_event_bus(Name=self.event_bus_names[lid])
        for lid, rule in self.template.event_rules.items():
            props = resolver.resolve(rule.properties, f"{lid}.Properties")
            request: dict[str, Any] = {"Name": self.rule_names[lid], "State": props.get("State", "ENABLED")}
            bus = props.get("EventBusName")
            if bus:
                request["EventBusName"] = str(bus).rsplit("/", 1)[-1]
            if "EventPattern" in props:
                pattern = props["EventPattern"]
                request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
            if "ScheduleExpression" in props:
                request["ScheduleExpression"] = props["ScheduleExpression"]
                self.warnings.append(f"{lid}: scheduled rules are not fired locally (use a function Schedule event)")
            events.put_rule(**request)
            targets = []
            for target in props.get("Targets") or []:
                if ":sqs:" not in str(target.get("Arn", "")):
                    self.warnings.append(f"{lid}: target {target.get('Id')} is not an SQS queue; not emulated")
                    continue
                keys = ("Id", "Arn", "Input", "InputPath", "InputTransformer", "SqsParameters", "DeadLetterConfig")
                targets.append({k: v for k, v in target.items() if k in keys})
            if targets:
                events.put_targets(
                    Rule=self.rule_names[lid], EventBusName=request.get("EventBusName", "default"), Targets=targets
                )

    # ------------------------------------------------------------ environment
    def _resolve_environment(self) -> None:
        resolver = self.resolver
        merged: dict[str, str] = {}
        origin: dict[str, str] = {}
        conflicts: list[str] = []
        for lid, fn in self.template.functions.items():
            env = {
                name: env_value(resolver.resolve(value, f"{lid}.Environment.Variables.{name}"), f"{lid}.{name}")
                for name, value in fn.environment.items()
            }
            self.function_environments[lid] = env
            for name, value in env.items():
                if name in merged and merged[name] != value:
                    conflicts.append(f"{name}: {origin[name]}={merged[name]!r} but {lid}={value!r}")
                else:
                    merged.setdefault(name, value)
                    origin.setdefault(name, lid)
        if conflicts:
            raise TemplateError(
                "functions share one process locally, but these environment variables differ between them: "
                + "; ".join(conflicts)
            )
        merged.update(self.env_overrides)
        self.environment = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **merged,
        }

    def _apply_environ(self) -> None:
        to_clear = [*_AWS_ENV_TO_CLEAR, *(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_"))]
        for key in to_clear:
            if key in os.environ:
                self._saved_env.setdefault(key, os.environ[key])
                del os.environ[key]
        for key, value in self.environment.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        reset_sdk_caches()

    def _restore_environ(self) -> None:
        if not self._saved_env:
            return
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        reset_sdk_caches()

    def _warn_unsupported(self) -> None:
        known = {TABLE_TYPE, BUCKET_TYPE, QUEUE_TYPE, EVENT_BUS_TYPE, EVENT_RULE_TYPE, *_IGNORED_TYPES}
        for lid, res in self.template.resources.items():
            if res.get("Type") not in known:
                self.warnings.append(f"{lid}: {res.get('Type')} is not emulated locally")
        for fn in self.template.functions.values():
            for event_name, kind in fn.other_events.items():
                if kind == "DynamoDB":
                    continue  # stream event sources: infra/local/streams.py
                self.warnings.append(f"{fn.logical_id}.Events.{event_name}: {kind} events are not emulated locally")

    # ------------------------------------------------------------ teardown
    def _delete_resources(self) -> None:
        with contextlib.suppress(Exception):
            events = self.client("events")
            for lid, name in self.rule_names.items():
                props = self.template.event_rules[lid].properties
                bus = str(self.resolver.resolve(props.get("EventBusName", "default"))).rsplit("/", 1)[-1]
                with contextlib.suppress(Exception):
                    ids = [t["Id"] for t in events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]]
                    if ids:
                        events.remove_targets(Rule=name, EventBusName=bus, Ids=ids)
                    events.delete_rule(Name=name, EventBusName=bus)
            for name in self.event_bus_names.values():
                with contextlib.suppress(Exception):
                    events.delete_event_bus(Name=name)
        # Tables, buckets and queues are dropped from moto's in-process backends: going through the
        # API would read every object (moto's ListObjectVersions deep-copies each body) and delete
        # kept bodies one request at a time. Kept data (data_dir) stays on disk for the next start.
        from moto.dynamodb.models import dynamodb_backends
        from moto.s3.models import s3_backends
        from moto.sqs.models import sqs_backends
        from moto.utilities.utils import get_partition

        s3 = s3_backends[self.account_id][get_partition(self.region)]
        for name in self.bucket_names.values():
            bucket = s3.buckets.pop(name, None)
            s3_backends.bucket_accounts.pop(name, None)
            if bucket is None:
                continue
            for versions in list(dict.values(bucket.keys)):
                for version in versions:
                    with contextlib.suppress(Exception):
                        version.dispose()
        sqs = sqs_backends[self.account_id][self.region]
        for name in self.queue_names.values():
            sqs.queues.pop(name, None)
        ddb = dynamodb_backends[self.account_id][self.region]
        for name in self.table_names.values():
            ddb.tables.pop(name, None)


def _attr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)


def _throughput(value: Mapping[str, Any] | None) -> dict[str, int]:
    value = value or {}
    return {
        "ReadCapacityUnits": int(value.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(value.get("WriteCapacityUnits", 5)),
    }


def _cors_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    renames = {"MaxAge": "MaxAgeSeconds", "ExposedHeaders": "ExposeHeaders", "Id": "ID"}
    return {renames.get(k, k): v for k, v in rule.items()}


def _encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "ServerSideEncryptionByDefault" in rule:
        out["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
    if "BucketKeyEnabled" in rule:
        out["BucketKeyEnabled"] = bool(rule["BucketKeyEnabled"])
    return out
