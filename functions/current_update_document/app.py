"""Today's API: PATCH /api/v1/datasets/{dataset_id}/documents/{document_id}: change name,
chunk_method, parser_config, enabled or meta_fields."""

from fastapi import APIRouter, Request

from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.document_edits import update_document
from kb_ingest.http.deps import Datasets, Documents, Runs, TenantId

router = APIRouter()


@router.patch("/api/v1/datasets/{dataset_id}/documents/{document_id}")
async def patch_document(
    dataset_id: str, document_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents,
    runs: Runs,
):  # fmt: skip
    return await update_document(request, tenant_id, dataset_id, document_id, datasets, store, runs)


app = create_current_app(router)
handler = lambda_handler(app)
