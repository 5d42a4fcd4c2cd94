"""Today's API: DELETE /api/v1/datasets/{dataset_id}/chunks: stop parsing `document_ids` (ragflow-sdk's
cancel); each must be running."""

from fastapi import APIRouter, Request

from kb_ingest.domain import parse_batches
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.current.requests import read_json
from kb_ingest.http.deps import Datasets, Documents, Events, Runs, TenantId

router = APIRouter()


@router.delete("/api/v1/datasets/{dataset_id}/chunks")
async def stop_parsing(
    dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents, runs: Runs,
    events: Events,
):  # fmt: skip
    body = await read_json(request)
    dataset = datasets.get(tenant_id, dataset_id)
    outcome = parse_batches.stop_parsing_chunks(store, runs, events, dataset, dataset_id, body)
    return ok(outcome.data)


app = create_current_app(router)
handler = lambda_handler(app)
