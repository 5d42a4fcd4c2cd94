"""infra/local/in_process.py: this process's botocore calls to the local stack are answered by moto
in-process, with the answers the server gives over HTTP (queue URLs included), moto's failures
as 500s, and the server still serving everything that is not a botocore call."""

import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.local import in_process


def _client(service, endpoint_url, region):
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def both(local_stack):
    """(in-process client, over-HTTP client) for a service: the same server under two names, only
    the first of which is the stack's registered endpoint."""
    assert "127.0.0.1" in local_stack.endpoint_url
    over_http = local_stack.endpoint_url.replace("127.0.0.1", "localhost")

    def make(service):
        return _client(service, local_stack.endpoint_url, local_stack.region), _client(
            service, over_http, local_stack.region
        )

    return make


@pytest.fixture
def sent_over_http(monkeypatch):
    """The URLs botocore sends through its HTTP session."""
    from botocore.httpsession import URLLib3Session

    sent = []
    send = URLLib3Session.send

    def recording(self, request):
        sent.append(request.url)
        return send(self, request)

    monkeypatch.setattr(URLLib3Session, "send", recording)
    return sent


def test_calls_to_the_stack_never_reach_a_socket(local_stack, both, sent_over_http):
    in_proc, over_http = both("dynamodb")
    table = local_stack.table_names["DatasetsTable"]
    in_proc.describe_table(TableName=table)
    assert [url for url in sent_over_http if "DescribeTable" in url or "127.0.0.1" in url] == []
    over_http.describe_table(TableName=table)
    assert [url for url in sent_over_http if "localhost" in url] == [over_http.meta.endpoint_url + "/"]


def _without_volatile(answer):
    answer = dict(answer)
    answer.pop("ResponseMetadata", None)
    return answer


def test_dynamodb_answers_as_over_http(local_stack, both):
    in_proc, over_http = both("dynamodb")
    table = local_stack.table_names["DatasetsTable"]
    tenant = uuid.uuid4().hex
    in_proc.put_item(TableName=table, Item={"tenant_id": {"S": tenant}, "id": {"S": "a"}, "n": {"N": "1"}})
    key = {"tenant_id": {"S": tenant}, "id": {"S": "a"}}
    assert _without_volatile(in_proc.get_item(TableName=table, Key=key)) == _without_volatile(
        over_http.get_item(TableName=table, Key=key)
    )
    for client in (in_proc, over_http):
        with pytest.raises(ClientError) as refused:
            client.put_item(
                TableName=table,
                Item={"tenant_id": {"S": tenant}, "id": {"S": "a"}},
                ConditionExpression="attribute_not_exists(id)",
            )
        assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_sqs_queue_urls_name_the_stacks_endpoint_as_over_http(local_stack, both):
    in_proc, over_http = both("sqs")
    name = f"inproc-{uuid.uuid4().hex[:8]}"
    url = in_proc.create_queue(QueueName=name)["QueueUrl"]
    assert url.startswith(local_stack.endpoint_url)  # moto builds it from the request's host
    in_proc.send_message(QueueUrl=url, MessageBody="hello")
    [message] = over_http.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert message["Body"] == "hello"
    in_proc.delete_queue(QueueUrl=url)


def test_s3_bodies_stream_and_missing_keys_answer_as_s3_does(local_stack, both):
    in_proc, over_http = both("s3")
    bucket = f"inproc-{uuid.uuid4().hex[:8]}"
    in_proc.create_bucket(Bucket=bucket)
    in_proc.put_object(Bucket=bucket, Key="dir/a file+name.txt", Body=b"x" * 100_000)
    for client in (in_proc, over_http):
        body = client.get_object(Bucket=bucket, Key="dir/a file+name.txt")["Body"]
        assert b"".join(body.iter_chunks(4096)) == b"x" * 100_000
        listed = client.list_objects_v2(Bucket=bucket, Prefix="dir/")["Contents"]
        assert [item["Key"] for item in listed] == ["dir/a file+name.txt"]
        with pytest.raises(ClientError) as missing:
            client.get_object(Bucket=bucket, Key="nope")
        assert missing.value.response["Error"]["Code"] == "NoSuchKey"


def test_an_exception_inside_moto_is_a_500_not_a_crash_of_the_caller(local_stack, both, monkeypatch):
    from moto.dynamodb.models import DynamoDBBackend

    def broken(self, *args, **kwargs):
        raise RuntimeError("moto bug")

    monkeypatch.setattr(DynamoDBBackend, "describe_table", broken)
    in_proc, _ = both("dynamodb")
    with pytest.raises(ClientError) as failed:
        in_proc.describe_table(TableName=local_stack.table_names["DatasetsTable"])
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_a_stopped_stacks_endpoint_goes_back_to_http(sent_over_http):
    in_process.register("http://127.0.0.1:1")
    in_process.unregister("http://127.0.0.1:1")
    client = _client("sqs", "http://127.0.0.1:1", "us-east-1")
    with pytest.raises(Exception, match="Could not connect"):
        client.list_queues()
    assert "http://127.0.0.1:1/" in sent_over_http
