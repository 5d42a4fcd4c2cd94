"""DELETE /api/v1/dataset/{dataset_id}/documents/status: stop the documents in `doc_ids`, or
every running document of the dataset when it is null or empty."""

from fastapi import APIRouter, Request

from kb_ingest.domain import parse_runs
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.body import read_json_object
from kb_ingest.http.deps import Datasets, Documents, Events, Runs, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.delete("/api/v1/dataset/{dataset_id}/documents/status")
async def stop_parsing_many(
    dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents, runs: Runs,
    events: Events,
):  # fmt: skip
    body = await read_json_object(request)
    dataset = datasets.get(tenant_id, dataset_id)
    return ok(True, parse_runs.stop_parsing_many(store, runs, events, dataset, dataset_id, body))


app = create_app(router)
handler = lambda_handler(app)
