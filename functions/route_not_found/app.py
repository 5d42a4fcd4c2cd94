"""ANY /{proxy+}: every method or path no other route takes, answered in the envelope.

A path with one trailing slash (`/api/v1/dataset/`) is answered with a 308 to the same path
without it. API Gateway HTTP APIs refuse route keys that end in a slash, and whether they match
`/a/b/` to the `/a/b` route is observed, not documented; if a request ever lands here instead,
the redirect sends it (method, body and Authorization kept: 308) to the route it meant. The
Location is relative (`../b`), so it resolves against whatever URL the client used: a stage
prefix or a custom domain's base path stays in place.
"""

from typing import Any

from fastapi import APIRouter, Request

from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.envelope import envelope

router = APIRouter()


def slashless_location(raw_path: str, raw_query: str) -> str | None:
    """The relative reference from `/a/b/` to `/a/b` (query kept), or None when the path does not
    end in exactly one slash after a non-empty segment."""
    if not raw_path.endswith("/") or raw_path.endswith("//"):
        return None
    last = raw_path[:-1].rsplit("/", 1)[-1]
    if not last or last in (".", ".."):
        return None
    return f"../{last}" + (f"?{raw_query}" if raw_query else "")


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def route_not_found(request: Request):
    event: dict[str, Any] = request.scope.get("aws.event") or {}
    raw_path = str(event.get("rawPath") or request.url.path)
    location = slashless_location(raw_path, str(event.get("rawQueryString") or ""))
    if location is not None:
        target = raw_path[:-1]
        return envelope(
            100,
            f"Moved: {request.method} {raw_path} is served at {target} (follow the Location header).",
            headers={"Location": location},
            status_code=308,
        )
    return envelope(100, f"Not Found: no route for {request.method} {request.url.path}.")


app = create_app(router)
handler = lambda_handler(app)
