"""The FastAPI app every function builds around its one route, and the Lambda entry point."""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mangum import Mangum
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from kb_ingest.domain.errors import DomainError, ErrorKind
from kb_ingest.http.envelope import CODE_OF_KIND, SERVER_ERROR, envelope, error_response
from kb_ingest.observability import logger, metrics, tracer


class _IgnoreTrailingSlash:
    """`/api/v1/dataset/` is the same route as `/api/v1/dataset`, answered directly (no redirect):
    API Gateway routes both to one function and keeps the slash in the event's path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        await self.app(scope, receive, send)


class _EnvelopeOnCrash:
    """Any unexpected exception becomes a code-500 envelope (never a stack trace, never HTTP 5xx),
    logged with its traceback and the request id a user can quote."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error")
            if started:
                raise
            request_id = (scope.get("aws.context") and getattr(scope["aws.context"], "aws_request_id", "")) or ""
            response = envelope(SERVER_ERROR, f"Internal error; the request id is {request_id or 'unknown'}.")
            await response(scope, receive, send)


async def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    return error_response(error)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem.get('loc', ()))}: {problem.get('msg', '')}"
        for problem in error.errors()
    )
    return envelope(CODE_OF_KIND[ErrorKind.ARGUMENT], f"Invalid request: {problems}")


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    if error.status_code in (404, 405):
        return envelope(100, f"{error.detail}: no route for {request.method} {request.url.path}.")
    # Anything else Starlette refuses (a malformed body it was asked to parse) is the client's argument.
    return envelope(CODE_OF_KIND[ErrorKind.ARGUMENT], f"Invalid request: {error.detail}")


def create_app(router: APIRouter) -> FastAPI:
    app = FastAPI(title="kb-ingest", openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False)
    app.router.redirect_slashes = False
    app.include_router(router)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(_EnvelopeOnCrash)
    app.add_middleware(_IgnoreTrailingSlash)
    return app


def lambda_handler(app: FastAPI) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Wrap the app for Lambda: Mangum once per container, Powertools around each invocation."""
    adapter = Mangum(app, lifespan="off")

    @logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="ApiRequests", unit=MetricUnit.Count, value=1)
        return adapter(event, context)

    return handler
