"""Today's API: POST /api/v1/datasets/{dataset_id}/chunks: start parsing `document_ids` (what ragflow-sdk's parse_documents sends);
a document being parsed refuses the request."""

from fastapi import APIRouter, Request

from kb_ingest.domain import parse_batches
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.current.requests import read_json
from kb_ingest.http.deps import Datasets, Documents, ParseRequests, Runs, TenantId

router = APIRouter()


@router.post("/api/v1/datasets/{dataset_id}/chunks")
async def start_parsing(
    dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents, runs: Runs,
    requests: ParseRequests,
):  # fmt: skip
    body = await read_json(request)
    dataset = datasets.get(tenant_id, dataset_id)
    outcome = parse_batches.start_parsing_chunks(store, runs, requests, dataset, dataset_id, body)
    return ok(outcome.data)


app = create_current_app(router)
handler = lambda_handler(app)
