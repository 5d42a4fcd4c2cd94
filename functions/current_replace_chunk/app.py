"""Today's API: PUT /api/v1/datasets/{dataset_id}/documents/{document_id}/chunks/{chunk_id}
(RAGFlow's documented method; the same rules as PATCH): content, important_keywords, questions, tag_kwd,
available, positions. One item is written; the id stays."""

from fastapi import APIRouter, Request

from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.chunk_edits import update_chunk
from kb_ingest.http.deps import Chunks, Datasets, Documents, TenantId

router = APIRouter()


@router.put("/api/v1/datasets/{dataset_id}/documents/{document_id}/chunks/{chunk_id}")
async def put_chunk(
    dataset_id: str, document_id: str, chunk_id: str, request: Request, tenant_id: TenantId, datasets: Datasets,
    store: Documents, chunk_store: Chunks,
):  # fmt: skip
    return await update_chunk(request, tenant_id, dataset_id, document_id, chunk_id, datasets, store, chunk_store)


app = create_current_app(router)
handler = lambda_handler(app)
