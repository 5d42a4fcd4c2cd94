"""Files under uploads/ whose record never came (the upload request died between its S3 write
and its DynamoDB write). A scheduled, bounded walk of the prefix reclaims them."""

import json
from datetime import UTC, datetime, timedelta

from kb_ingest.dal.clients import client
from kb_ingest.dal.models import DocumentModel
from kb_ingest.settings import get_settings

CURSOR_KEY = "state/orphan-cursor.json"


def reclaim_orphan_uploads(max_keys: int = 1000, min_age: timedelta = timedelta(hours=1)) -> list[str]:
    """Delete up to a page of orphaned uploads older than `min_age`; resume from the last key
    next time, starting over after the end. Returns the keys deleted."""
    s3, bucket = client("s3"), get_settings().documents_bucket
    try:
        start_after = json.loads(s3.get_object(Bucket=bucket, Key=CURSOR_KEY)["Body"].read())["after"]
    except s3.exceptions.NoSuchKey:
        start_after = ""
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="uploads/", StartAfter=start_after, MaxKeys=max_keys)
    objects = listing.get("Contents", [])
    cutoff = datetime.now(UTC) - min_age
    candidates = {}
    for item in objects:
        parts = item["Key"].split("/")
        if len(parts) == 4 and item["LastModified"] < cutoff:
            candidates[(parts[2], parts[3])] = item["Key"]
    found = set()
    keys = list(candidates)
    for start in range(0, len(keys), 100):
        for record in DocumentModel.batch_get(keys[start : start + 100], attributes_to_get=["kb_id", "id"]):
            found.add((record.kb_id, record.id))
    orphans = [key for ids, key in candidates.items() if ids not in found]
    for start in range(0, len(orphans), 1000):
        batch = [{"Key": key} for key in orphans[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    next_after = objects[-1]["Key"] if listing.get("IsTruncated") else ""
    s3.put_object(Bucket=bucket, Key=CURSOR_KEY, Body=json.dumps({"after": next_after}).encode())
    return orphans
