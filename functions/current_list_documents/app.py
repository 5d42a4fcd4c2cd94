"""Today's API: GET /api/v1/datasets/{dataset_id}/documents: a page of documents
(page, page_size, orderby, desc, keywords, id, ids, name, suffix, types, run, metadata,
create_time_from/to) and `total`."""

from fastapi import APIRouter, Request

from kb_ingest.domain import listing
from kb_ingest.http.current import views
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Datasets, Documents, TenantId

router = APIRouter()


@router.get("/api/v1/datasets/{dataset_id}/documents")
def list_documents(dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents):
    dataset = datasets.get(tenant_id, dataset_id)
    page = listing.list_documents(store, dataset, dataset_id, request.query_params)
    return ok({"total": page.total, "docs": [views.document_view(document) for document in page.documents]})


app = create_current_app(router)
handler = lambda_handler(app)
