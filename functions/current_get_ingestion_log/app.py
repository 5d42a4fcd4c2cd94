"""Today's API: GET /api/v1/datasets/{dataset_id}/ingestions/{log_id}: one ingestion log (one
ended parse run of a document)."""

from fastapi import APIRouter

from kb_ingest.domain.ingestions import get_log
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Datasets, Documents, TenantId

router = APIRouter()


@router.get("/api/v1/datasets/{dataset_id}/ingestions/{log_id}")
def get_ingestion_log(dataset_id: str, log_id: str, tenant_id: TenantId, datasets: Datasets, store: Documents):
    return ok(get_log(store, datasets.get(tenant_id, dataset_id), log_id))


app = create_current_app(router)
handler = lambda_handler(app)
