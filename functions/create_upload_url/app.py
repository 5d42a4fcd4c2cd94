"""POST /api/v1/dataset/{dataset_id}/documents/upload_url (beyond RAGFlow): a presigned upload
straight to S3 for files larger than API Gateway and Lambda can carry."""

from fastapi import APIRouter, Request

from kb_ingest.domain import uploads
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.body import read_json_object
from kb_ingest.http.deps import Cleanup, Datasets, Documents, Files, TenantId
from kb_ingest.http.envelope import ok
from kb_ingest.settings import get_settings

router = APIRouter()


@router.post("/api/v1/dataset/{dataset_id}/documents/upload_url")
async def create_upload_url(
    dataset_id: str,
    request: Request,
    tenant_id: TenantId,
    datasets: Datasets,
    store: Documents,
    files: Files,
    cleanup: Cleanup,
):
    body = await read_json_object(request)
    settings = get_settings()
    limits = uploads.UploadLimits(
        settings.max_presigned_upload_bytes, settings.presigned_upload_seconds, settings.upload_expiry_grace_seconds
    )
    dataset = datasets.get(tenant_id, dataset_id)
    return ok(uploads.request_upload(store, files, cleanup, dataset, body, limits))


app = create_app(router)
handler = lambda_handler(app)
