"""infra/local/sqs_adapters.py: a long poll on a FIFO queue whose every visible message belongs to a
group in flight waits instead of scanning the queue again and again, and it still hands out the
next message of a group as soon as the group's in-flight message is deleted. The clock adapters
answer as moto's own properties do."""

import threading
import time
import uuid

import boto3
import pytest
from moto import mock_aws

from infra.local import sqs_adapters


@pytest.fixture
def sqs():
    sqs_adapters.install()
    # Neither reset moto's backends nor wipe them: a session stack may share these backends.
    mock = mock_aws()
    mock.start(reset=False)
    try:
        yield boto3.client("sqs", region_name="us-east-1")
    finally:
        mock.stop(remove_data=False)


def _fifo(sqs, name: str) -> str:
    return sqs.create_queue(
        QueueName=f"{name}-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "60"},
    )["QueueUrl"]


def _count_scans(monkeypatch, url: str) -> list[int]:
    """How many times a receive looks through this queue's messages (moto's `Queue.messages`);
    a local stack sharing the process polls queues of its own."""
    from moto.sqs.models import Queue

    scans = [0]
    scanning = Queue.messages.fget
    name = url.rsplit("/", 1)[-1]

    def counted(self):
        if self.name == name:
            scans[0] += 1
        return scanning(self)

    monkeypatch.setattr(Queue, "messages", property(counted))
    return scans


def test_a_long_poll_on_a_busy_fifo_group_waits_instead_of_spinning(sqs, monkeypatch):
    url = _fifo(sqs, "busy")
    for body in ("first", "second", "third"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="dataset-1")
    held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in held] == ["first"]

    scans = _count_scans(monkeypatch, url)
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)

    assert answer.get("Messages", []) == []  # the group is in flight: nothing may be delivered
    # moto's own wait re-scans as fast as it can for the whole second (thousands of scans).
    assert scans[0] <= 5


def test_deleting_the_in_flight_message_wakes_a_waiting_receive(sqs):
    url = _fifo(sqs, "wake")
    for body in ("first", "second"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="dataset-1")
    held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
    received: list[str] = []

    def wait() -> None:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
        received.extend(m["Body"] for m in answer.get("Messages", []))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=held["ReceiptHandle"])
    waiter.join(timeout=30)

    assert received == ["second"]


def test_other_groups_are_delivered_while_one_is_in_flight(sqs):
    url = _fifo(sqs, "groups")
    sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    sqs.send_message(QueueUrl=url, MessageBody="a2", MessageGroupId="a")
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="b")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in first] == ["a1"]

    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)

    assert [m["Body"] for m in answer["Messages"]] == ["b1"]


def test_visibility_and_delay_read_as_moto_reads_them(sqs):
    from moto.sqs.models import Message

    own_visible = sqs_adapters._originals["Message.visible"].fget
    own_delayed = sqs_adapters._originals["Message.delayed"].fget
    now = time.time() * 1000
    for visible_at, delayed_until in [(0, 0), (now + 60_000, 0), (now - 5, now + 60_000), (now - 60_000, now - 1)]:
        message = Message(str(uuid.uuid4()), "body")
        message.visible_at, message.delayed_until = visible_at, delayed_until

        assert message.visible == own_visible(message)
        assert message.delayed == own_delayed(message)


def test_a_delayed_message_waits_out_its_delay(sqs):
    url = sqs.create_queue(QueueName=f"delayed-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=2)

    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
    answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)

    assert [m["Body"] for m in answer["Messages"]] == ["later"]


def test_restore_sets_back_exactly_what_was_recorded():
    # (On a throwaway class: uninstalling the live adapters would also drop whatever a local stack
    # in this process wrapped around them since, such as the persistence journal's hooks.)
    from infra.local.moto_adapters import restore

    class Backend:
        def receive(self):
            return "moto"

        def other(self):
            return "untouched"

    originals = {"Backend.receive": Backend.receive}
    Backend.receive = lambda self: "adapted"  # type: ignore[method-assign]
    Backend.other = lambda self: "patched by someone else"  # type: ignore[method-assign]

    restore(originals, [Backend])

    assert Backend().receive() == "moto" and originals == {}
    assert Backend().other() == "patched by someone else"


def test_a_batch_visibility_change_frees_its_group_at_once(sqs):
    # moto's ChangeMessageVisibilityBatch calls the backend with keyword arguments.
    url = _fifo(sqs, "batch-visibility")
    for body in ("first", "second"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="dataset-1")
    [held] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    answer = sqs.change_message_visibility_batch(
        QueueUrl=url, Entries=[{"Id": "0", "ReceiptHandle": held["ReceiptHandle"], "VisibilityTimeout": 0}]
    )
    assert answer.get("Failed", []) == [] and [e["Id"] for e in answer["Successful"]] == ["0"]
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=2)["Messages"]
    assert [m["Body"] for m in again] == ["first"]
