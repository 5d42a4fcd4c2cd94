"""Files no record claims: a scheduled, bounded walk of every prefix keyed by document.

    uploads/{tenant}/{dataset}/{document}          the upload request died between its S3 and DynamoDB writes
    incoming/{tenant}/{dataset}/{document}         a presigned form posted after its document or dataset went
    parsed/{tenant}/{dataset}/{document}/{run}/..  a parse worker died after its document or dataset went

An object whose dataset no longer exists is reclaimed at once: nothing can claim it any more
(an upload into a deleted dataset fails, and the dataset is read with a consistent read). An
object whose dataset exists but whose document record is missing waits `min_age` first, for
a request that has written its file and is about to write its record.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from kb_ingest.dal.clients import client
from kb_ingest.dal.models import DatasetModel, DocumentModel
from kb_ingest.settings import get_settings

CURSOR_KEY = "state/orphan-cursor.json"
SWEPT_PREFIXES = ("uploads/", "incoming/", "parsed/")


def _load_cursor(s3: Any, bucket: str) -> tuple[str, str]:
    try:
        cursor = json.loads(s3.get_object(Bucket=bucket, Key=CURSOR_KEY)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return SWEPT_PREFIXES[0], ""
    prefix = cursor.get("prefix", SWEPT_PREFIXES[0])
    return (prefix if prefix in SWEPT_PREFIXES else SWEPT_PREFIXES[0]), str(cursor.get("after", ""))


def _existing(model: Any, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), 100):
        attributes = ["tenant_id", "id"] if model is DatasetModel else ["kb_id", "id"]
        for record in model.batch_get(keys[start : start + 100], consistent_read=True, attributes_to_get=attributes):
            found.add((str(getattr(record, attributes[0])), str(record.id)))
    return found


def reclaim_orphan_uploads(max_keys: int = 1000, min_age: timedelta = timedelta(hours=1)) -> list[str]:
    """Delete the orphans among one page of keys; the next run resumes after it, moving on to the
    next prefix at the end of one (and round again). Returns the keys deleted."""
    s3, bucket = client("s3"), get_settings().documents_bucket
    prefix, start_after = _load_cursor(s3, bucket)
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, StartAfter=start_after, MaxKeys=max_keys)
    objects = listing.get("Contents", [])
    cutoff = datetime.now(UTC) - min_age
    owners: dict[str, tuple[str, str, str]] = {}  # key -> (tenant, dataset, document)
    for item in objects:
        parts = item["Key"].split("/")
        if len(parts) >= 4 and all(parts[1:4]) and (prefix == "parsed/" or len(parts) == 4):
            owners[item["Key"]] = (parts[1], parts[2], parts[3])
    live_datasets = _existing(DatasetModel, sorted({(t, d) for t, d, _ in owners.values()}))
    live_documents = _existing(DocumentModel, sorted({(d, doc) for _, d, doc in owners.values()}))
    modified = {item["Key"]: item["LastModified"] for item in objects}
    orphans = [
        key
        for key, (tenant, dataset, document) in owners.items()
        if (tenant, dataset) not in live_datasets
        or ((dataset, document) not in live_documents and modified[key] < cutoff)
    ]
    for start in range(0, len(orphans), 1000):
        batch = [{"Key": key} for key in orphans[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    if listing.get("IsTruncated"):
        cursor = {"prefix": prefix, "after": objects[-1]["Key"]}
    else:
        cursor = {"prefix": SWEPT_PREFIXES[(SWEPT_PREFIXES.index(prefix) + 1) % len(SWEPT_PREFIXES)], "after": ""}
    s3.put_object(Bucket=bucket, Key=CURSOR_KEY, Body=json.dumps(cursor).encode())
    return orphans
