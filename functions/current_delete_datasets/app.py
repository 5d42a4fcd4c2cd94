"""Today's API: DELETE /api/v1/datasets with `{"ids": [...]}` or `{"delete_all": true}`: the
datasets disappear now; their documents and files are purged in the background."""

from fastapi import APIRouter, Request

from kb_ingest.domain import datasets
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.dataset_requests import DeleteDatasetsRequest
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.current.requests import read_json, validated
from kb_ingest.http.deps import Cleanup, Datasets, TenantId

router = APIRouter()


@router.delete("/api/v1/datasets")
async def delete_datasets(request: Request, tenant_id: TenantId, store: Datasets, cleanup: Cleanup):
    fields = validated(DeleteDatasetsRequest, await read_json(request))
    count = datasets.delete_datasets(store, cleanup, tenant_id, fields.ids, fields.delete_all)
    return ok({"success_count": count})


app = create_current_app(router)
handler = lambda_handler(app)
