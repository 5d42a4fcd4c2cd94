"""What the scheduled reparse reads: datasets across tenants a page at a time, documents of a
dataset, current ETags, and the cursor that lets each run resume where the last one stopped.

A paginated Scan of the datasets table: this runs on a schedule, never on a request path, and
only ever holds one page.
"""

import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from kb_ingest.dal.blobs import object_key
from kb_ingest.dal.clients import client
from kb_ingest.dal.datasets import get_dataset_store
from kb_ingest.dal.datasets import to_domain as dataset_from_item
from kb_ingest.dal.documents import get_document_store
from kb_ingest.dal.models import DatasetModel
from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.documents import Document
from kb_ingest.domain.reparse import SweepCursor
from kb_ingest.settings import get_settings

CURSOR_KEY = "state/reparse-cursor.json"
_DATASETS_PER_PAGE = 25


class DynamoSweepSource:
    def datasets_after(self, key: dict[str, Any] | None) -> Iterator[tuple[Dataset, dict[str, Any]]]:
        while True:
            page = DatasetModel.scan(limit=_DATASETS_PER_PAGE, last_evaluated_key=key)
            items = list(page)
            for item in items:
                yield dataset_from_item(item), {"tenant_id": {"S": item.tenant_id}, "id": {"S": item.id}}
            key = page.last_evaluated_key
            if not key:
                return

    def find_dataset(self, tenant_id: str, dataset_id: str) -> Dataset | None:
        return get_dataset_store().get(tenant_id, dataset_id)

    def documents_after(self, dataset_id: str, after: str | None, limit: int) -> tuple[list[Document], str | None]:
        return get_document_store().page_after(dataset_id, after, limit)

    def current_etag(self, document: Document) -> str | None:
        try:
            head = client("s3").head_object(Bucket=get_settings().documents_bucket, Key=object_key(document))
        except client("s3").exceptions.ClientError:
            return None
        return str(head.get("ETag")) if head.get("ETag") else None


def load_cursor() -> SweepCursor:
    try:
        body = client("s3").get_object(Bucket=get_settings().documents_bucket, Key=CURSOR_KEY)["Body"].read()
    except client("s3").exceptions.NoSuchKey:
        return SweepCursor()
    return SweepCursor(**json.loads(body))


def save_cursor(cursor: SweepCursor) -> None:
    client("s3").put_object(
        Bucket=get_settings().documents_bucket, Key=CURSOR_KEY, Body=json.dumps(asdict(cursor)).encode()
    )
