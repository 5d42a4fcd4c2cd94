"""ANY /{proxy+}: every method or path no other route takes, answered in its generation's
envelope: HTTP 404 with RAGFlow's body under today's API, the seed's code 100 elsewhere.

A path of today's API with an empty segment (`/datasets//documents`, an empty id) is answered
as RAGFlow's server does, which merges the slashes: a GET is redirected to the merged path,
another method answers RAGFlow's Method Not Allowed."""

import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.current.envelope import method_not_allowed, not_found
from kb_ingest.http.current.routes import is_current_path
from kb_ingest.http.envelope import envelope

router = APIRouter()


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def route_not_found(request: Request):
    path = request.url.path
    if is_current_path(path) and "//" in path.rstrip("/"):
        if request.method == "GET":
            merged = re.sub("/{2,}", "/", path)
            return RedirectResponse(merged + (f"?{request.url.query}" if request.url.query else ""), status_code=308)
        return method_not_allowed()
    if is_current_path(path):
        return not_found(path)
    return envelope(100, f"Not Found: no route for {request.method} {request.url.path}.")


app = create_app(router)
handler = lambda_handler(app)
