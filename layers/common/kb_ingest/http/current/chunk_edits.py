"""What the chunk routes of today's API share: the edit route (served as PATCH, which
ragflow-sdk sends, and PUT), reading a JSON body the way RAGFlow's chunk routes do, and the
token count of edited content (the tokenizer loads on first use only)."""

import json
from typing import Any

from fastapi import Request

from kb_ingest.domain import chunks
from kb_ingest.domain.errors import ArgumentError
from kb_ingest.http.current.envelope import ok
from kb_ingest.settings import get_settings


def count_tokens(text: str) -> int:
    from kb_ingest.domain.parsing.tokens import count_tokens as cl100k_tokens

    return cl100k_tokens(text)


async def chunk_body(request: Request) -> dict[str, Any]:
    """RAGFlow's chunk routes read any JSON body (no content-type check); no body is `{}`."""
    raw = await request.body()
    limit = get_settings().max_json_body_bytes
    if len(raw) > limit:
        raise ArgumentError(f"Request body is {len(raw)} bytes; this route accepts at most {limit} bytes of JSON.")
    if not raw.strip():
        return {}
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON or UTF-8, an integer past 4,300 digits, deep nesting
        raise ArgumentError("Malformed JSON syntax: Missing commas/brackets or invalid encoding") from None
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise ArgumentError(f"Invalid request payload: expected object, got {type(payload).__name__}")
    return payload


async def update_chunk(
    request: Request, tenant_id: str, dataset_id: str, document_id: str, chunk_id: str, datasets: Any, store: Any,
    chunk_store: Any,
) -> Any:  # fmt: skip
    document = chunks.owned_document(datasets, store, tenant_id, dataset_id, document_id)
    body = await chunk_body(request)
    chunks.update_chunk(chunk_store, document, chunk_id, body, count_tokens)
    return ok()
