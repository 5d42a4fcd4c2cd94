"""`python -m infra.redrive`: dead-letter queues back to their source queues, on the template's
queues in moto (a LocalStack of its own: no poller consumes anything here)."""

import json
import uuid
from typing import Any

import pytest

from infra import redrive as redrive_module
from infra.local.stack import LocalStack
from infra.redrive import RedriveError, redrive, stack_queue_urls, summarize


@pytest.fixture(scope="module")
def stack() -> Any:
    with LocalStack(stack_name=f"kbt-{uuid.uuid4().hex[:8]}", set_environ=False) as stack:
        yield stack


@pytest.fixture
def sqs(stack: Any) -> Any:
    client = stack.client("sqs")
    for url in stack.queue_urls.values():
        drain(client, url)  # PurgeQueue works once a minute per queue
    return client


@pytest.fixture
def parse_dlq(stack: Any) -> str:
    return stack.queue_urls["ParseDeadLetterQueue"]


@pytest.fixture
def parse_queue(stack: Any) -> str:
    return stack.queue_urls["ParseQueue"]


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Everything on the queue (received and deleted)."""
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return found
        found.extend(messages)
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )


def visible(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def in_flight(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


PARSE_JOB = {"job": "parse", "tenant_id": "t" * 32, "dataset_id": "d" * 32, "document_id": "e" * 32, "run_id": "r"}
S3_EVENT = {
    "Records": [
        {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "inbox/" + "d" * 32 + "%2Fmy+notes.txt", "size": 3}},
        }
    ]
}
PLAIN = "not json at all " * 10


def put_three(sqs: Any, dlq: str) -> None:
    sqs.send_message(
        QueueUrl=dlq,
        MessageBody=json.dumps(PARSE_JOB),
        MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}},
    )
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(S3_EVENT))
    sqs.send_message(QueueUrl=dlq, MessageBody=PLAIN)


def test_redrive_moves_every_message_with_its_attributes(sqs, parse_dlq, parse_queue):
    put_three(sqs, parse_dlq)
    report = redrive(sqs, parse_dlq, parse_queue)

    assert report.count == 3 and not report.failed and not report.dry_run
    assert all(m.new_message_id for m in report.messages)
    summaries = sorted(m.summary for m in report.messages)
    assert summaries == sorted(
        [
            f"job=parse document_id={'e' * 32} dataset_id={'d' * 32}",
            f"ObjectCreated:Put inbox/{'d' * 32}/my notes.txt",
            PLAIN.strip()[:80],
        ]
    )
    text = report.format()
    assert text.startswith(f"moved 3 messages from {parse_dlq} to {parse_queue}")
    assert all(summary in text for summary in summaries)

    assert drain(sqs, parse_dlq) == []
    moved = drain(sqs, parse_queue)
    assert sorted(m["Body"] for m in moved) == sorted([json.dumps(PARSE_JOB), json.dumps(S3_EVENT), PLAIN])
    job = next(m for m in moved if m["Body"] == json.dumps(PARSE_JOB))
    assert job["MessageAttributes"]["origin"]["StringValue"] == "test"
    assert {m["MessageId"] for m in moved} == {m.new_message_id for m in report.messages}


def test_a_dry_run_lists_and_leaves_everything_in_place(sqs, parse_dlq, parse_queue):
    put_three(sqs, parse_dlq)
    report = redrive(sqs, parse_dlq, parse_queue, dry_run=True)

    assert report.dry_run and report.count == 3
    assert all(m.new_message_id is None and m.error is None for m in report.messages)
    assert "dry run: 3 messages" in report.format() and "nothing was sent or deleted" in report.format()
    assert visible(sqs, parse_queue) == 0
    # Still there, and visible again at once (not hidden for the dry run's visibility timeout).
    assert in_flight(sqs, parse_dlq) == 0
    assert len(drain(sqs, parse_dlq)) == 3


def test_max_moves_that_many_and_leaves_the_rest(sqs, parse_dlq, parse_queue):
    for start in range(0, 25, 10):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps({"job": "parse", "document_id": f"doc{i}"})}
            for i in range(start, min(start + 10, 25))
        ]
        sqs.send_message_batch(QueueUrl=parse_dlq, Entries=entries)
    report = redrive(sqs, parse_dlq, parse_queue, max_messages=12)
    assert report.count == 12
    assert len(drain(sqs, parse_queue)) == 12
    assert len(drain(sqs, parse_dlq)) == 13


def test_big_messages_go_one_by_one_past_the_batch_limit(sqs, parse_dlq, parse_queue):
    bodies = [json.dumps({"job": "parse", "document_id": f"big{i}", "pad": "x" * 200_000}) for i in range(3)]
    for body in bodies:
        sqs.send_message(QueueUrl=parse_dlq, MessageBody=body)
    report = redrive(sqs, parse_dlq, parse_queue)
    assert report.count == 3 and not report.failed
    assert sorted(m.summary for m in report.messages) == [f"job=parse document_id=big{i}" for i in range(3)]
    assert sorted(m["Body"] for m in drain(sqs, parse_queue)) == sorted(bodies)
    assert drain(sqs, parse_dlq) == []


def test_nothing_is_deleted_when_the_send_fails(sqs, stack, parse_dlq):
    put_three(sqs, parse_dlq)
    missing = stack.queue_urls["ParseQueue"].rsplit("/", 1)[0] + "/no-such-queue"
    report = redrive(sqs, parse_dlq, missing)
    assert report.count == 0 and len(report.failed) == 3
    assert "3 could not be sent" in report.format()
    assert in_flight(sqs, parse_dlq) == 0  # visible again for the next attempt
    assert len(drain(sqs, parse_dlq)) == 3


def test_an_empty_dead_letter_queue_moves_nothing(sqs, parse_dlq, parse_queue):
    report = redrive(sqs, parse_dlq, parse_queue)
    assert report.count == 0 and report.messages == []


def test_summaries():
    assert summarize(json.dumps({"job": "purge_dataset", "tenant_id": "t", "dataset_id": "d1"})) == (
        "job=purge_dataset dataset_id=d1"
    )
    assert summarize(json.dumps({"Event": "s3:TestEvent", "Service": "Amazon S3"})) == "s3:TestEvent"
    assert summarize("x" * 200) == "x" * 80
    assert summarize('["a list"]') == '["a list"]'


# ---------------------------------------------------------------- the command
def test_the_command_with_local_moves_the_cleanup_queue(stack, sqs, tmp_path, capsys):
    state = tmp_path / "stack.json"
    details = stack.describe()
    state.write_text(
        json.dumps(
            {
                "aws_endpoint_url": details["aws_endpoint_url"],
                "region": details["region"],
                "queues": {lid: q["url"] for lid, q in details["queues"].items()},
            }
        )
    )
    dlq, queue = stack.queue_urls["CleanupDeadLetterQueue"], stack.queue_urls["CleanupQueue"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"job": "purge_dataset", "dataset_id": "d1"}))

    argv = ["--local", "--state-file", str(state), "--queue", "cleanup"]
    assert redrive_module.main([*argv, "--dry-run"]) == 0
    assert "dry run: 1 message on" in capsys.readouterr().out
    assert redrive_module.main(argv) == 0
    out = capsys.readouterr().out
    assert f"moved 1 message from {dlq} to {queue}" in out and "job=purge_dataset dataset_id=d1" in out
    assert [json.loads(m["Body"])["dataset_id"] for m in drain(sqs, queue)] == ["d1"]

    assert redrive_module.main(["--local", "--state-file", str(tmp_path / "absent.json")]) == 2


@pytest.mark.parametrize(
    "argv",
    [
        [],  # where are the queues?
        ["--local", "--stack", "s"],
        ["--dlq-url", "http://q/dlq"],  # without --queue-url
        ["--local", "--max", "0"],
        ["--local", "--queue", "other"],
    ],
)
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as exited:
        redrive_module.main(argv)
    assert exited.value.code == 2


def test_queues_of_a_deployed_stack_come_from_cloudformation():
    class CloudFormation:
        def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:
            if StackName != "kb":
                raise RuntimeError(f"Stack with id {StackName} does not exist")
            url = f"https://sqs.eu-west-1.amazonaws.com/1/{StackName}-{LogicalResourceId}-X"
            return {"StackResourceDetail": {"LogicalResourceId": LogicalResourceId, "PhysicalResourceId": url}}

    assert stack_queue_urls(CloudFormation(), "kb", ("CleanupDeadLetterQueue", "CleanupQueue")) == (
        "https://sqs.eu-west-1.amazonaws.com/1/kb-CleanupDeadLetterQueue-X",
        "https://sqs.eu-west-1.amazonaws.com/1/kb-CleanupQueue-X",
    )
    with pytest.raises(RedriveError, match="does not exist"):
        stack_queue_urls(CloudFormation(), "other", ("ParseDeadLetterQueue", "ParseQueue"))


# ---------------------------------------------------------------- AWS: SQS's message move task
DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/kb-ParseDeadLetterQueue"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/kb-ParseQueue"
DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:kb-ParseDeadLetterQueue"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:kb-ParseQueue"


def _stubbed_sqs(final_task: dict[str, Any]) -> Any:
    """An SQS client whose answers are AWS's shapes (botocore validates requests and answers
    against the service model): moto has no StartMessageMoveTask."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("sqs")
    stub = Stubber(client)
    for url, arn in ((DLQ_URL, DLQ_ARN), (QUEUE_URL, QUEUE_ARN)):
        stub.add_response(
            "get_queue_attributes", {"Attributes": {"QueueArn": arn}}, {"QueueUrl": url, "AttributeNames": ["QueueArn"]}
        )
    stub.add_response(
        "start_message_move_task", {"TaskHandle": "handle-1"}, {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN}
    )
    running = {
        "TaskHandle": "handle-1",
        "Status": "RUNNING",
        "SourceArn": DLQ_ARN,
        "ApproximateNumberOfMessagesMoved": 3,
    }
    for task in (running, final_task):
        stub.add_response("list_message_move_tasks", {"Results": [task]}, {"SourceArn": DLQ_ARN, "MaxResults": 1})
    stub.activate()
    client.stub = stub
    return client


