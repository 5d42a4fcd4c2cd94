"""PUT /api/v1/dataset/{dataset_id}/documents/{document_id}: rename, enable/disable, parser."""

from fastapi import APIRouter, Request

from kb_ingest.domain import documents
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.body import read_json_object
from kb_ingest.http.deps import Datasets, Documents, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.put("/api/v1/dataset/{dataset_id}/documents/{document_id}")
async def update_document(
    dataset_id: str, document_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents
):
    body = await read_json_object(request)
    dataset = datasets.get(tenant_id, dataset_id) if body else None
    updated = documents.update_document(store, dataset, dataset_id, document_id, body)
    return ok(updated, "Success")


app = create_app(router)
handler = lambda_handler(app)
