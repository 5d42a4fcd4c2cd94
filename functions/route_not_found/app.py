"""ANY /{proxy+}: every method or path no other route takes, answered in its generation's
envelope: HTTP 404 with RAGFlow's body under today's API, the seed's code 100 elsewhere."""

from fastapi import APIRouter, Request

from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.current.envelope import not_found
from kb_ingest.http.current.routes import is_current_path
from kb_ingest.http.envelope import envelope

router = APIRouter()


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def route_not_found(request: Request):
    if is_current_path(request.url.path):
        return not_found(request.url.path)
    return envelope(100, f"Not Found: no route for {request.method} {request.url.path}.")


app = create_app(router)
handler = lambda_handler(app)
