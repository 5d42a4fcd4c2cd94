"""Today's API: GET /api/v1/datasets/{dataset_id}/documents/{document_id}/chunks: a page of the
document's chunks (page, page_size, keywords, available, id) with the document itself."""

from fastapi import APIRouter, Request

from kb_ingest.domain import chunks
from kb_ingest.http.current import views
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Chunks, Datasets, Documents, TenantId

router = APIRouter()


@router.get("/api/v1/datasets/{dataset_id}/documents/{document_id}/chunks")
def list_chunks(
    dataset_id: str, document_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents,
    chunk_store: Chunks,
):  # fmt: skip
    document = chunks.owned_document(datasets, store, tenant_id, dataset_id, document_id)
    page = chunks.list_chunks(chunk_store, document, request.query_params)
    return ok(
        {
            "total": page.total,
            "chunks": [views.chunk_view(chunk, document.name) for chunk in page.chunks],
            "doc": views.document_view(document),
        }
    )


app = create_current_app(router)
handler = lambda_handler(app)
