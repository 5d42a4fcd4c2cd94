"""DELETE /api/v1/dataset/{dataset_id}/documents/{document_id}: the record, its file and its
parse output go, and the dataset's counts drop."""

from fastapi import APIRouter

from kb_ingest.domain import documents
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.deps import Documents, Files, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.delete("/api/v1/dataset/{dataset_id}/documents/{document_id}")
def delete_document(dataset_id: str, document_id: str, tenant_id: TenantId, store: Documents, files: Files):
    return ok(documents.delete_document(store, files, tenant_id, dataset_id, document_id))


app = create_app(router)
handler = lambda_handler(app)
