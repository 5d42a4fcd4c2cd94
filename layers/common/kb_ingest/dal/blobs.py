"""Where files live in the documents bucket.

Keys are chosen by the service from ids only; a user's filename is metadata and never becomes
a path component.
  uploads/{tenant}/{dataset}/{document}      the original file (S3 events feed the parse queue)
  parsed/{tenant}/{dataset}/{document}/...   parse output (no events)
  inbox/{dataset}/...                        the drop folder
"""

from collections.abc import Iterator

from kb_ingest.dal.clients import client
from kb_ingest.settings import get_settings


def upload_key(tenant_id: str, dataset_id: str, document_id: str) -> str:
    return f"uploads/{tenant_id}/{dataset_id}/{document_id}"


def parsed_prefix(tenant_id: str, dataset_id: str, document_id: str) -> str:
    return f"parsed/{tenant_id}/{dataset_id}/{document_id}/"


def dataset_prefixes(tenant_id: str, dataset_id: str) -> list[str]:
    return [f"uploads/{tenant_id}/{dataset_id}/", f"parsed/{tenant_id}/{dataset_id}/"]


def _keys_under(prefix: str) -> Iterator[list[str]]:
    paginator = client("s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=get_settings().documents_bucket, Prefix=prefix):
        keys = [item["Key"] for item in page.get("Contents", [])]
        if keys:
            yield keys


def delete_prefix(prefix: str) -> int:
    """Delete every object under `prefix`, a thousand per call; safe to repeat."""
    deleted = 0
    bucket = get_settings().documents_bucket
    for keys in _keys_under(prefix):
        client("s3").delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True})
        deleted += len(keys)
    return deleted
