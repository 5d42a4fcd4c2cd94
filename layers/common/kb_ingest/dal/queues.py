"""Messages to the background queues."""

import json

from kb_ingest.dal.clients import client
from kb_ingest.settings import get_settings


class SqsPurgeQueue:
    """Asks the purge function to remove a deleted dataset's documents and objects."""

    def request_purge(self, tenant_id: str, dataset_id: str) -> None:
        client("sqs").send_message(
            QueueUrl=get_settings().purge_queue_url,
            MessageBody=json.dumps({"tenant_id": tenant_id, "dataset_id": dataset_id}),
        )
