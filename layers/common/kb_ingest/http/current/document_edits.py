"""The one body of today's document update, served by two routes: `PATCH` (RAGFlow's route)
and `PUT` (the one RAGFlow keeps for older clients)."""

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from kb_ingest.domain.document_changes import edit_document
from kb_ingest.domain.errors import DataError
from kb_ingest.domain.parser_config import parser_config_for
from kb_ingest.http.current import views
from kb_ingest.http.current.document_requests import document_edit
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.current.requests import read_json


async def update_document(
    request: Request, tenant_id: str, dataset_id: str, document_id: str, datasets: Any, store: Any, runs: Any
) -> JSONResponse:
    body = await read_json(request)
    if "name" in body and body["name"] is None:
        # An explicit null name is a type error, not an unset field (checked first, as RAGFlow does).
        raise DataError("Field: <name> - Message: <Input should be a valid string> - Value: <None>")
    dataset = datasets.get(tenant_id, dataset_id)
    document = edit_document(
        store, runs, dataset, dataset_id, document_id, lambda: document_edit(body), lambda m: parser_config_for(m, None)
    )
    return ok(views.document_view(document))
