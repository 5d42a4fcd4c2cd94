"""Reading request bodies with clear answers for everything a client can get wrong."""

import json
import math
from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from kb_ingest.domain.documents import IncomingFile
from kb_ingest.domain.errors import ArgumentError
from kb_ingest.settings import get_settings


async def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is an empty object."""
    limit = get_settings().max_json_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ArgumentError(f"Request body is {int(declared)} bytes; this route accepts at most {limit} bytes of JSON.")
    raw = await request.body()
    if len(raw) > limit:
        raise ArgumentError(f"Request body is {len(raw)} bytes; this route accepts at most {limit} bytes of JSON.")
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError) as error:  # ValueError: bad JSON, ints over 4,300 digits
        raise ArgumentError(f"Request body is not valid JSON: {error}.") from None
    except RecursionError:
        raise ArgumentError(f"Request body nests deeper than {MAX_JSON_DEPTH} levels.") from None
    if not isinstance(parsed, dict):
        raise ArgumentError(f"Request body must be a JSON object, not {_json_type(parsed)}.")
    _check_values(parsed)
    return parsed


# Deeper bodies are refused before anything walks them recursively (validation, DynamoDB
# attributes, the answer's own encoding); no field of any route nests more than a few levels.
MAX_JSON_DEPTH = 32


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


def _check_values(body: dict[str, Any]) -> None:
    """Every value can be stored and echoed back: no nesting beyond MAX_JSON_DEPTH and no lone
    surrogates (`"\\ud800"` is valid JSON but no valid text; UTF-8 cannot encode it)."""
    pending: list[tuple[Any, int, str]] = [(body, 1, "")]
    while pending:
        value, depth, where = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ArgumentError(f"Request body nests deeper than {MAX_JSON_DEPTH} levels.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                path = f"{where}.{key}" if isinstance(value, dict) else f"{where}[{key}]"
                if isinstance(key, str):
                    _check_text(key, f"a key in '{where.lstrip('.')}'")  # never echo the bad key
                pending.append((item, depth + 1, path))
        elif isinstance(value, str):
            _check_text(value, f"'{where.lstrip('.')}'")


def _check_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(text[error.start])
        raise ArgumentError(
            f"{what} contains a lone surrogate (\\u{code:04x}) at character {error.start}: it is not valid text."
        ) from None


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


async def read_uploaded_files(request: Request) -> list[IncomingFile]:
    """Every `file` part of a multipart body; a body that is not multipart has none."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return []
    try:
        form = await request.form(max_files=100_000, max_fields=100_000)
    except HTTPException as error:  # Starlette's answer to a malformed body inside an app
        raise ArgumentError(f"The multipart body could not be read: {error.detail}") from None
    except (MultiPartException, ValueError, KeyError, UnicodeDecodeError) as error:
        raise ArgumentError(f"The multipart body could not be read: {error}") from None
    files = []
    for part in form.getlist("file"):
        if isinstance(part, str):  # a part without a filename arrives as a plain field
            files.append(IncomingFile(filename=None, content=part.encode("utf-8")))
        else:
            files.append(IncomingFile(filename=part.filename, content=await part.read()))
    return files
