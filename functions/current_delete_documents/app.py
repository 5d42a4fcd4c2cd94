"""Today's API: DELETE /api/v1/datasets/{dataset_id}/documents with `{"ids": [...]}` or
`{"delete_all": true}`: answers at once; beyond the first thousand documents the cleanup
function finishes the deletion in the background."""

from fastapi import APIRouter, Request

from kb_ingest.domain import document_deletion
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.document_requests import DeleteDocumentsRequest
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.current.requests import read_json, validated
from kb_ingest.http.deps import Datasets, DeletionJobs, Documents, Files, TenantId

router = APIRouter()


@router.delete("/api/v1/datasets/{dataset_id}/documents")
async def delete_documents(
    dataset_id: str, request: Request, tenant_id: TenantId, datasets: Datasets, store: Documents, files: Files,
    jobs: DeletionJobs,
):  # fmt: skip
    fields = validated(DeleteDocumentsRequest, await read_json(request))
    dataset = datasets.get(tenant_id, dataset_id)
    deleted = document_deletion.delete_documents(store, files, jobs, dataset, dataset_id, fields.ids, fields.delete_all)
    return ok({"deleted": deleted})


app = create_current_app(router)
handler = lambda_handler(app)
