"""DELETE /api/v1/dataset/{dataset_id}/documents/{document_id}/status: stop a running parse; it
ends CANCEL and writes no chunks."""

from fastapi import APIRouter

from kb_ingest.domain import parse_runs
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.deps import Datasets, Documents, Events, Runs, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.delete("/api/v1/dataset/{dataset_id}/documents/{document_id}/status")
def stop_parsing(
    dataset_id: str, document_id: str, tenant_id: TenantId, datasets: Datasets, store: Documents, runs: Runs,
    events: Events,
):  # fmt: skip
    dataset = datasets.get(tenant_id, dataset_id)
    return ok(message=parse_runs.stop_parsing(store, runs, events, dataset, dataset_id, document_id))


app = create_app(router)
handler = lambda_handler(app)
