"""POST /api/v1/dataset/{dataset_id}/documents/{document_id}/status: start parsing one document
(answers at once; the parse function does the work)."""

from fastapi import APIRouter

from kb_ingest.domain import parse_runs
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.deps import Datasets, Documents, ParseRequests, Runs, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.post("/api/v1/dataset/{dataset_id}/documents/{document_id}/status")
def start_parsing(
    dataset_id: str, document_id: str, tenant_id: TenantId, datasets: Datasets, store: Documents, runs: Runs,
    requests: ParseRequests,
):  # fmt: skip
    dataset = datasets.get(tenant_id, dataset_id)
    return ok(message=parse_runs.start_parsing(store, runs, requests, dataset, dataset_id, document_id))


app = create_app(router)
handler = lambda_handler(app)
