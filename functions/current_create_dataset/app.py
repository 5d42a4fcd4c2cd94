"""Today's API: POST /api/v1/datasets, create a dataset (a taken name gets a `(n)` suffix)
and answer the whole dataset."""

from fastapi import APIRouter, Request

from kb_ingest.domain import datasets
from kb_ingest.http.current import views
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.dataset_requests import CreateDatasetRequest
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.current.requests import read_json, validated
from kb_ingest.http.deps import Datasets, TenantId

router = APIRouter()


@router.post("/api/v1/datasets")
async def create_dataset(request: Request, tenant_id: TenantId, store: Datasets):
    fields = validated(CreateDatasetRequest, await read_json(request))
    settings = views.dataset_settings(fields.settings())
    dataset = datasets.add_dataset(store, tenant_id, fields.name, settings)
    return ok(views.dataset_view(dataset))


app = create_current_app(router)
handler = lambda_handler(app)
