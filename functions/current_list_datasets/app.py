"""Today's API: GET /api/v1/datasets, one page of the tenant's datasets (filtered by id, ids or
name) and how many there are in all."""

from fastapi import APIRouter, Request

from kb_ingest.domain import datasets
from kb_ingest.http.current import views
from kb_ingest.http.current.app import create_current_app, lambda_handler
from kb_ingest.http.current.dataset_requests import ListDatasetsQuery
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.current.requests import validated_query
from kb_ingest.http.deps import Datasets, TenantId

router = APIRouter()


@router.get("/api/v1/datasets")
def list_datasets(request: Request, tenant_id: TenantId, store: Datasets):
    query = validated_query(ListDatasetsQuery, request)
    where = datasets.DatasetFilter(dataset_id=query.id, dataset_ids=query.ids, name=query.name)
    page, total = datasets.find_datasets(
        store, tenant_id, where, query.orderby, query.desc, query.page, query.page_size
    )
    return ok([views.dataset_view(dataset) for dataset in page], total=total)


app = create_current_app(router)
handler = lambda_handler(app)
