"""ANY /{proxy+}: every method or path no other route takes, answered in the envelope."""

from fastapi import APIRouter, Request

from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.envelope import envelope

router = APIRouter()


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def route_not_found(request: Request):
    return envelope(100, f"Not Found: no route for {request.method} {request.url.path}.")


app = create_app(router)
handler = lambda_handler(app)
