"""Reading today's API requests: JSON bodies and query strings checked against a pydantic model,
every problem answered in RAGFlow's wording (code 101)."""

import json
from collections.abc import Mapping
from typing import Any, get_args, get_origin

from fastapi import Request
from pydantic import BaseModel, ValidationError

from kb_ingest.domain.errors import ArgumentError
from kb_ingest.settings import get_settings


async def read_json_value(request: Request) -> Any:
    """The body as whatever JSON it holds (None when empty): for the routes where RAGFlow reads
    the body without checking it is an object (its parse and stop routes)."""
    raw = await request.body()
    limit = get_settings().max_json_body_bytes
    if len(raw) > limit:
        raise ArgumentError(f"Request body is {len(raw)} bytes; this route accepts at most {limit} bytes of JSON.")
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON or UTF-8, an integer past 4,300 digits, deep nesting
        raise ArgumentError("Malformed JSON syntax: Missing commas/brackets or invalid encoding") from None


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object, refusing what RAGFlow refuses before looking at any field."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise ArgumentError(f"Unsupported content type: Expected application/json, got {content_type}")
    limit = get_settings().max_json_body_bytes
    raw = await request.body()
    if len(raw) > limit:
        raise ArgumentError(f"Request body is {len(raw)} bytes; this route accepts at most {limit} bytes of JSON.")
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON or UTF-8, an integer past 4,300 digits, deep nesting
        raise ArgumentError("Malformed JSON syntax: Missing commas/brackets or invalid encoding") from None
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise ArgumentError(f"Invalid request payload: expected object, got {_python_type(payload)}")
    return payload


def _python_type(value: Any) -> str:
    """The type name RAGFlow's message shows (it is Python's)."""
    return type(value).__name__


def validated[M: BaseModel](model: type[M], payload: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(dict(payload))
    except ValidationError as error:
        raise ArgumentError(validation_message(error)) from None


def validated_query[M: BaseModel](model: type[M], request: Request) -> M:
    """Query parameters against `model`: list fields take repeated and comma-separated values."""
    args: dict[str, Any] = dict(request.query_params)
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in request.query_params and _is_list(info.annotation):
            args[key] = [v for item in request.query_params.getlist(key) for v in item.split(",") if v]
    return validated(model, args)


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return any(_is_list(arg) for arg in get_args(annotation))


def validation_message(error: ValidationError) -> str:
    """One `Field: <loc> - Message: <msg> - Value: <input>` line per problem, as RAGFlow writes them."""
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"])
        shown = str(problem.get("input"))
        if len(shown) > 128:
            shown = shown[:125] + "..."
        lines.append(f"Field: <{field}> - Message: <{problem['msg']}> - Value: <{shown}>")
    return "\n".join(lines)
