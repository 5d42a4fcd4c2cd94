"""infra/local/moto_adapters.py answers exactly as moto's own code does, at the cost of the items
involved: the Query adapter is compared with moto's Table.query on random data and random pages,
and the transaction adapter rolls back only what a cancelled transaction touched."""

import contextlib
import json
import random
import threading
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.local import moto_adapters


@pytest.fixture
def ddb():
    moto_adapters.install()
    # Neither reset moto's backends on entry nor wipe them on exit: a session stack (tests/conftest.py)
    # may be running in this process on the same in-process backends; only this test's table goes.
    mock = mock_aws()
    mock.start(reset=False)
    try:
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="docs",
            AttributeDefinitions=[
                {"AttributeName": "kb", "AttributeType": "S"},
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": "ctime", "AttributeType": "N"},
                {"AttributeName": "name", "AttributeType": "S"},
                {"AttributeName": "owner", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "kb", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
            LocalSecondaryIndexes=[
                {
                    "IndexName": "by_ctime",
                    "KeySchema": [
                        {"AttributeName": "kb", "KeyType": "HASH"},
                        {"AttributeName": "ctime", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                {
                    "IndexName": "by_name",
                    "KeySchema": [
                        {"AttributeName": "kb", "KeyType": "HASH"},
                        {"AttributeName": "name", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_owner",
                    "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client
    finally:
        with contextlib.suppress(Exception):
            boto3.client("dynamodb", region_name="us-east-1").delete_table(TableName="docs")
        mock.stop(remove_data=False)


@contextlib.contextmanager
def motos_own_query():
    from moto.dynamodb.models.table import Table

    adapted = Table.query
    Table.query = moto_adapters._originals["Table.query"]
    try:
        yield
    finally:
        Table.query = adapted


def _seed(ddb, rng: random.Random, n: int) -> None:
    for _ in range(n):
        item = {
            "kb": {"S": rng.choice(["a", "b", "c"])},
            "id": {"S": f"doc-{rng.randrange(10_000):05d}"},
            "ctime": {"N": str(rng.randrange(50))},  # many ties: the table key breaks them
            "name": {"S": rng.choice(["alpha", "beta", "gamma", "delta"]) + str(rng.randrange(30))},
        }
        if rng.random() < 0.7:
            item["owner"] = {"S": rng.choice(["u1", "u2"])}  # sparse global index
        if rng.random() < 0.2:
            del item["name"]  # sparse local index
        ddb.put_item(TableName="docs", Item=item)
        if rng.random() < 0.2:  # updates move items within the indexes
            ddb.update_item(
                TableName="docs",
                Key={"kb": item["kb"], "id": item["id"]},
                UpdateExpression="SET ctime = :c",
                ExpressionAttributeValues={":c": {"N": str(rng.randrange(50))}},
            )
        if rng.random() < 0.1:
            ddb.delete_item(TableName="docs", Key={"kb": item["kb"], "id": item["id"]})


def _pages(ddb, request: dict) -> list[dict]:
    pages, start = [], None
    while True:
        page = ddb.query(**request, **({"ExclusiveStartKey": start} if start else {}))
        pages.append({k: page.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
        start = page.get("LastEvaluatedKey")
        if not start or len(pages) > 30:
            return pages


def _random_query(rng: random.Random) -> dict:
    index = rng.choice([None, "by_ctime", "by_name", "by_owner"])
    request: dict = {"TableName": "docs", "Limit": rng.choice([3, 7, 30]), "ScanIndexForward": rng.random() < 0.5}
    values: dict = {}
    if index == "by_owner":
        condition = "#h = :h"
        names = {"#h": "owner"}
        values[":h"] = {"S": rng.choice(["u1", "u2"])}
    else:
        condition = "#h = :h"
        names = {"#h": "kb"}
        values[":h"] = {"S": rng.choice(["a", "b", "c"])}
        sort = {None: ("id", "S"), "by_ctime": ("ctime", "N"), "by_name": ("name", "S")}[index]
        kind = rng.choice(["none", "between", "ge", "lt", "begins", "eq"])
        low = {"S": "doc-03000"} if sort[1] == "S" and index is None else {"S": "beta"}
        high = {"S": "doc-07000"} if sort[1] == "S" and index is None else {"S": "gamma"}
        if sort[1] == "N":
            low, high = {"N": str(rng.randrange(25))}, {"N": str(25 + rng.randrange(25))}
        names["#r"] = sort[0]
        if kind == "between":
            condition += " AND #r BETWEEN :lo AND :hi"
            values.update({":lo": low, ":hi": high})
        elif kind == "ge":
            condition += " AND #r >= :lo"
            values[":lo"] = low
        elif kind == "lt":
            condition += " AND #r < :hi"
            values[":hi"] = high
        elif kind == "eq":
            condition += " AND #r = :lo"
            values[":lo"] = low
        elif kind == "begins" and sort[1] == "S":
            condition += " AND begins_with(#r, :p)"
            values[":p"] = {"S": low["S"][:3]}
        else:
            del names["#r"]
    if rng.random() < 0.3:
        request["FilterExpression"] = "attribute_exists(#o)"
        names["#o"] = "owner"
    request.update(KeyConditionExpression=condition, ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    if index:
        request["IndexName"] = index
    return request


def test_query_pages_are_the_same_as_motos_own(ddb):
    rng = random.Random(14)
    _seed(ddb, rng, 150)
    for _ in range(80):
        request = _random_query(rng)
        adapted = _pages(ddb, request)
        with motos_own_query():
            own = _pages(ddb, request)
        assert adapted == own, request


def test_a_page_reads_only_the_page(ddb):
    # Given a partition of 3,000 items
    for i in range(3_000):
        ddb.put_item(TableName="docs", Item={"kb": {"S": "big"}, "id": {"S": f"{i:05d}"}, "ctime": {"N": str(i)}})
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends["123456789012"]["us-east-1"].tables["docs"]
    calls = 0
    get_item = table.get_item

    def counting(*args, **kwargs):
        nonlocal calls
        calls += 1
        return get_item(*args, **kwargs)

    table.get_item = counting
    # When a page of 30 is read from the middle, newest first
    page = ddb.query(
        TableName="docs",
        IndexName="by_ctime",
        KeyConditionExpression="kb = :k",
        ExpressionAttributeValues={":k": {"S": "big"}},
        Limit=30,
        ScanIndexForward=False,
        ExclusiveStartKey={"kb": {"S": "big"}, "id": {"S": "01500"}, "ctime": {"N": "1500"}},
    )
    # Then it holds the 30 before the start key, and only those (and the next) were looked at
    assert [int(i["ctime"]["N"]) for i in page["Items"]] == list(range(1499, 1469, -1))
    assert calls <= 31


def test_a_cancelled_transaction_leaves_every_item_as_it_was(ddb):
    ddb.put_item(TableName="docs", Item={"kb": {"S": "a"}, "id": {"S": "1"}, "ctime": {"N": "1"}, "v": {"N": "1"}})
    ddb.put_item(TableName="docs", Item={"kb": {"S": "a"}, "id": {"S": "other"}, "ctime": {"N": "5"}})
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "docs",
                        "Key": {"kb": {"S": "a"}, "id": {"S": "1"}},
                        "UpdateExpression": "SET v = v + :one, ctime = :c",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":c": {"N": "99"}},
                    }
                },
                {"Put": {"TableName": "docs", "Item": {"kb": {"S": "a"}, "id": {"S": "new"}, "ctime": {"N": "2"}}}},
                {"Delete": {"TableName": "docs", "Key": {"kb": {"S": "a"}, "id": {"S": "other"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "docs",
                        "Key": {"kb": {"S": "a"}, "id": {"S": "missing"}},
                        "ConditionExpression": "attribute_exists(id)",
                    }
                },
            ]
        )
    reasons = [r["Code"] for r in caught.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    items = ddb.query(
        TableName="docs",
        IndexName="by_ctime",
        KeyConditionExpression="kb = :k",
        ExpressionAttributeValues={":k": {"S": "a"}},
    )["Items"]
    # Then the update, the put and the delete are all undone, in the table and in its indexes
    assert [(i["id"]["S"], i["ctime"]["N"], i.get("v", {}).get("N")) for i in items] == [
        ("1", "1", "1"),
        ("other", "5", None),
    ]


def test_a_transaction_costs_its_items_not_its_table(ddb):
    for i in range(2_000):
        ddb.put_item(TableName="docs", Item={"kb": {"S": "big"}, "id": {"S": f"{i:05d}"}})
    import copy

    copied = 0
    deepcopy = copy.deepcopy

    def counting(value, *args, **kwargs):
        nonlocal copied
        copied += 1
        return deepcopy(value, *args, **kwargs)

    copy.deepcopy = counting
    try:
        ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": "docs", "Item": {"kb": {"S": "big"}, "id": {"S": "x"}}}}]
        )
    finally:
        copy.deepcopy = deepcopy
    assert copied < 20  # moto's own code deep-copies the 2,000-item table (thousands of objects)


EVERY_TYPE = {
    "kb": {"S": "t"},
    "id": {"S": "every-type"},
    "ctime": {"N": "12.50"},
    "blob": {"B": b"\x00\xffbinary"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "labels": {"SS": ["x", "y"]},
    "numbers": {"NS": ["1", "2.5"]},
    "blobs": {"BS": [b"\x01", b"\x02"]},
    "nested": {"M": {"list": {"L": [{"S": "é ü \u2603"}, {"N": "-3"}, {"B": b"\x03"}, {"M": {}}]}}},
}


def test_item_operations_answer_the_same_bodies_as_motos_serializer(ddb, monkeypatch):
    # Given every answer of the plain-JSON path is also put through moto's own serializer
    from moto.core.responses import ActionResult

    adapted = ActionResult.execute_result
    own = moto_adapters._originals["ActionResult.execute_result"]
    compared: list[str] = []
    plain: list[str] = []  # answers written by the adapter itself
    plain_body = moto_adapters._plain_body

    # Only this test's calls: the session stack's pollers call moto in-process on their own threads.
    this_thread = threading.get_ident()

    def recording(result, members, *default):
        body = plain_body(result, members, *default)
        if body is not None and threading.get_ident() == this_thread:
            plain.append(body)
        return body

    monkeypatch.setattr(moto_adapters, "_plain_body", recording)

    def both(self, context):
        if threading.get_ident() != this_thread:
            return adapted(self, context)
        status, headers, body = adapted(self, context)
        own_status, own_headers, own_body = own(self, context)
        assert (status, headers["Content-Type"]) == (own_status, own_headers["Content-Type"])
        assert json.loads(body) == json.loads(own_body), context.operation_model.name
        if len(plain) > len(compared):
            compared.append(context.operation_model.name)
        return status, headers, body

    ActionResult.execute_result = both
    try:
        # When every item operation runs, with every attribute type and the optional parts of answers
        key = {"kb": {"S": "t"}, "id": {"S": "every-type"}}
        ddb.put_item(TableName="docs", Item=EVERY_TYPE, ReturnConsumedCapacity="TOTAL")
        ddb.put_item(TableName="docs", Item=EVERY_TYPE, ReturnValues="ALL_OLD")
        assert ddb.get_item(TableName="docs", Key=key)["Item"]["blob"]["B"] == b"\x00\xffbinary"
        ddb.get_item(TableName="docs", Key={"kb": {"S": "t"}, "id": {"S": "absent"}})
        ddb.get_item(
            TableName="docs",
            Key=key,
            ProjectionExpression="nested, blobs, #c",
            ExpressionAttributeNames={"#c": "ctime"},
        )
        for returned in ("ALL_NEW", "UPDATED_OLD", "NONE"):
            ddb.update_item(
                TableName="docs",
                Key=key,
                UpdateExpression="SET ctime = ctime + :one ADD labels :more",
                ExpressionAttributeValues={":one": {"N": "1"}, ":more": {"SS": ["z"]}},
                ReturnValues=returned,
                ReturnConsumedCapacity="INDEXES",
            )
        for i in range(12):
            ddb.put_item(TableName="docs", Item={**EVERY_TYPE, "id": {"S": f"more-{i:02d}"}, "ctime": {"N": str(i)}})
        pages = _pages(
            ddb,
            {
                "TableName": "docs",
                "IndexName": "by_ctime",
                "KeyConditionExpression": "kb = :k",
                "ExpressionAttributeValues": {":k": {"S": "t"}},
                "Limit": 5,
            },
        )
        assert len(pages) == 3 and pages[0]["LastEvaluatedKey"]
        ddb.query(
            TableName="docs",
            KeyConditionExpression="kb = :k",
            ExpressionAttributeValues={":k": {"S": "t"}},
            Select="COUNT",
        )
        ddb.scan(TableName="docs", Limit=4)
        ddb.batch_get_item(RequestItems={"docs": {"Keys": [key, {"kb": {"S": "t"}, "id": {"S": "more-01"}}]}})
        ddb.batch_write_item(
            RequestItems={"docs": [{"PutRequest": {"Item": {**EVERY_TYPE, "id": {"S": "batch"}}}}]},
            ReturnConsumedCapacity="TOTAL",
        )
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "docs", "Key": key}}])
        ddb.transact_write_items(
            TransactItems=[{"Update": {"TableName": "docs", "Key": key, "UpdateExpression": "REMOVE flag"}}]
        )
        ddb.delete_item(TableName="docs", Key=key, ReturnValues="ALL_OLD")
        with pytest.raises(ClientError) as refused:  # an error still goes through moto's serializer
            ddb.put_item(TableName="docs", Item=EVERY_TYPE, ConditionExpression="attribute_exists(id)")
        assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
        ddb.describe_table(TableName="docs")  # not an item operation: moto's serializer alone
    finally:
        ActionResult.execute_result = adapted
    # Then every item operation's body was the serializer's
    assert set(compared) >= moto_adapters.PLAIN_JSON_OPERATIONS
    assert "DescribeTable" not in compared


def test_stream_records_answer_the_same_bodies_as_motos_serializer(local_stack, monkeypatch):
    # Given a table with a stream (the local stack's, served over HTTP) and every GetRecords answer
    # also put through moto's own serializer
    from moto.core.responses import ActionResult

    ddb, streams = local_stack.client("dynamodb"), local_stack.client("dynamodbstreams")
    table = f"streamed-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "kb", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "kb", "AttributeType": "S"},
            {"AttributeName": "id", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    try:
        arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        # When items of every attribute type are written, changed and deleted
        item = {**EVERY_TYPE, "kb": {"S": "t"}, "id": {"S": "streamed"}}
        ddb.put_item(TableName=table, Item=item)
        ddb.update_item(
            TableName=table, Key={"kb": {"S": "t"}, "id": {"S": "streamed"}}, UpdateExpression="REMOVE flag"
        )
        ddb.delete_item(TableName=table, Key={"kb": {"S": "t"}, "id": {"S": "streamed"}})

        adapted = ActionResult.execute_result
        own = moto_adapters._originals["ActionResult.execute_result"]
        compared: list[int] = []

        def both(self, context):
            status, headers, body = adapted(self, context)
            if context.operation_model.name == "GetRecords":
                own_status, _, own_body = own(self, context)
                assert status == own_status and json.loads(body) == json.loads(own_body)
                compared.append(len(json.loads(body)["Records"]))
            return status, headers, body

        monkeypatch.setattr(ActionResult, "execute_result", both)
        records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    finally:
        ddb.delete_table(TableName=table)

    # Then the adapter's body is the serializer's, and botocore reads it as usual
    assert 3 in compared  # (the stack's own stream pollers may read their streams meanwhile)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[0]["dynamodb"]["NewImage"]["blob"]["B"] == b"\x00\xffbinary"
    assert records[0]["dynamodb"]["ApproximateCreationDateTime"].year >= 2024
