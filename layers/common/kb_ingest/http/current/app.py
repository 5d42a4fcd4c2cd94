"""The app factory of today's API: the shared plumbing of `kb_ingest.http.app` (trailing
slashes, crash handling, Powertools), answering in this generation's envelope."""

from fastapi import APIRouter, FastAPI

from kb_ingest.http.app import create_app, lambda_handler
from kb_ingest.http.current.envelope import CURRENT


def create_current_app(router: APIRouter) -> FastAPI:
    return create_app(router, CURRENT)


__all__ = ["create_current_app", "lambda_handler"]
