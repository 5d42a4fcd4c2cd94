"""GET /api/v1/dataset/{dataset_id}: one dataset of the tenant."""

from fastapi import APIRouter

from kb_ingest.domain import datasets
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.deps import Datasets, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.get("/api/v1/dataset/{dataset_id}")
def get_dataset(dataset_id: str, tenant_id: TenantId, store: Datasets):
    return ok(datasets.get_dataset(store, tenant_id, dataset_id))


app = create_app(router)
handler = lambda_handler(app)
