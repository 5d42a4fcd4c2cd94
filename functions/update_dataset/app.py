"""PUT /api/v1/dataset/{dataset_id}: rename or reconfigure a dataset."""

from fastapi import APIRouter, Request

from kb_ingest.domain import datasets
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.body import read_json_object
from kb_ingest.http.deps import Datasets, Rebuilds, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.put("/api/v1/dataset/{dataset_id}")
async def update_dataset(dataset_id: str, request: Request, tenant_id: TenantId, store: Datasets, rebuilds: Rebuilds):
    body = await read_json_object(request)
    return ok(datasets.update_dataset(store, tenant_id, dataset_id, body, rebuilds))


app = create_app(router)
handler = lambda_handler(app)
