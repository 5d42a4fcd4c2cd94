"""RAGFlow's response envelope, and the one place where domain errors become RAGFlow codes."""

from typing import Any

from fastapi.responses import JSONResponse

from kb_ingest.domain.errors import DomainError, ErrorKind

SUCCESS = 0
SERVER_ERROR = 500
CODE_OF_KIND = {
    ErrorKind.EXCEPTION: 100,
    ErrorKind.ARGUMENT: 101,
    ErrorKind.DATA: 102,
    ErrorKind.OPERATING: 103,
    ErrorKind.AUTHENTICATION: 109,
}
_NO_DATA = object()


def envelope(
    code: int,
    message: str,
    data: Any = _NO_DATA,
    headers: dict[str, str] | None = None,
    status_code: int = 200,
) -> JSONResponse:
    """`{"code", "message"[, "data"]}` with HTTP 200, as RAGFlow answers everything (a redirect
    carries the envelope too, for clients that do not follow it)."""
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not _NO_DATA:
        body["data"] = data
    return JSONResponse(body, status_code=status_code, headers=headers)


def ok(data: Any = _NO_DATA, message: str = "success") -> JSONResponse:
    return envelope(SUCCESS, message, data)


def error_response(error: DomainError) -> JSONResponse:
    if error.data is None:
        return envelope(CODE_OF_KIND[error.kind], error.message)
    return envelope(CODE_OF_KIND[error.kind], error.message, error.data)
