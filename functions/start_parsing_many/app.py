"""POST /api/v1/dataset/{dataset_id}/documents/status: start parsing the documents in `doc_ids`,
or every document of the dataset when it is null or empty (fanned out through the queue)."""

from fastapi import APIRouter, Request

from kb_ingest.domain import parse_runs
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.body import read_json_object
from kb_ingest.http.deps import Datasets, Documents, ParseRequests, Runs, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.post("/api/v1/dataset/{dataset_id}/documents/status")
async def start_parsing_many(
    dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents, runs: Runs,
    requests: ParseRequests,
):  # fmt: skip
    body = await read_json_object(request)
    dataset = datasets.get(tenant_id, dataset_id)
    message = parse_runs.start_parsing_many(store, runs, requests, dataset, dataset_id, body)
    return ok(True, message)


app = create_app(router)
handler = lambda_handler(app)
