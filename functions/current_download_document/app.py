"""Today's API: GET /api/v1/datasets/{dataset_id}/documents/{document_id}: the file's exact
bytes as an attachment; files too big for a Lambda response redirect to a presigned URL."""

import mimetypes

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from kb_ingest.dal.blobs import content_disposition, object_key
from kb_ingest.domain import documents
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.deps import Datasets, Documents, Files, TenantId
from kb_ingest.settings import get_settings

router = APIRouter()


@router.get("/api/v1/datasets/{dataset_id}/documents/{document_id}")
def download_document(
    dataset_id: str, document_id: str, tenant_id: TenantId, datasets: Datasets, store: Documents, files: Files
):
    document = documents.document_file(store, datasets.get(tenant_id, dataset_id), tenant_id, document_id)
    settings = get_settings()
    if document.size > settings.max_inline_download_bytes:
        url = files.download_url(object_key(document), document.name, settings.presigned_download_seconds)
        return RedirectResponse(url, status_code=302)
    content, _ = files.read_object(object_key(document))
    media_type = mimetypes.guess_type(document.name)[0] or "application/octet-stream"
    return Response(content, media_type=media_type, headers={"Content-Disposition": content_disposition(document.name)})


app = create_current_app(router)
handler = lambda_handler(app)
