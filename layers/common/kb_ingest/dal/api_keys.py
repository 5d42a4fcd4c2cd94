"""API keys: stored only as SHA-256 hashes, each mapped to the tenant it acts for."""

import hashlib
import secrets
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist

from kb_ingest.clock import new_id, now_ms
from kb_ingest.dal.models import ApiKeyModel

KEY_PREFIX = "ragflow-"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_hex(16)


@dataclass(frozen=True)
class ApiKeyInfo:
    key_hash: str
    tenant_id: str
    label: str
    key_hint: str
    created_at: int
    revoked_at: int | None


def _info(item: ApiKeyModel) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_hash=item.key_hash,
        tenant_id=item.tenant_id,
        label=item.label,
        key_hint=item.key_hint,
        created_at=int(item.created_at),
        revoked_at=int(item.revoked_at) if item.revoked_at is not None else None,
    )


def tenant_for_key(key: str) -> str | None:
    """The tenant a live key acts for; None for an unknown or revoked key."""
    try:
        item = ApiKeyModel.get(hash_key(key), consistent_read=True)
    except DoesNotExist:
        return None
    return None if item.revoked_at is not None else item.tenant_id


def create_api_key(tenant_id: str | None = None, label: str = "", key: str | None = None) -> tuple[str, ApiKeyInfo]:
    """Store a new key (random unless given) for a tenant (new unless given); return the key once."""
    key = key or generate_key()
    item = ApiKeyModel(
        hash_key(key),
        tenant_id=tenant_id or new_id(),
        label=label,
        key_hint=key[: len(KEY_PREFIX) + 4],
        created_at=now_ms(),
    )
    item.save(condition=ApiKeyModel.key_hash.does_not_exist())
    return key, _info(item)


def ensure_api_key(key: str, tenant_id: str, label: str) -> None:
    """Make `key` a live key of `tenant_id` (idempotent; used for the local dev key)."""
    ApiKeyModel(
        hash_key(key),
        tenant_id=tenant_id,
        label=label,
        key_hint=key[: len(KEY_PREFIX) + 4],
        created_at=now_ms(),
    ).save()


KEY_ID_CHARS = 12  # a key's id: the start of its SHA-256 hash, what `keys list` shows


def key_id(info: ApiKeyInfo) -> str:
    return info.key_hash[:KEY_ID_CHARS]


class AmbiguousKeyId(Exception):
    """A key id (hash prefix) that starts more than one key's hash."""


def revoke_api_key(key_or_hash: str) -> ApiKeyInfo | None:
    """Revoke by the key itself, its hash, or its id (the first 12 or more characters of its hash,
    as `keys list` shows them); None when no such key exists. Revoking twice keeps the first time."""
    for candidate in (key_or_hash, hash_key(key_or_hash)):
        try:
            item = ApiKeyModel.get(candidate, consistent_read=True)
        except DoesNotExist:
            continue
        return _revoke(item)
    prefix = key_or_hash.strip().lower()
    if len(prefix) < KEY_ID_CHARS or any(c not in "0123456789abcdef" for c in prefix):
        return None
    # An operator command on a table of one item per key (never a request path): a Scan is fine.
    matches = list(ApiKeyModel.scan(ApiKeyModel.key_hash.startswith(prefix)))
    if len(matches) > 1:
        raise AmbiguousKeyId(f"{prefix} starts {len(matches)} keys' hashes: give more characters")
    return _revoke(matches[0]) if matches else None


def _revoke(item: ApiKeyModel) -> ApiKeyInfo:
    if item.revoked_at is None:
        item.update(actions=[ApiKeyModel.revoked_at.set(now_ms())])
    return _info(item)


def list_api_keys() -> list[ApiKeyInfo]:
    """Every key (an operator command, never a request path: the table holds one item per key)."""
    return sorted((_info(item) for item in ApiKeyModel.scan()), key=lambda info: info.created_at)
