"""Today's API: PATCH /api/v1/datasets/{dataset_id}/documents/metadatas: the batch metadata
change of POST .../metadata/update under RAGFlow's newer route."""

from fastapi import APIRouter, Request

from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.document_metadata import update_metadata
from kb_ingest.http.deps import Datasets, Documents, TenantId

router = APIRouter()


@router.patch("/api/v1/datasets/{dataset_id}/documents/metadatas")
async def patch_documents_metadata(
    dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents
):  # fmt: skip
    return await update_metadata(
        request, tenant_id, dataset_id, datasets, store, f"You don't own the dataset {dataset_id}."
    )


app = create_current_app(router)
handler = lambda_handler(app)
