"""Today's API: GET /api/v1/datasets/{dataset_id}/ingestions: a page of the dataset's ingestion
logs (`log_type=file`: each ended parse run of a document; `dataset`: none here)."""

from fastapi import APIRouter, Request

from kb_ingest.domain.ingestions import list_logs
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Datasets, Documents, TenantId

router = APIRouter()


@router.get("/api/v1/datasets/{dataset_id}/ingestions")
def list_ingestion_logs(dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents):
    return ok(list_logs(store, datasets.get(tenant_id, dataset_id), request.query_params))


app = create_current_app(router)
handler = lambda_handler(app)
