"""DELETE /api/v1/dataset/{dataset_id}: the dataset disappears now; its documents are purged
in the background by the purge function."""

from fastapi import APIRouter

from kb_ingest.domain import datasets
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.deps import Cleanup, Datasets, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.delete("/api/v1/dataset/{dataset_id}")
def delete_dataset(dataset_id: str, tenant_id: TenantId, store: Datasets, cleanup: Cleanup):
    return ok(message=datasets.delete_dataset(store, cleanup, tenant_id, dataset_id))


app = create_app(router)
handler = lambda_handler(app)
