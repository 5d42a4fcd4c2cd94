"""Today's API: PUT /api/v1/datasets/{dataset_id}/documents/{document_id}, the route RAGFlow
keeps for older clients: the same rules as PATCH (name, chunk_method, parser_config, enabled,
meta_fields)."""

from fastapi import APIRouter, Request

from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.document_edits import update_document
from kb_ingest.http.deps import Datasets, Documents, Runs, TenantId

router = APIRouter()


@router.put("/api/v1/datasets/{dataset_id}/documents/{document_id}")
async def put_document(
    dataset_id: str, document_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents,
    runs: Runs,
):  # fmt: skip
    return await update_document(request, tenant_id, dataset_id, document_id, datasets, store, runs)


app = create_current_app(router)
handler = lambda_handler(app)
