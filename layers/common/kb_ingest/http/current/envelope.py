"""Today's RAGFlow envelope, and THE one place mapping domain errors to its codes and statuses.

Success: `{"code": 0, "data": ...}` (plus `"total_datasets"` on a list page, as RAGFlow's
`get_result` names it), no message. Failure: `{"code": N, "message": ...}` with HTTP 200,
except a missing or bad key (HTTP 401, RAGFlow's fixed body) and an unknown route (HTTP 404).
"""

from typing import Any

from fastapi.responses import JSONResponse

from kb_ingest.domain.errors import DomainError, ErrorKind
from kb_ingest.http.app import Generation

SUCCESS = 0
EXCEPTION_ERROR = 100
ARGUMENT_ERROR = 101
DATA_ERROR = 102
OPERATING_ERROR = 103
UNAUTHORIZED = 401
NOT_FOUND = 404

CODE_OF_KIND = {
    ErrorKind.EXCEPTION: EXCEPTION_ERROR,
    ErrorKind.ARGUMENT: ARGUMENT_ERROR,
    ErrorKind.DATA: DATA_ERROR,
    ErrorKind.OPERATING: OPERATING_ERROR,
    ErrorKind.AUTHENTICATION: UNAUTHORIZED,
    ErrorKind.REFUSED: 500,  # input the server will not take (RAGFlow's server-error code)
}
# What RAGFlow answers for any authentication failure, whatever the reason (the repr of the
# exception its login check raises); its suites compare it verbatim.
UNAUTHORIZED_MESSAGE = "<Unauthorized '401: Unauthorized'>"
_NO_DATA = object()


def ok(data: Any = _NO_DATA, *, total: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": SUCCESS}
    if data is not _NO_DATA and data is not None:
        body["data"] = data
    if total is not None:
        body["total_datasets"] = total
    return JSONResponse(body)


def failure(code: int, message: str, data: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message or "Error"}
    if data is not None:
        body["data"] = data  # details some errors carry (e.g. a stop's `error_code`)
    return JSONResponse(body)


def error_response(error: DomainError) -> JSONResponse:
    if error.kind is ErrorKind.AUTHENTICATION:
        return unauthorized()
    return failure(CODE_OF_KIND[error.kind], error.message, error.data)


def unauthorized() -> JSONResponse:
    return JSONResponse({"code": UNAUTHORIZED, "message": UNAUTHORIZED_MESSAGE, "data": None}, status_code=401)


def not_found(path: str) -> JSONResponse:
    body = {"code": NOT_FOUND, "message": f"Not Found: {path}", "data": None, "error": "Not Found"}
    return JSONResponse(body, status_code=404)


CURRENT = Generation(
    domain_error=error_response,
    invalid_request=lambda message: failure(ARGUMENT_ERROR, message),
    no_route=lambda _method, path, _detail: not_found(path),
    crash=lambda message: failure(EXCEPTION_ERROR, message),
)
