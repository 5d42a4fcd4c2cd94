"""Today's API: POST /api/v1/datasets/{dataset_id}/documents/{document_id}/chunks: add a chunk
(content, important_keywords, questions, tag_kwd), counted on the document and dataset."""

from fastapi import APIRouter, Request

from kb_ingest.domain import chunks
from kb_ingest.http.current import views
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.chunk_edits import chunk_body, count_tokens
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Chunks, Datasets, Documents, TenantId

router = APIRouter()


@router.post("/api/v1/datasets/{dataset_id}/documents/{document_id}/chunks")
async def add_chunk(
    dataset_id: str, document_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents,
    chunk_store: Chunks,
):  # fmt: skip
    document = chunks.owned_document(datasets, store, tenant_id, dataset_id, document_id)
    body = await chunk_body(request)
    added = chunks.add_chunk(chunk_store, lambda: store.get(dataset_id, document_id), document, body, count_tokens)
    return ok({"chunk": views.chunk_view(added, document.name)})


app = create_current_app(router)
handler = lambda_handler(app)
