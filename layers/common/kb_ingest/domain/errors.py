"""Domain errors: what went wrong, in the contract's words, and which kind of failure it is.

The kind maps to a RAGFlow code in exactly one place (kb_ingest.http.envelope); the same
situation can be a different kind on different routes (an unknown dataset is a data error on
GET and an operating error on DELETE), so each domain function picks the kind the contract
gives for its route.
"""

from enum import Enum
from typing import Any


class ErrorKind(Enum):
    EXCEPTION = "exception"
    ARGUMENT = "argument"
    DATA = "data"
    OPERATING = "operating"
    AUTHENTICATION = "authentication"
    REFUSED = "refused"  # the server would not take the input (RAGFlow answers code 500)


class DomainError(Exception):
    kind: ErrorKind = ErrorKind.DATA

    def __init__(self, message: str, *, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class ArgumentError(DomainError):
    kind = ErrorKind.ARGUMENT


class DataError(DomainError):
    kind = ErrorKind.DATA


class OperatingError(DomainError):
    kind = ErrorKind.OPERATING


class AuthenticationError(DomainError):
    kind = ErrorKind.AUTHENTICATION


class RangeError(DomainError):
    """RAGFlow answers an out-of-range offset with code 100 and a Python exception repr."""

    kind = ErrorKind.EXCEPTION


class UploadRefused(DomainError):
    """Files the server does not take (an unsupported type): RAGFlow's current API answers
    these with its server-error code."""

    kind = ErrorKind.REFUSED
