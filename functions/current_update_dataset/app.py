"""Today's API: PUT /api/v1/datasets/{dataset_id}, change the fields sent and answer the
whole dataset."""

from fastapi import APIRouter, Request

from kb_ingest.domain import datasets
from kb_ingest.http.current import views
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.dataset_requests import UpdateDatasetRequest
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.current.requests import read_json, validated
from kb_ingest.http.deps import Datasets, Rebuilds, TenantId

router = APIRouter()


@router.put("/api/v1/datasets/{dataset_id}")
async def update_dataset(dataset_id: str, request: Request, tenant_id: TenantId, store: Datasets, rebuilds: Rebuilds):
    fields = validated(UpdateDatasetRequest, {**await read_json(request), "dataset_id": dataset_id})
    changes = views.dataset_settings(fields.changes())
    dataset = datasets.change_dataset(store, tenant_id, fields.dataset_id, changes, rebuilds)
    return ok({**views.dataset_view(dataset), "connectors": fields.connectors})


app = create_current_app(router)
handler = lambda_handler(app)
