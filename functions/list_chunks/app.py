"""GET /api/v1/dataset/{dataset_id}/documents/{document_id}/chunks (beyond RAGFlow): a page of
the document's visible chunks, the same records the current API's chunk routes edit."""

from fastapi import APIRouter, Request

from kb_ingest.dal.chunks import get_chunk_store
from kb_ingest.domain import parse_runs
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.deps import Datasets, Documents, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.get("/api/v1/dataset/{dataset_id}/documents/{document_id}/chunks")
def list_chunks(
    dataset_id: str, document_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents
):
    dataset = datasets.get(tenant_id, dataset_id)
    page = parse_runs.chunk_page(store, get_chunk_store(), dataset, dataset_id, document_id, request.query_params)
    return ok(page)


app = create_app(router)
handler = lambda_handler(app)
