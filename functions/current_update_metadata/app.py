"""Today's API: POST /api/v1/datasets/{dataset_id}/metadata/update: change or delete metadata
keys of the documents a selector names (document_ids, narrowed by metadata_condition)."""

from fastapi import APIRouter, Request

from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.document_metadata import update_metadata
from kb_ingest.http.deps import Datasets, Documents, TenantId

router = APIRouter()


@router.post("/api/v1/datasets/{dataset_id}/metadata/update")
async def post_metadata_update(
    dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents
):  # fmt: skip
    return await update_metadata(
        request, tenant_id, dataset_id, datasets, store, f"You don't own the dataset {dataset_id}. "
    )


app = create_current_app(router)
handler = lambda_handler(app)
