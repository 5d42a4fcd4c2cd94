"""GET /api/v1/dataset/{dataset_id}/documents/{document_id}/history (beyond RAGFlow): the
document's last parse runs (when, run id, outcome, error class and message) and its retries."""

from fastapi import APIRouter

from kb_ingest.domain import parse_runs
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.deps import Datasets, Documents, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.get("/api/v1/dataset/{dataset_id}/documents/{document_id}/history")
def get_parse_history(dataset_id: str, document_id: str, tenant_id: TenantId, datasets: Datasets, store: Documents):
    dataset = datasets.get(tenant_id, dataset_id)
    return ok(parse_runs.parse_history(store, dataset, dataset_id, document_id))


app = create_app(router)
handler = lambda_handler(app)
