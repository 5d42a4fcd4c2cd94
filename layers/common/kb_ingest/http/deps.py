"""FastAPI dependency aliases: what a route needs, created once per container, overridable in tests."""

from typing import Annotated

from fastapi import Depends

from kb_ingest.dal.datasets import get_dataset_store
from kb_ingest.dal.queues import SqsPurgeQueue
from kb_ingest.domain.datasets import DatasetStore, PurgeQueue
from kb_ingest.http.auth import TenantId


def get_purge_queue() -> PurgeQueue:
    return SqsPurgeQueue()


Datasets = Annotated[DatasetStore, Depends(get_dataset_store)]
Purges = Annotated[PurgeQueue, Depends(get_purge_queue)]

__all__ = ["Datasets", "Purges", "TenantId"]
