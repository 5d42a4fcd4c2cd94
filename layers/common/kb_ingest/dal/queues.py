"""Messages to the background queues."""

import json
from functools import cache
from typing import Any

from kb_ingest.dal.clients import client
from kb_ingest.settings import get_settings

# SQS cannot delay a message longer than this.
MAX_DELAY_SECONDS = 900


class CleanupQueue:
    """Work for the cleanup function: purging deleted datasets, expiring unfinished uploads."""

    def _send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        client("sqs").send_message(
            QueueUrl=get_settings().cleanup_queue_url,
            MessageBody=json.dumps(body),
            DelaySeconds=min(delay_seconds, MAX_DELAY_SECONDS),
        )

    def request_purge(self, tenant_id: str, dataset_id: str) -> None:
        self._send({"job": "purge_dataset", "tenant_id": tenant_id, "dataset_id": dataset_id})

    def expire_upload_later(self, tenant_id: str, dataset_id: str, document_id: str, delay_seconds: int) -> None:
        """Check after the delay that a presigned upload arrived; remove its document if not."""
        self._send(
            {"job": "expire_upload", "tenant_id": tenant_id, "dataset_id": dataset_id, "document_id": document_id},
            delay_seconds,
        )


def delay_redelivery(queue_arn: str, receipt_handle: str, seconds: int) -> None:
    """Make a message that is about to be reported failed come back after `seconds`."""
    sqs = client("sqs")
    sqs.change_message_visibility(
        QueueUrl=_queue_url(queue_arn), ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
    )


@cache
def _queue_url(queue_arn: str) -> str:
    """The URL of the queue an event came from: the configured one when the names match (no call,
    no sqs:GetQueueUrl to grant), else asked once per container."""
    *_, account, name = queue_arn.split(":")
    for configured in (get_settings().parse_queue_url, get_settings().cleanup_queue_url):
        if configured and configured.rstrip("/").rsplit("/", 1)[-1] == name:
            return configured
    return str(client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


class ParseQueue:
    """Parse requests, on the same queue as the bucket's upload events."""

    def _send_batch(self, bodies: list[dict[str, Any]]) -> None:
        queue_url = get_settings().parse_queue_url
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(position), "MessageBody": json.dumps(body)}
                for position, body in enumerate(bodies[start : start + 10])
            ]
            response = client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
            if response.get("Failed"):
                raise RuntimeError(f"the parse queue refused messages: {response['Failed']}")

    def request_parse(self, documents: list[Any]) -> None:
        self._send_batch(
            [
                {
                    "job": "parse",
                    "tenant_id": document.tenant_id,
                    "dataset_id": document.kb_id,
                    "document_id": document.id,
                    "run_id": document.run_id,
                }
                for document in documents
            ]
        )

    def request_parse_all(self, tenant_id: str, dataset_id: str, after: str | None = None) -> None:
        self._send_batch([{"job": "parse_all", "tenant_id": tenant_id, "dataset_id": dataset_id, "after": after}])
