"""infra/local/server_adapters.py: moto's server finds a request's service without listing its own
package folder again, and knows the same modules moto's own listing gives."""

import os
import uuid

import moto
import requests
from moto import backends

from infra.local import server_adapters


def test_the_modules_listed_once_are_the_ones_moto_lists():
    server_adapters.install()
    original = backends.list_of_moto_modules.__wrapped__
    assert backends.list_of_moto_modules() == frozenset(original())
    assert {"s3", "dynamodb", "sqs"} <= backends.list_of_moto_modules()


def test_a_request_to_the_local_stack_does_not_list_motos_folder(local_stack, monkeypatch):
    moto_folder = os.path.dirname(moto.__file__)
    listings = []
    listdir = os.listdir

    def counted(path="."):
        if os.fspath(path) == moto_folder:
            listings.append(path)
        return listdir(path)

    monkeypatch.setattr(os, "listdir", counted)
    # Over HTTP (this process's botocore calls skip the server: infra/local/in_process.py)
    for _ in range(5):
        answer = requests.get(local_stack.endpoint_url, timeout=30)  # unsigned: moto's default service, S3
        assert answer.status_code == 200 and b"ListAllMyBucketsResult" in answer.content
    assert listings == []  # moto's own code lists the folder once per request


def test_moto_keeps_no_registry_of_items_messages_and_stream_records(local_stack):
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodbstreams.models import ShardIterator
    from moto.s3.models import FakeKey
    from moto.sqs.models import Message

    sqs, ddb, s3 = local_stack.client("sqs"), local_stack.client("dynamodb"), local_stack.client("s3")
    before = {cls: len(cls.instances_tracked) for cls in (Item, Message, ShardIterator, FakeKey)}
    url = sqs.create_queue(QueueName=f"registry-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for i in range(50):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
        ddb.put_item(
            TableName=local_stack.table_names["DatasetsTable"],
            Item={"tenant_id": {"S": uuid.uuid4().hex}, "id": {"S": "x"}},
        )
    bucket = f"registry-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert len(Item.instances_tracked) == before[Item] == 0
    assert len(Message.instances_tracked) == before[Message] == 0
    assert len(ShardIterator.instances_tracked) == before[ShardIterator] == 0
    assert len(FakeKey.instances_tracked) > before[FakeKey]  # moto's S3 reset still disposes of these
    sqs.delete_queue(QueueUrl=url)
