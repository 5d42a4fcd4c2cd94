"""FastAPI dependency aliases: what a route needs, created once per container, overridable in tests."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from kb_ingest.dal.blobs import S3FileStore
from kb_ingest.dal.datasets import get_dataset_store
from kb_ingest.dal.documents import get_document_store
from kb_ingest.dal.events import EventBridgePublisher
from kb_ingest.dal.queues import CleanupQueue, ParseQueue
from kb_ingest.dal.runs import DynamoRunStore
from kb_ingest.domain.datasets import DatasetStore
from kb_ingest.domain.documents import DocumentStore
from kb_ingest.http.auth import TenantId


@lru_cache(maxsize=1)
def get_cleanup_queue() -> CleanupQueue:
    return CleanupQueue()


@lru_cache(maxsize=1)
def get_file_store() -> S3FileStore:
    return S3FileStore()


@lru_cache(maxsize=1)
def get_run_store() -> DynamoRunStore:
    return DynamoRunStore()


@lru_cache(maxsize=1)
def get_parse_queue() -> ParseQueue:
    return ParseQueue()


@lru_cache(maxsize=1)
def get_events() -> EventBridgePublisher:
    return EventBridgePublisher()


Datasets = Annotated[DatasetStore, Depends(get_dataset_store)]
Documents = Annotated[DocumentStore, Depends(get_document_store)]
Files = Annotated[S3FileStore, Depends(get_file_store)]
Cleanup = Annotated[CleanupQueue, Depends(get_cleanup_queue)]
Runs = Annotated[DynamoRunStore, Depends(get_run_store)]
ParseRequests = Annotated[ParseQueue, Depends(get_parse_queue)]
Events = Annotated[EventBridgePublisher, Depends(get_events)]

__all__ = ["Cleanup", "Datasets", "Documents", "Events", "Files", "ParseRequests", "Runs", "TenantId"]
