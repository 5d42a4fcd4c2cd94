"""GET /api/v1/dataset: one page of the tenant's datasets in the order asked for."""

from fastapi import APIRouter, Request

from kb_ingest.domain import datasets
from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.deps import Datasets, TenantId
from kb_ingest.http.envelope import ok

router = APIRouter()


@router.get("/api/v1/dataset")
def list_datasets(request: Request, tenant_id: TenantId, store: Datasets):
    page = datasets.list_datasets(store, tenant_id, request.query_params)
    return ok(page, "List datasets successfully!")


app = create_app(router)
handler = lambda_handler(app)
