"""Today's API: GET /api/v1/datasets/{dataset_id}/documents/{document_id}/chunks/{chunk_id}:
one chunk, with RAGFlow's stored field names (doc_id, content_with_weight, ...) too."""

from fastapi import APIRouter

from kb_ingest.domain import chunks
from kb_ingest.http.current import views
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Chunks, Datasets, Documents, TenantId

router = APIRouter()


@router.get("/api/v1/datasets/{dataset_id}/documents/{document_id}/chunks/{chunk_id}")
def get_chunk(
    dataset_id: str, document_id: str, chunk_id: str, tenant_id: TenantId, datasets: Datasets, store: Documents,
    chunk_store: Chunks,
):  # fmt: skip
    document = chunks.owned_document(datasets, store, tenant_id, dataset_id, document_id)
    chunk = chunks.get_chunk(chunk_store, document, chunk_id)
    return ok(views.chunk_record_view(chunk, document.name))


app = create_current_app(router)
handler = lambda_handler(app)
