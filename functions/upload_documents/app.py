"""POST /api/v1/dataset/{dataset_id}/documents: multipart upload, the `file` field repeated."""

from fastapi import APIRouter, Request

from kb_ingest.domain import documents
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.body import read_uploaded_files
from kb_ingest.http.deps import Datasets, Documents, Files, TenantId
from kb_ingest.http.envelope import ok
from kb_ingest.settings import get_settings

router = APIRouter()


@router.post("/api/v1/dataset/{dataset_id}/documents")
async def upload_documents(
    dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents, files: Files
):
    incoming = await read_uploaded_files(request)
    dataset = datasets.get(tenant_id, dataset_id) if incoming else None
    created = documents.upload_documents(store, files, dataset, incoming, get_settings().max_upload_bytes)
    return ok(created)


app = create_app(router)
handler = lambda_handler(app)
