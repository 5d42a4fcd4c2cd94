"""SQS event-source mappings and schedules, with throwaway handlers on a throwaway template."""

import datetime as dt
import json
import time

import pytest

from infra.local.poller import BackgroundWorkers, CronSchedule, messages_to_delete, rate_seconds
from infra.local.runtime import FunctionRuntime, Invocation
from infra.local.stack import LocalStack

from .conftest import write_project

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 5
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt JobsDlq.Arn
        maxReceiveCount: 2
  JobsDlq:
    Type: AWS::SQS::Queue
  Crashes:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker
      Handler: app.handler
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(15 minutes)
  Crasher:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/crasher
      Handler: app.handler
      Events:
        Crashes:
          Type: SQS
          Properties:
            Queue: !GetAtt Crashes.Arn
            BatchSize: 10
"""

HANDLERS = {
    "worker": """
        BATCHES = []
        SCHEDULED = []

        def handler(event, context):
            if event.get("source") == "aws.events":
                SCHEDULED.append(event)
                return {"ok": True}
            BATCHES.append(event["Records"])
            failed = [r["messageId"] for r in event["Records"] if r["body"].startswith("fail")]
            return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
    """,
    "crasher": """
        SEEN = []

        def handler(event, context):
            SEEN.extend(r["body"] for r in event["Records"])
            raise RuntimeError("the whole batch fails")
    """,
}


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    path = write_project(tmp_path_factory.mktemp("poller"), TEMPLATE, HANDLERS)
    with LocalStack(path, stack_name="kbt-poller", set_environ=False, visibility_timeout=1) as stack:
        runtime = FunctionRuntime(stack.template, stack_name=stack.stack_name, function_names=stack.function_names)
        with BackgroundWorkers(stack, runtime, schedule_seconds=0.5) as workers:
            yield stack, runtime, workers


def _wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _bodies(records):
    return sorted(r["body"] for r in records)


def test_partial_batch_failure_then_redrive(local):
    stack, runtime, _ = local
    sqs = stack.client("sqs")
    worker = runtime.module("Worker")
    start = len(worker.BATCHES)
    sqs.send_message_batch(
        QueueUrl=stack.queue_urls["Jobs"],
        Entries=[
            {"Id": "1", "MessageBody": "ok-1"},
            {
                "Id": "2",
                "MessageBody": "fail-1",
                "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "x"}},
            },
            {"Id": "3", "MessageBody": "ok-2"},
        ],
    )
    # The failed message comes back alone after the 1 s visibility timeout; the others were deleted.
    assert _wait_for(lambda: "fail-1" in [b for batch in worker.BATCHES[start + 1 :] for b in _bodies(batch)])
    seen = [body for batch in worker.BATCHES[start:] for body in _bodies(batch)]
    assert seen.count("ok-1") == 1 and seen.count("ok-2") == 1

    # After maxReceiveCount (2) receives it is in the dead-letter queue, and only it.
    def in_dlq():
        messages = sqs.receive_message(QueueUrl=stack.queue_urls["JobsDlq"], MaxNumberOfMessages=10).get("Messages", [])
        return [m["Body"] for m in messages]

    dead = []
    assert _wait_for(lambda: dead.extend(in_dlq()) or dead)
    assert dead == ["fail-1"]
    attrs = sqs.get_queue_attributes(QueueUrl=stack.queue_urls["Jobs"], AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_record_shape(local):
    stack, runtime, _ = local
    worker = runtime.module("Worker")
    start = len(worker.BATCHES)
    stack.client("sqs").send_message(
        QueueUrl=stack.queue_urls["Jobs"],
        MessageBody="ok-shape",
        MessageAttributes={
            "s": {"DataType": "String", "StringValue": "v"},
            "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    assert _wait_for(lambda: any(r["body"] == "ok-shape" for batch in worker.BATCHES[start:] for r in batch))
    record = next(r for batch in worker.BATCHES[start:] for r in batch if r["body"] == "ok-shape")
    assert set(record) >= {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == stack.queue_arns["Jobs"]
    assert record["awsRegion"] == stack.region
    assert set(record["attributes"]) >= {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["messageAttributes"]["s"] == {
        "stringValue": "v",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["b"]["binaryValue"] == "AAE="
    json.dumps(record)


def test_raising_handler_deletes_nothing(local):
    stack, runtime, _ = local
    stack.client("sqs").send_message(QueueUrl=stack.queue_urls["Crashes"], MessageBody="doomed")
    # Redelivered after the visibility timeout, again and again (no redrive policy on this queue).
    assert _wait_for(lambda: runtime.module("Crasher").SEEN.count("doomed") >= 2)


def test_schedule_runs_on_its_own_and_by_hand(local):
    stack, runtime, workers = local
    worker = runtime.module("Worker")
    assert _wait_for(lambda: len(worker.SCHEDULED) >= 1, timeout=5)  # every 0.5 s (override)
    invocation = workers.invoke_scheduled("Worker")
    assert invocation.ok and invocation.result == {"ok": True}
    event = worker.SCHEDULED[-1]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["version"] == "0" and event["detail"] == {}
    assert event["account"] == stack.account_id and event["region"] == stack.region
    assert event["resources"] == [f"arn:aws:events:{stack.region}:{stack.account_id}:rule/kbt-poller-WorkerTick"]
    dt.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(ValueError):
        workers.invoke_scheduled("Crasher")


# ---------------------------------------------------------------- pure helpers
def _invocation(result=None, ok=True):
    return Invocation("F", "r", ok=ok, result=result)


MESSAGES = [{"MessageId": "a"}, {"MessageId": "b"}]


@pytest.mark.parametrize(
    ("invocation", "report", "deleted"),
    [
        (_invocation(None), True, ["a", "b"]),
        (_invocation({}), True, ["a", "b"]),
        (_invocation({"batchItemFailures": []}), True, ["a", "b"]),
        (_invocation({"batchItemFailures": [{"itemIdentifier": "b"}]}), True, ["a"]),
        (_invocation({"batchItemFailures": [{"itemIdentifier": "zzz"}]}), True, []),
        (_invocation({"batchItemFailures": [{"itemIdentifier": ""}]}), True, []),
        (_invocation({"batchItemFailures": [{"wrong": "b"}]}), True, []),
        (_invocation("not an object"), True, []),
        (_invocation({"batchItemFailures": [{"itemIdentifier": "b"}]}), False, ["a", "b"]),
        (_invocation(ok=False), True, []),
        (_invocation(ok=False), False, []),
    ],
)
def test_messages_to_delete(invocation, report, deleted):
    assert [m["MessageId"] for m in messages_to_delete(MESSAGES, invocation, report)] == deleted


def test_rate_and_cron():
    assert rate_seconds("rate(15 minutes)") == 900
    assert rate_seconds("rate(1 hour)") == 3600
    assert rate_seconds("rate(2 days)") == 172800
    assert rate_seconds("cron(0 12 * * ? *)") is None
    with pytest.raises(ValueError):
        rate_seconds("rate(1 minutes)")
    cron = CronSchedule("cron(0/15 8-9 ? * MON-FRI *)")
    friday = dt.datetime(2024, 5, 3, 9, 40, tzinfo=dt.UTC)
    assert cron.next_after(friday) == dt.datetime(2024, 5, 3, 9, 45, tzinfo=dt.UTC)
    assert cron.next_after(dt.datetime(2024, 5, 3, 9, 50, tzinfo=dt.UTC)) == dt.datetime(
        2024, 5, 6, 8, 0, tzinfo=dt.UTC
    )
    monthly = CronSchedule("cron(30 2 1 * ? *)")
    assert monthly.next_after(friday) == dt.datetime(2024, 6, 1, 2, 30, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        CronSchedule("cron(0 12 L * ? *)")
