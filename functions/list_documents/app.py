"""GET /api/v1/dataset/{dataset_id}/documents: a page of documents, with the total."""

from fastapi import APIRouter, Request

from kb_ingest.domain import documents
from kb_ingest.domain.errors import DataError
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.deps import Datasets, Documents, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.get("/api/v1/dataset/{dataset_id}/documents")
def list_documents(dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents):
    dataset = datasets.get(tenant_id, dataset_id)
    if dataset is None:
        raise DataError(f"This dataset '{dataset_id}' cannot be found!")
    return ok(documents.list_documents(store, dataset, request.query_params))


app = create_app(router)
handler = lambda_handler(app)
