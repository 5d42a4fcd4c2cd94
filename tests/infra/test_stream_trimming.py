"""infra/local/streams.py: the local stack's stream pollers let moto forget what they have read.
moto keeps every stream record (with the item's images) and every shard iterator it answers for
the life of the process; on a long-running `make serve` both grew without end."""

import time
import uuid

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodbstreams.models import dynamodbstreams_backends


def _wait(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_records_every_poller_has_read_are_dropped_from_motos_shard(live, monkeypatch):
    from infra.local import streams

    monkeypatch.setattr(streams, "STREAM_RETENTION_SECONDS", 0.0)  # ten minutes otherwise
    stack = live.stack
    [poller] = [p for p in live.workers.streams if p.table_id == "ChunksTable"]
    table = dynamodb_backends[stack.account_id][stack.region].tables[stack.table_names["ChunksTable"]]
    shard = table.stream_shard
    ddb = stack.client("dynamodb")
    document_id = uuid.uuid4().hex  # of no dataset: the router reads and drops these
    for i in range(20):
        ddb.put_item(
            TableName=table.name,
            Item={
                "document_id": {"S": document_id},
                "chunk_key": {"S": f"c{i:03d}"},
                "generation": {"S": "g"},
                "dataset_id": {"S": "nope"},
                "tenant_id": {"S": "nope"},
            },
        )
        written = shard.starting_sequence_number + len(shard.items)  # after this write
    assert _wait(lambda: shard.starting_sequence_number >= written), "moto still holds the records read"
    assert poller.trimmed >= 20
    # A fresh iterator from the start of what moto still holds reads on from there.
    streams = stack.client("dynamodbstreams")
    iterator = streams.get_shard_iterator(
        StreamArn=poller.stream_arn, ShardId=shard.id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    for record in streams.get_records(ShardIterator=iterator)["Records"]:
        assert int(record["dynamodb"]["SequenceNumber"]) >= written


def test_an_idle_poller_leaves_no_shard_iterators_behind(live, monkeypatch):
    from infra.local import streams

    monkeypatch.setattr(streams, "SPENT_ITERATOR_SECONDS", 0.0)  # half a minute otherwise
    stack = live.stack
    iterators = dynamodbstreams_backends[stack.account_id][stack.region].shard_iterators
    time.sleep(0.5)
    before = len(iterators)
    time.sleep(2)  # about 20 polls per poller
    assert len(iterators) <= before + len(live.workers.streams)


def test_records_younger_than_the_retention_stay_for_other_readers(live):
    stack = live.stack
    table = dynamodb_backends[stack.account_id][stack.region].tables[stack.table_names["ChunksTable"]]
    document_id = uuid.uuid4().hex
    stack.client("dynamodb").put_item(
        TableName=table.name,
        Item={"document_id": {"S": document_id}, "chunk_key": {"S": "c"}, "generation": {"S": "g"},
              "dataset_id": {"S": "nope"}, "tenant_id": {"S": "nope"}},
    )  # fmt: skip
    assert live.workers.wait_idle(timeout=60)
    kept = [r for r in table.stream_shard.items if r.record["dynamodb"]["Keys"]["document_id"]["S"] == document_id]
    assert len(kept) == 1  # read by the poller, still in the stream, as DynamoDB keeps it for 24 hours
