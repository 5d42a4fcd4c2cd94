"""infra/local/s3_adapters.py: a ranged GetObject from the local stack's S3 reads only the bytes
it answers, from memory or from the on-disk body, and answers every Range form as S3 (and moto)
does: a byte range, an open range, a suffix, and the whole object for what it cannot apply."""

import random
import threading
import uuid

import pytest
import requests
from botocore.exceptions import ClientError

from infra.local import persistence
from infra.local.s3_adapters import RangeReadableBody

SIZE = 3 * 1024 * 1024
BODY = random.Random(14).randbytes(SIZE)  # the same in every xdist worker: it is in the test ids


@pytest.fixture(scope="module")
def stored(local_stack):
    """A 3 MiB object in a bucket of its own, on the session's local stack."""
    s3 = local_stack.client("s3")
    bucket = f"ranges-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="table/data.lance", Body=BODY)
    return s3, bucket, "table/data.lance", local_stack.endpoint_url


def _get(stored, byte_range, transport):
    """(status, Content-Range, body) of a ranged GET: through boto3 (in-process, as the functions
    call) or over HTTP to the stack's server (as LanceDB's object store and any other client do)."""
    s3, bucket, key, _ = stored
    if transport == "boto3":
        answer = s3.get_object(Bucket=bucket, Key=key, Range=byte_range)
        return answer["ResponseMetadata"]["HTTPStatusCode"], answer.get("ContentRange"), answer["Body"].read()
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
    answer = requests.get(url, headers={"Range": byte_range}, timeout=30)
    return answer.status_code, answer.headers.get("Content-Range"), answer.content


@pytest.mark.parametrize(
    ("byte_range", "status", "content_range", "expected"),
    [
        ("bytes=0-99", 206, f"bytes 0-99/{SIZE}", BODY[:100]),
        ("bytes=1048576-1049599", 206, f"bytes 1048576-1049599/{SIZE}", BODY[1048576:1049600]),
        (f"bytes={SIZE - 10}-", 206, f"bytes {SIZE - 10}-{SIZE - 1}/{SIZE}", BODY[-10:]),
        ("bytes=-64", 206, f"bytes {SIZE - 64}-{SIZE - 1}/{SIZE}", BODY[-64:]),
        (f"bytes=5-{SIZE * 2}", 206, f"bytes 5-{SIZE - 1}/{SIZE}", BODY[5:]),
        ("bytes=0-1,5-6", 200, None, BODY),  # S3 answers a multi-range with the whole object
        ("bytes=x-y", 200, None, BODY),  # and an unparseable range too
    ],
    ids=["first bytes", "middle", "open end", "suffix", "end past the size", "multi-range", "unparseable"],
)
@pytest.mark.parametrize("transport", ["boto3", "http"])
def test_every_range_form_answers_as_s3_does(stored, byte_range, status, content_range, expected, transport):
    assert _get(stored, byte_range, transport) == (status, content_range, expected)


def test_a_range_past_the_end_is_refused_as_s3_refuses_it(stored):
    s3, bucket, key, endpoint = stored
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={SIZE}-")
    assert refused.value.response["Error"]["Code"] == "InvalidRange"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
    assert url.startswith(endpoint)
    over_http = requests.get(url, headers={"Range": f"bytes={SIZE}-"}, timeout=30)
    assert over_http.status_code == 416 and b"InvalidRange" in over_http.content


class _CountingBuffer:
    """Wraps a key's buffer and remembers how many bytes each read asked for."""

    def __init__(self, inner):
        self.inner, self.reads = inner, []

    def seek(self, *args):
        return self.inner.seek(*args)

    def read(self, size=-1):
        data = self.inner.read(size)
        self.reads.append(len(data))
        return data

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.parametrize("transport", ["boto3", "http"])
def test_a_ranged_read_reads_only_its_range(stored, transport):
    from moto.s3.models import s3_backends

    s3, bucket, key, _ = stored
    fake_key = s3_backends["123456789012"]["aws"].buckets[bucket].keys[key]
    counting = _CountingBuffer(fake_key._value_buffer)
    fake_key._value_buffer = counting
    try:
        assert _get(stored, "bytes=4096-8191", transport)[2] == BODY[4096:8192]
        assert counting.reads and max(counting.reads) == 4096  # moto's own code reads all 3 MiB
        counting.reads.clear()
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == BODY  # a plain GET is whole
        assert sum(counting.reads) == SIZE
    finally:
        fake_key._value_buffer = counting.inner


def test_a_body_on_disk_is_read_a_range_at_a_time(tmp_path):
    store = persistence.BlobStore(tmp_path, ["kb-documents"])
    disk = store.write(BODY)
    key = type("Key", (), {"lock": threading.Lock(), "_value_buffer": disk, "size": SIZE})()
    body = RangeReadableBody(key)
    assert len(body) == SIZE and bool(body)
    assert body[10:20] == BODY[10:20] and body[SIZE - 3 : SIZE + 50] == BODY[-3:] and body[7:7] == b""
    assert bytes(body) == BODY
    empty = RangeReadableBody(
        type("Key", (), {"lock": threading.Lock(), "_value_buffer": store.write(b""), "size": 0})()
    )
    assert len(empty) == 0 and not empty and bytes(empty) == b"" and empty[0:10] == b""
