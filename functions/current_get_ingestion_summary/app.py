"""Today's API: GET /api/v1/datasets/{dataset_id}/ingestions/summary: the dataset's counts and
how many documents are in each run state."""

from fastapi import APIRouter

from kb_ingest.domain.ingestions import ingestion_summary
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Datasets, Documents, TenantId

router = APIRouter()


@router.get("/api/v1/datasets/{dataset_id}/ingestions/summary")
def get_ingestion_summary(dataset_id: str, tenant_id: TenantId, datasets: Datasets, store: Documents):
    return ok(ingestion_summary(store, datasets.get(tenant_id, dataset_id), dataset_id, tenant_id))


app = create_current_app(router)
handler = lambda_handler(app)
