"""FastAPI dependency aliases: what a route needs, created once per container, overridable in tests."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from kb_ingest.dal.blobs import S3FileStore
from kb_ingest.dal.datasets import get_dataset_store
from kb_ingest.dal.documents import get_document_store
from kb_ingest.dal.queues import CleanupQueue
from kb_ingest.domain.datasets import DatasetStore
from kb_ingest.domain.documents import DocumentStore
from kb_ingest.http.auth import TenantId


@lru_cache(maxsize=1)
def get_cleanup_queue() -> CleanupQueue:
    return CleanupQueue()


@lru_cache(maxsize=1)
def get_file_store() -> S3FileStore:
    return S3FileStore()


Datasets = Annotated[DatasetStore, Depends(get_dataset_store)]
Documents = Annotated[DocumentStore, Depends(get_document_store)]
Files = Annotated[S3FileStore, Depends(get_file_store)]
Cleanup = Annotated[CleanupQueue, Depends(get_cleanup_queue)]

__all__ = ["Cleanup", "Datasets", "Documents", "Files", "TenantId"]
