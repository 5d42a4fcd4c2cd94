"""Today's API: GET /api/v1/datasets/metadata/flattened?dataset_ids=a,b: for each metadata key
of the datasets' documents, each value and the documents holding it."""

from fastapi import APIRouter, Request

from kb_ingest.domain.document_metadata import flattened_metadata
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Datasets, Documents, TenantId

router = APIRouter()


@router.get("/api/v1/datasets/metadata/flattened")
def get_flattened_metadata(request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents):
    ids = request.query_params.get("dataset_ids")
    return ok(flattened_metadata(store, lambda dataset_id: datasets.get(tenant_id, dataset_id), ids))


app = create_current_app(router)
handler = lambda_handler(app)
