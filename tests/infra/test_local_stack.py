"""LocalStack builds exactly what template.yaml declares, in moto."""

import json
import os
import time
import uuid
from urllib.parse import unquote_plus

import pytest

from infra.local.stack import LocalStack
from infra.local.template import DEFAULT_TEMPLATE, Resolver, Template, TemplateError

from .conftest import write_project

TEMPLATE = Template(DEFAULT_TEMPLATE)


@pytest.fixture(scope="module")
def stack():
    # Own names (moto's state is process-wide) and no os.environ changes (other stacks may be running).
    with LocalStack(stack_name=f"kbt-{uuid.uuid4().hex[:8]}", set_environ=False) as stack:
        yield stack


def _key_schema(items):
    return sorted((k["AttributeName"], k["KeyType"]) for k in items)


def test_tables_match_the_template(stack):
    ddb = stack.client("dynamodb")
    names = set(ddb.list_tables()["TableNames"])
    assert {n for n in names if n.startswith(stack.stack_name + "-")} == set(stack.table_names.values())
    assert set(stack.table_names) == set(TEMPLATE.tables)
    for lid, table in TEMPLATE.tables.items():
        props = table.properties
        desc = ddb.describe_table(TableName=stack.table_names[lid])["Table"]
        assert desc["BillingModeSummary"]["BillingMode"] == props["BillingMode"]
        assert _key_schema(desc["KeySchema"]) == _key_schema(props["KeySchema"])
        assert sorted(map(str, desc["AttributeDefinitions"])) == sorted(map(str, props["AttributeDefinitions"]))
        for kind in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
            expected = {i["IndexName"]: i for i in props.get(kind) or []}
            actual = {i["IndexName"]: i for i in desc.get(kind) or []}
            assert set(actual) == set(expected), f"{lid} {kind}"
            for name, index in expected.items():
                assert _key_schema(actual[name]["KeySchema"]) == _key_schema(index["KeySchema"])
                assert actual[name]["Projection"]["ProjectionType"] == index["Projection"]["ProjectionType"]
        backups = ddb.describe_continuous_backups(TableName=stack.table_names[lid])["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_queues_match_the_template(stack):
    sqs = stack.client("sqs")
    urls = sqs.list_queues(QueueNamePrefix=stack.stack_name + "-").get("QueueUrls", [])
    assert sorted(urls) == sorted(stack.queue_urls.values())
    assert set(stack.queue_urls) == set(TEMPLATE.queues)
    for lid, queue in TEMPLATE.queues.items():
        attrs = sqs.get_queue_attributes(QueueUrl=stack.queue_urls[lid], AttributeNames=["All"])["Attributes"]
        assert attrs["QueueArn"] == stack.queue_arns[lid]
        assert int(attrs["VisibilityTimeout"]) == queue.visibility_timeout
        if "MessageRetentionPeriod" in queue.properties:
            assert int(attrs["MessageRetentionPeriod"]) == queue.properties["MessageRetentionPeriod"]
        if queue.redrive_policy:
            redrive = json.loads(attrs["RedrivePolicy"])
            assert redrive["deadLetterTargetArn"] == stack.queue_arns[queue.dead_letter_queue_id]
            assert int(redrive["maxReceiveCount"]) == queue.max_receive_count
        else:
            assert "RedrivePolicy" not in attrs


def test_bucket_and_notifications_match_the_template(stack):
    s3 = stack.client("s3")
    assert set(stack.bucket_names) == set(TEMPLATE.buckets)
    for lid, bucket in TEMPLATE.buckets.items():
        name = stack.bucket_names[lid]
        if "BucketName" in bucket.properties:
            # resolved with this stack's pseudo parameters (its StackId's UUID): unique per stack
            assert name == stack.resolver.resolve(bucket.properties["BucketName"])
            assert name != Resolver(TEMPLATE, {}, stack_name=stack.stack_name + "x").resolve(
                bucket.properties["BucketName"]
            )
        s3.head_bucket(Bucket=name)
        rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert all(block.values())
        config = s3.get_bucket_notification_configuration(Bucket=name)
        expected = bucket.notification_configuration.get("QueueConfigurations") or []
        actual = config.get("QueueConfigurations") or []
        assert len(actual) == len(expected)
        for want, got in zip(expected, actual, strict=True):
            assert got["QueueArn"] == stack.queue_arns[want["Queue"]["Fn::GetAtt"][0]]
            assert got["Events"] == [want["Event"]]
            rules = {(r["Name"].lower(), r["Value"]) for r in got["Filter"]["Key"]["FilterRules"]}
            assert rules == {(r["Name"].lower(), r["Value"]) for r in want["Filter"]["S3Key"]["Rules"]}


def test_event_buses_match_the_template(stack):
    if not TEMPLATE.event_buses:
        pytest.skip("no event bus in the template")
    buses = {b["Name"] for b in stack.client("events").list_event_buses()["EventBuses"]}
    assert set(stack.event_bus_names.values()) <= buses


def _s3_records(sqs, url, wait_seconds=5.0):
    """S3 event records that reach a queue within the wait (the s3:TestEvent is dropped)."""
    records, deadline = [], time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            body = json.loads(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            records.extend(body.get("Records", []))  # the s3:TestEvent has no Records
        if records and not messages:
            break
    return records


def test_presigned_and_drop_folder_objects_reach_the_parse_queue_and_nothing_else(stack):
    s3, sqs = stack.client("s3"), stack.client("sqs")
    bucket = stack.bucket_names["DocumentsBucket"]
    s3.put_object(Bucket=bucket, Key="parsed/ignored.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="uploads/t1/kb1/api-upload", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="incoming/t1/kb1/doc one.txt", Body=b"hello")
    s3.put_object(Bucket=bucket, Key="inbox/kb1/sub dir/notes.md", Body=b"hello")
    records = _s3_records(sqs, stack.queue_urls["ParseQueue"])
    keys = sorted(unquote_plus(r["s3"]["object"]["key"]) for r in records)
    assert keys == ["inbox/kb1/sub dir/notes.md", "incoming/t1/kb1/doc one.txt"]
    assert records[0]["eventName"].startswith("ObjectCreated:")
    assert records[0]["s3"]["bucket"]["name"] == bucket


def test_describe_is_json(stack):
    details = json.loads(json.dumps(stack.describe()))
    assert details["aws_endpoint_url"] == stack.endpoint_url
    assert details["queues"]["ParseQueue"]["url"] == stack.queue_urls["ParseQueue"]
    assert details["environment"]["DATASETS_TABLE"] == stack.table_names["DatasetsTable"]


# ---------------------------------------------------------------- environment and overrides
SMALL = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Environment:
      Variables:
        QUEUE_URL: !Ref Jobs
        SHARED: same
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 600
  One:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/one
      Handler: app.handler
      Environment:
        Variables:
          ONLY_ONE: "1"
  Two:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/two
      Handler: app.handler
      Environment:
        Variables:
          SHARED: different
"""


def test_environment_is_set_while_running_and_restored(tmp_path, unique_stack_name, monkeypatch):
    path = write_project(tmp_path, SMALL.replace("SHARED: different", "SHARED: same"), {})
    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://elsewhere.example")
    monkeypatch.delenv("ONLY_ONE", raising=False)
    before = dict(os.environ)
    with LocalStack(path, stack_name=unique_stack_name) as stack:
        assert os.environ["AWS_ENDPOINT_URL"] == stack.endpoint_url
        assert os.environ["QUEUE_URL"] == stack.queue_urls["Jobs"]
        assert os.environ["ONLY_ONE"] == "1" and os.environ["SHARED"] == "same"
        assert "AWS_PROFILE" not in os.environ and "AWS_ENDPOINT_URL_S3" not in os.environ
        import boto3

        assert boto3.client("sqs").get_queue_url(QueueName=stack.queue_names["Jobs"])["QueueUrl"]
    assert dict(os.environ) == before


def test_conflicting_environment_is_an_error(tmp_path, unique_stack_name):
    path = write_project(tmp_path, SMALL, {})
    with pytest.raises(TemplateError, match="SHARED"), LocalStack(path, stack_name=unique_stack_name):
        pass


def test_visibility_timeout_override(tmp_path, unique_stack_name, monkeypatch):
    path = write_project(tmp_path, SMALL.replace("SHARED: different", "SHARED: same"), {})
    monkeypatch.setenv("KB_LOCAL_VISIBILITY_TIMEOUT", "2")
    with LocalStack(path, stack_name=unique_stack_name, set_environ=False) as stack:
        attrs = stack.client("sqs").get_queue_attributes(QueueUrl=stack.queue_urls["Jobs"], AttributeNames=["All"])
        assert attrs["Attributes"]["VisibilityTimeout"] == "2"
    monkeypatch.delenv("KB_LOCAL_VISIBILITY_TIMEOUT")
    with LocalStack(path, stack_name=unique_stack_name, set_environ=False) as stack:
        attrs = stack.client("sqs").get_queue_attributes(QueueUrl=stack.queue_urls["Jobs"], AttributeNames=["All"])
        assert attrs["Attributes"]["VisibilityTimeout"] == "600"


def test_reset_sdk_caches_clears_project_caches(monkeypatch):
    """A second stack in the same process gets a new endpoint: cached clients and connections must go."""
    import functools
    import types

    from pynamodb.attributes import UnicodeAttribute
    from pynamodb.models import Model

    from infra.local.stack import reset_sdk_caches

    module = types.ModuleType("kb_ingest._local_stack_test_fake")
    calls = []

    @functools.lru_cache(maxsize=1)
    def store():
        calls.append(1)
        return object()

    store.__module__ = module.__name__
    module.store = store
    monkeypatch.setitem(__import__("sys").modules, module.__name__, module)

    class Thing(Model):
        class Meta:
            table_name = "things"

        id = UnicodeAttribute(hash_key=True)

    Thing._connection = object()
    first = store()
    assert store() is first
    reset_sdk_caches()
    assert store() is not first and len(calls) == 2
    assert Thing._connection is None
