"""API-key authentication, done inside the function so failures keep the RAGFlow envelope."""

import time
from typing import Annotated

from fastapi import Depends, Request

from kb_ingest.dal.api_keys import tenant_for_key
from kb_ingest.domain.errors import AuthenticationError
from kb_ingest.settings import get_settings

# key -> (tenant id, monotonic expiry); lives as long as the container.
_verified: dict[str, tuple[str, float]] = {}


def api_key_from_header(value: str | None) -> str:
    """Accept `Bearer <key>` and, as RAGFlow's own Python client sends it, the bare key."""
    value = (value or "").strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    if not value:
        raise AuthenticationError(
            "Authorization is missing: send the header `Authorization: Bearer <API key>`.", data=False
        )
    return value


def current_tenant(request: Request) -> str:
    key = api_key_from_header(request.headers.get("authorization"))
    cached = _verified.get(key)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    tenant_id = tenant_for_key(key)
    if tenant_id is None:
        _verified.pop(key, None)
        raise AuthenticationError("Token is not valid!", data=False)
    ttl = get_settings().api_key_cache_seconds
    if ttl > 0:
        _verified[key] = (tenant_id, time.monotonic() + ttl)
    return tenant_id


TenantId = Annotated[str, Depends(current_tenant)]
