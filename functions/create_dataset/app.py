"""POST /api/v1/dataset: create a dataset (a taken name gets a `(n)` suffix)."""

from fastapi import APIRouter, Request

from kb_ingest.domain import datasets
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.body import read_json_object
from kb_ingest.http.deps import Datasets, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.post("/api/v1/dataset")
async def create_dataset(request: Request, tenant_id: TenantId, store: Datasets):
    body = await read_json_object(request)
    return ok(datasets.create_dataset(store, tenant_id, body))


app = create_app(router)
handler = lambda_handler(app)
