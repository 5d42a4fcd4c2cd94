"""The one body of today's batch metadata change, served by two routes that differ only in
their unknown-dataset message: `POST /datasets/{id}/metadata/update` (with RAGFlow's trailing
space) and `PATCH /datasets/{id}/documents/metadatas` (without)."""

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from kb_ingest.domain.document_metadata import batch_update
from kb_ingest.domain.errors import DataError
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.current.requests import read_json


async def update_metadata(
    request: Request, tenant_id: str, dataset_id: str, datasets: Any, store: Any, unknown_dataset: str
) -> JSONResponse:
    dataset = datasets.get(tenant_id, dataset_id)
    if dataset is None:  # checked before the body is read, as RAGFlow does
        raise DataError(unknown_dataset)
    body = await read_json(request) if (await request.body()).strip() else {}
    return ok(batch_update(store, dataset, dataset_id, body, unknown_dataset))
