"""Today's API: DELETE /api/v1/datasets/{dataset_id}/documents/{document_id}/chunks: the chunks
named in `chunk_ids`, or every chunk with `delete_all`, taken off the document's counts."""

from fastapi import APIRouter, Request

from kb_ingest.domain import chunks
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.chunk_edits import chunk_body
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Chunks, Datasets, Documents, TenantId

router = APIRouter()


@router.delete("/api/v1/datasets/{dataset_id}/documents/{document_id}/chunks")
async def delete_chunks(
    dataset_id: str, document_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents,
    chunk_store: Chunks,
):  # fmt: skip
    document = chunks.owned_document(datasets, store, tenant_id, dataset_id, document_id)
    outcome = chunks.delete_chunks(chunk_store, document, await chunk_body(request))
    if outcome.errors:
        return ok({"success_count": outcome.deleted, "errors": outcome.errors})
    return ok()


app = create_current_app(router)
handler = lambda_handler(app)
