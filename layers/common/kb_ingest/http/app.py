"""The FastAPI app every function builds around its one route, and the Lambda entry point.

The plumbing (trailing slashes, crash handling, Powertools) is the same for both API
generations; what differs is how each answers errors, which a `Generation` supplies: the seed's
is below (its envelope module holds its error map), today's is `kb_ingest.http.current.envelope`.
"""

from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Generation:
    """How one API generation answers what goes wrong, each in its own envelope."""

    domain_error: Callable[[DomainError], JSONResponse]
    invalid_request: Callable[[str], JSONResponse]  # parameters FastAPI could not read
    no_route: Callable[[str, str, str], JSONResponse]  # (method, path, detail)
    crash: Callable[[str], JSONResponse]  # the message quoting the request id


class _EnvelopeOnCrash:
    """Any unexpected exception becomes an envelope (never a stack trace, never HTTP 5xx),
    logged with its traceback and the request id a user can quote."""

    def __init__(self, app: ASGIApp, crash: Callable[[str], JSONResponse]) -> None:
        self.app = app
        self.crash = crash

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
            response = self.crash(f"Internal error; the request id is {request_id or 'unknown'}.")
            await response(scope, receive, send)


SEED = Generation(
    domain_error=error_response,
    invalid_request=lambda message: envelope(CODE_OF_KIND[ErrorKind.ARGUMENT], message),
    no_route=lambda method, path, detail: envelope(100, f"{detail}: no route for {method} {path}."),
    crash=lambda message: envelope(SERVER_ERROR, message),
)


def create_app(router: APIRouter, generation: Generation = SEED) -> FastAPI:
    async def domain_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, DomainError)
        return generation.domain_error(error)

    async def validation_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem.get('loc', ()))}: {problem.get('msg', '')}"
            for problem in error.errors()
        )
        return generation.invalid_request(f"Invalid request: {problems}")

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        return generation.no_route(request.method, request.url.path, str(error.detail))

    app = FastAPI(title="kb-ingest", openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False)
    app.router.redirect_slashes = False
    app.include_router(router)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_middleware(_EnvelopeOnCrash, crash=generation.crash)
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
