"""The local stack keeps its data between runs (infra/local/persistence.py): what a client saw
acknowledged is there after a restart, bodies live on disk, and the journal is compacted."""

import json
import os
import time
import uuid
from pathlib import Path

import pytest

from infra.local import persistence
from infra.local.stack import LocalStack
from infra.local.template import DEFAULT_TEMPLATE, Template

TEMPLATE = Template(DEFAULT_TEMPLATE)


def _stack(name: str, data_dir: Path | None) -> LocalStack:
    return LocalStack(TEMPLATE, stack_name=name, set_environ=False, data_dir=data_dir)


@pytest.fixture
def stack_name() -> str:
    return f"kbp-{uuid.uuid4().hex[:8]}"


def _table(stack: LocalStack) -> tuple[str, dict]:
    """The datasets table and an item for it, built from its key schema (whatever the template says)."""
    lid = "DatasetsTable"
    props = TEMPLATE.tables[lid].properties
    item = {k["AttributeName"]: {"S": f"{k['KeyType'].lower()}-{uuid.uuid4().hex[:6]}"} for k in props["KeySchema"]}
    return stack.table_names[lid], item


def test_items_objects_and_messages_survive_a_restart(tmp_path, stack_name):
    # Given a stack that keeps its data, with an item, an object (with metadata) and a queued message
    data = tmp_path / "data"
    with _stack(stack_name, data) as stack:
        table, item = _table(stack)
        item["label"] = {"S": "kept"}
        stack.client("dynamodb").put_item(TableName=table, Item=item)
        bucket = stack.bucket_names["DocumentsBucket"]
        body = os.urandom(300_000)
        stack.client("s3").put_object(
            Bucket=bucket, Key="kept/file.bin", Body=body, Metadata={"why": "test"}, ContentType="x/y"
        )
        etag = stack.client("s3").head_object(Bucket=bucket, Key="kept/file.bin")["ETag"]
        stack.client("sqs").send_message(QueueUrl=stack.queue_urls["CleanupQueue"], MessageBody="hello")
    # When it starts again on the same data
    with _stack(stack_name, data) as stack:
        # Then everything is there, byte for byte
        got = stack.client("dynamodb").get_item(TableName=table, Key={k: item[k] for k in item if k != "label"})
        assert got["Item"]["label"] == {"S": "kept"}
        obj = stack.client("s3").get_object(Bucket=bucket, Key="kept/file.bin")
        assert obj["Body"].read() == body
        assert obj["ETag"] == etag and obj["Metadata"] == {"why": "test"} and obj["ContentType"] == "x/y"
        messages = stack.client("sqs").receive_message(QueueUrl=stack.queue_urls["CleanupQueue"], WaitTimeSeconds=1)
        assert [m["Body"] for m in messages["Messages"]] == ["hello"]
        assert stack.restore_report is not None and stack.restore_report.items >= 1


