"""Today's API: GET /api/v1/datasets/{dataset_id}/metadata/summary: each metadata key of the
dataset's documents (or of `doc_ids`), its type and how many documents hold each value."""

from fastapi import APIRouter, Request

from kb_ingest.domain.document_metadata import metadata_summary
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Datasets, Documents, TenantId

router = APIRouter()


@router.get("/api/v1/datasets/{dataset_id}/metadata/summary")
def get_metadata_summary(dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents):
    dataset = datasets.get(tenant_id, dataset_id)
    return ok(metadata_summary(store, dataset, dataset_id, request.query_params.get("doc_ids")))


app = create_current_app(router)
handler = lambda_handler(app)
