"""Today's API: GET /api/v1/datasets/{dataset_id}, one of the tenant's datasets."""

from fastapi import APIRouter

from kb_ingest.domain import datasets
from kb_ingest.http.current import views
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Datasets, TenantId

router = APIRouter()


@router.get("/api/v1/datasets/{dataset_id}")
def get_dataset(dataset_id: str, tenant_id: TenantId, store: Datasets):
    dataset = datasets.owned_dataset(store, tenant_id, dataset_id)
    return ok({**views.dataset_view(dataset), "connectors": []})


app = create_current_app(router)
handler = lambda_handler(app)