def test_deletes_are_kept_too_and_a_fresh_start_is_empty(tmp_path, stack_name):
    data = tmp_path / "data"
    with _stack(stack_name, data) as stack:
        table, item = _table(stack)
        ddb, s3 = stack.client("dynamodb"), stack.client("s3")
        bucket = stack.bucket_names["DocumentsBucket"]
        ddb.put_item(TableName=table, Item=item)
        ddb.delete_item(TableName=table, Key=item)
        s3.put_object(Bucket=bucket, Key="a", Body=b"1")
        s3.put_object(Bucket=bucket, Key="b", Body=b"2")
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}]})
        sqs = stack.client("sqs")
        url = stack.queue_urls["CleanupQueue"]
        sqs.send_message(QueueUrl=url, MessageBody="done")
        received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
        sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    with _stack(stack_name, data) as stack:
        assert "Item" not in stack.client("dynamodb").get_item(TableName=table, Key=item)
        keys = [o["Key"] for o in stack.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert keys == ["b"]
        assert not stack.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages")
    # FRESH: wiping the data dir starts empty, and only one body file was ever left for "b"
    assert len(list((data / "blobs").glob("*/*"))) == 1
    persistence.wipe(data)
    with _stack(stack_name, data) as stack:
        assert not stack.client("s3").list_objects_v2(Bucket=bucket).get("Contents")


def test_bodies_live_on_disk_not_in_the_process(tmp_path, stack_name):
    with _stack(stack_name, None) as stack:
        bucket = stack.bucket_names["DocumentsBucket"]
        stack.client("s3").put_object(Bucket=bucket, Key="big", Body=b"x" * 2_000_000)
        from moto.s3.models import s3_backends

        key = s3_backends[stack.account_id]["aws"].buckets[bucket].keys["big"]
        assert isinstance(key._value_buffer, persistence.DiskBody)
        assert key._value_buffer.path.stat().st_size == 2_000_000
        folder = key._value_buffer.store.root
    assert not folder.exists()  # without a data dir, the bodies go with the stack


def test_a_torn_last_line_is_ignored_and_the_rest_is_kept(tmp_path, stack_name):
    data = tmp_path / "data"
    with _stack(stack_name, data) as stack:
        table, item = _table(stack)
        stack.client("dynamodb").put_item(TableName=table, Item=item)
    segment = sorted(data.glob("journal-*.log"))[-1]
    with segment.open("ab") as handle:
        handle.write(b'0badc0de {"t":"d","tb":"half a reco')  # what a kill in the middle of a write leaves
    with _stack(stack_name, data) as stack:
        assert "Item" in stack.client("dynamodb").get_item(TableName=table, Key=item)


def test_compaction_folds_the_journal_into_the_snapshot(tmp_path, stack_name):
    data = tmp_path / "data"
    with _stack(stack_name, data) as stack:
        table, item = _table(stack)
        ddb = stack.client("dynamodb")
        for n in range(50):  # one item written 50 times: history of 50, state of 1
            ddb.put_item(TableName=table, Item={**item, "n": {"N": str(n)}})
        assert stack.state is not None and stack.state.journal is not None
        stack.state.journal.compact()
        lines = (data / persistence.SNAPSHOT).read_text().splitlines()
        kept = [json.loads(line.split(" ", 1)[1]) for line in lines[1:]]
        assert [r["i"]["n"] for r in kept if r["t"] == "d"] == [{"N": "49"}]
        assert len(list(data.glob("journal-*.log"))) == 1  # only the open segment
        ddb.put_item(TableName=table, Item={**item, "n": {"N": "50"}})  # after the snapshot
    with _stack(stack_name, data) as stack:
        got = stack.client("dynamodb").get_item(TableName=table, Key=item)["Item"]
        assert got["n"] == {"N": "50"}


def test_an_in_flight_message_comes_back_when_its_holder_would_have_timed_out(tmp_path, stack_name):
    data = tmp_path / "data"
    with _stack(stack_name, data) as stack:
        sqs = stack.client("sqs")
        url = stack.queue_urls["CleanupQueue"]
        sqs.send_message(QueueUrl=url, MessageBody="job")
        assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=3600, WaitTimeSeconds=1)["Messages"]
    # The process "died" with the message in flight for an hour; its consumer's Timeout is 1 s here.
    stack = LocalStack(
        TEMPLATE,
        stack_name=stack_name,
        set_environ=False,
        data_dir=data,
        function_timeouts={"CleanupFunction": 1},
    )
    with stack:
        assert stack.restore_report is not None and stack.restore_report.released == 1
        deadline = time.monotonic() + 10
        got: list = []
        while not got and time.monotonic() < deadline:
            got = (
                stack.client("sqs")
                .receive_message(
                    QueueUrl=url, WaitTimeSeconds=1, MessageSystemAttributeNames=["ApproximateReceiveCount"]
                )
                .get("Messages", [])
            )
        assert [m["Body"] for m in got] == ["job"]
        assert got[0]["Attributes"]["ApproximateReceiveCount"] == "2"  # the receive before the crash counts
