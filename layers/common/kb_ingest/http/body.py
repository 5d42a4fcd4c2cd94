"""Reading request bodies with clear answers for everything a client can get wrong."""

import json
from typing import Any

from fastapi import Request
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
        parsed = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArgumentError(f"Request body is not valid JSON: {error}.") from None
    if not isinstance(parsed, dict):
        raise ArgumentError(f"Request body must be a JSON object, not {_json_type(parsed)}.")
    return parsed


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


async def read_uploaded_files(request: Request) -> list[IncomingFile]:
    """Every `file` part of a multipart body; a body that is not multipart has none."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return []
    try:
        form = await request.form(max_files=100_000, max_fields=100_000)
    except (MultiPartException, ValueError, KeyError) as error:
        raise ArgumentError(f"The multipart body could not be read: {error}") from None
    files = []
    for part in form.getlist("file"):
        if isinstance(part, str):  # a part without a filename arrives as a plain field
            files.append(IncomingFile(filename=None, content=part.encode("utf-8")))
        else:
            files.append(IncomingFile(filename=part.filename, content=await part.read()))
    return files