def test_in_aws_the_move_is_an_sqs_message_move_task_followed_to_its_end():
    done = {"Status": "COMPLETED", "SourceArn": DLQ_ARN, "ApproximateNumberOfMessagesMoved": 7,
            "ApproximateNumberOfMessagesToMove": 7}  # fmt: skip
    sqs = _stubbed_sqs(done)
    waits: list[float] = []
    report = redrive_module.move_with_task(sqs, DLQ_URL, QUEUE_URL, sleep=waits.append)
    sqs.stub.assert_no_pending_responses()
    assert waits == [redrive_module.MOVE_TASK_POLL_SECONDS]  # one poll while RUNNING
    assert report.ok
    assert report.format() == f"moved 7 messages from {DLQ_URL} to {QUEUE_URL} (SQS message move task, completed)"


def test_a_failed_move_task_says_why_and_exits_1(monkeypatch, capsys):
    failed = {"Status": "FAILED", "SourceArn": DLQ_ARN, "ApproximateNumberOfMessagesMoved": 2,
              "ApproximateNumberOfMessagesToMove": 5, "FailureReason": "AccessDenied on kb-ParseQueue"}  # fmt: skip
    sqs = _stubbed_sqs(failed)
    monkeypatch.setattr(redrive_module, "_sqs_client", lambda service, region, local: sqs)
    monkeypatch.setattr(redrive_module.time, "sleep", lambda seconds: None)
    assert redrive_module.main(["--dlq-url", DLQ_URL, "--queue-url", QUEUE_URL]) == 1
    out = capsys.readouterr().out
    assert "moved 2 messages" in out and "(SQS message move task, failed): AccessDenied on kb-ParseQueue" in out
    assert "about 3 messages not moved" in out
