"""Today's API: POST /api/v1/datasets/{dataset_id}/documents, multipart `file` parts (repeat
the field for several files); answers the new documents, run `UNSTART`."""

from fastapi import APIRouter, Request

from kb_ingest.domain import documents
from kb_ingest.domain.errors import ArgumentError
from kb_ingest.http.body import read_uploaded_files
from kb_ingest.http.current import views
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Datasets, Documents, Files, TenantId
from kb_ingest.settings import get_settings

router = APIRouter()


@router.post("/api/v1/datasets/{dataset_id}/documents")
async def upload_documents(
    dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents, files: Files
):
    upload_type = (request.query_params.get("type") or "local").lower()
    dataset = datasets.get(tenant_id, dataset_id)
    if dataset is not None and upload_type != "local":
        if upload_type in ("web", "empty"):
            raise ArgumentError(f"`type` {upload_type} is not served here: upload the file itself.")
        raise ArgumentError('`type` must be one of "local", "web", or "empty".')
    incoming = await read_uploaded_files(request) if dataset is not None else []
    limit = get_settings().max_upload_bytes
    created = documents.upload_checked_files(store, files, dataset, dataset_id, incoming, limit)
    return ok([views.document_view(document) for document in created])


app = create_current_app(router)
handler = lambda_handler(app)
