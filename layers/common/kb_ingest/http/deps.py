"""FastAPI dependency aliases: what a route needs, created once per container, overridable in
tests. Each getter imports its storage module on first use, so a function loads only the
stores its route asks for (cold starts pay for nothing else)."""

from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends

from kb_ingest.http.auth import TenantId

if TYPE_CHECKING:
    from kb_ingest.dal.blobs import S3FileStore
    from kb_ingest.dal.chunks import DynamoChunkStore
    from kb_ingest.dal.deletion_jobs import S3DeletionJobs
    from kb_ingest.dal.events import EventBridgePublisher
    from kb_ingest.dal.queues import CleanupQueue, ParseQueue
    from kb_ingest.dal.runs import DynamoRunStore
    from kb_ingest.dal.search_feed import IndexRebuilds
    from kb_ingest.domain.datasets import DatasetStore
    from kb_ingest.domain.documents import DocumentStore


def get_datasets() -> "DatasetStore":
    from kb_ingest.dal.datasets import get_dataset_store

    return get_dataset_store()


def get_documents() -> "DocumentStore":
    from kb_ingest.dal.documents import get_document_store

    return get_document_store()


def get_chunks() -> "DynamoChunkStore":
    from kb_ingest.dal.chunks import get_chunk_store

    return get_chunk_store()


@lru_cache(maxsize=1)
def get_file_store() -> "S3FileStore":
    from kb_ingest.dal.blobs import S3FileStore

    return S3FileStore()


@lru_cache(maxsize=1)
def get_cleanup_queue() -> "CleanupQueue":
    from kb_ingest.dal.queues import CleanupQueue

    return CleanupQueue()


def get_run_store() -> "DynamoRunStore":
    from kb_ingest.dal.runs import get_run_store as run_store

    return run_store()


@lru_cache(maxsize=1)
def get_parse_queue() -> "ParseQueue":
    from kb_ingest.dal.queues import ParseQueue

    return ParseQueue()


@lru_cache(maxsize=1)
def get_deletion_jobs() -> "S3DeletionJobs":
    from kb_ingest.dal.deletion_jobs import S3DeletionJobs

    return S3DeletionJobs()


@lru_cache(maxsize=1)
def get_events() -> "EventBridgePublisher":
    from kb_ingest.dal.events import EventBridgePublisher

    return EventBridgePublisher()


def get_index_rebuilds() -> "IndexRebuilds":
    from kb_ingest.dal.search_feed import get_index_rebuilds as index_rebuilds

    return index_rebuilds()


if TYPE_CHECKING:
    Datasets = Annotated[DatasetStore, Depends(get_datasets)]
    Documents = Annotated[DocumentStore, Depends(get_documents)]
    Chunks = Annotated[DynamoChunkStore, Depends(get_chunks)]
    Files = Annotated[S3FileStore, Depends(get_file_store)]
    Cleanup = Annotated[CleanupQueue, Depends(get_cleanup_queue)]
    Runs = Annotated[DynamoRunStore, Depends(get_run_store)]
    ParseRequests = Annotated[ParseQueue, Depends(get_parse_queue)]
    Events = Annotated[EventBridgePublisher, Depends(get_events)]
    DeletionJobs = Annotated[S3DeletionJobs, Depends(get_deletion_jobs)]
    Rebuilds = Annotated[IndexRebuilds, Depends(get_index_rebuilds)]
else:  # the same aliases without importing the storage modules
    Datasets = Annotated[Any, Depends(get_datasets)]
    Documents = Annotated[Any, Depends(get_documents)]
    Chunks = Annotated[Any, Depends(get_chunks)]
    Files = Annotated[Any, Depends(get_file_store)]
    Cleanup = Annotated[Any, Depends(get_cleanup_queue)]
    Runs = Annotated[Any, Depends(get_run_store)]
    ParseRequests = Annotated[Any, Depends(get_parse_queue)]
    Events = Annotated[Any, Depends(get_events)]
    DeletionJobs = Annotated[Any, Depends(get_deletion_jobs)]
    Rebuilds = Annotated[Any, Depends(get_index_rebuilds)]

__all__ = [
    "Cleanup", "Datasets", "DeletionJobs", "Documents", "Events", "Files", "ParseRequests", "Runs", "TenantId",
]  # fmt: skip
