"""Where files live in the documents bucket.

Keys are chosen by the service from ids only; a user's filename is metadata and never becomes
a path component.
  uploads/{tenant}/{dataset}/{document}      files uploaded through the API (no S3 events)
  incoming/{tenant}/{dataset}/{document}     presigned uploads (S3 events complete the document)
  parsed/{tenant}/{dataset}/{document}/...   parse output (no events)
  inbox/{dataset}/...                        the drop folder
  rejected/{dataset}/...                     drop-folder objects that could not become documents
  index/{tenant}/{dataset}/...               the dataset's search index (LanceDB, kb_ingest.search)
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from kb_ingest.dal.clients import client
from kb_ingest.observability import logger
from kb_ingest.settings import get_settings


def upload_key(tenant_id: str, dataset_id: str, document_id: str) -> str:
    return f"uploads/{tenant_id}/{dataset_id}/{document_id}"


def incoming_key(tenant_id: str, dataset_id: str, document_id: str) -> str:
    """Where a presigned upload lands: the only prefix besides the drop folder with S3 events."""
    return f"incoming/{tenant_id}/{dataset_id}/{document_id}"


def object_key(document: Any) -> str:
    """Where a document's file is: its drop-folder key, or its key under uploads/."""
    return document.source_key or upload_key(document.tenant_id, document.kb_id, document.id)


def parsed_prefix(tenant_id: str, dataset_id: str, document_id: str) -> str:
    return f"parsed/{tenant_id}/{dataset_id}/{document_id}/"


def dataset_prefixes(tenant_id: str, dataset_id: str) -> list[str]:
    """Every prefix holding a dataset's objects, whichever way they came in: multipart uploads,
    presigned uploads, parse output, the drop folder and what it rejected while the dataset lived,
    and its search index (LanceDB's tables, kb_ingest.search)."""
    return [
        f"uploads/{tenant_id}/{dataset_id}/",
        f"incoming/{tenant_id}/{dataset_id}/",
        f"parsed/{tenant_id}/{dataset_id}/",
        f"inbox/{dataset_id}/",
        f"rejected/{dataset_id}/",
        f"index/{tenant_id}/{dataset_id}/",
    ]


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


def object_state(key: str) -> Any:
    """What the bucket holds under `key` (a kb_ingest.domain.uploads.ObjectState), or None."""
    from kb_ingest.domain.uploads import ObjectState

    try:
        head = client("s3").head_object(Bucket=get_settings().documents_bucket, Key=key)
    except client("s3").exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return ObjectState(size=int(head["ContentLength"]), etag=str(head.get("ETag", "")))


class S3FileStore:
    """Original files of documents, keyed by ids; the user's filename travels as metadata."""

    @property
    def bucket(self) -> str:
        return get_settings().documents_bucket

    def put(self, tenant_id: str, dataset_id: str, document_id: str, content: bytes, filename: str) -> None:
        client("s3").put_object(
            Bucket=self.bucket,
            Key=upload_key(tenant_id, dataset_id, document_id),
            Body=content,
            Metadata={"document-id": document_id, "filename": quote(filename, safe="")},
        )

    def put_many(self, files: list[tuple[Any, bytes]]) -> None:
        """Store (document, content) pairs in parallel: a 256-file upload must fit in one request."""
        with ThreadPoolExecutor(max_workers=min(16, max(len(files), 1))) as pool:
            for _ in pool.map(
                lambda pair: self.put(pair[0].tenant_id, pair[0].kb_id, pair[0].id, pair[1], pair[0].name), files
            ):
                pass

    def read_object(self, key: str) -> tuple[bytes, str | None]:
        """The object's bytes and its ETag."""
        response = client("s3").get_object(Bucket=self.bucket, Key=key)
        return bytes(response["Body"].read()), response.get("ETag")

    def state(self, key: str) -> Any:
        """The object's size and ETag (an ObjectState), or None when there is no such object."""
        return object_state(key)

    def size_of(self, key: str) -> int | None:
        """The object's size, or None when there is no such object."""
        state = object_state(key)
        return None if state is None else int(state.size)

    incoming_key = staticmethod(incoming_key)

    def delete_object(self, key: str) -> None:
        client("s3").delete_object(Bucket=self.bucket, Key=key)

    def delete_files(self, document: Any) -> None:
        """The document's file (wherever it came from) and its parse output (chunks included)."""
        from kb_ingest.dal.chunks import remove_document_chunks

        client("s3").delete_object(Bucket=self.bucket, Key=object_key(document))
        remove_document_chunks(document.id)
        delete_prefix(parsed_prefix(document.tenant_id, document.kb_id, document.id))

    def delete_other_runs(self, tenant_id: str, dataset_id: str, document_id: str, keep_run_id: str | None) -> None:
        """Remove the S3 side of every generation but `keep_run_id` (offloaded chunk content)."""
        base = parsed_prefix(tenant_id, dataset_id, document_id)
        paginator = client("s3").get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                if common["Prefix"][len(base) :].rstrip("/") != keep_run_id:
                    delete_prefix(common["Prefix"])

    def download_url(self, key: str, filename: str, seconds: int) -> str:
        """A short-lived GET URL that names the file the way a browser download would."""
        return str(
            client("s3").generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ResponseContentType": "application/octet-stream",
                    "ResponseContentDisposition": content_disposition(filename),
                },
                ExpiresIn=seconds,
            )
        )

    def upload_form(self, key: str, max_bytes: int, seconds: int) -> dict[str, Any]:
        """A presigned POST (URL and form fields) for one object of at most max_bytes."""
        return dict(
            client("s3").generate_presigned_post(
                Bucket=self.bucket,
                Key=key,
                Conditions=[["content-length-range", 0, max_bytes]],
                ExpiresIn=seconds,
            )
        )


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact name in RFC 5987 form."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def parse_incoming_key(key: str) -> tuple[str, str, str] | None:
    """(tenant, dataset, document) of an `incoming/` key, or None for any other key."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "incoming" or not all(parts[1:]):
        return None
    return parts[1], parts[2], parts[3]


class S3InboxObjects:
    """The drop folder's view of the bucket: what is there now, and where rejects go."""

    @property
    def bucket(self) -> str:
        return get_settings().documents_bucket

    def state(self, key: str) -> Any:
        return object_state(key)

    def reject(self, key: str, reason: str) -> str:
        target = "rejected/" + key.split("/", 1)[1]
        client("s3").copy_object(
            Bucket=self.bucket,
            Key=target,
            CopySource={"Bucket": self.bucket, "Key": key},
            MetadataDirective="REPLACE",
            Metadata={"rejected-reason": quote(reason, safe=" "), "original-key": quote(key, safe="/")},
        )
        client("s3").delete_object(Bucket=self.bucket, Key=key)
        logger.warning("drop-folder object rejected", extra={"key": key, "moved_to": target, "reason": reason})
        return target

    def delete_parse_output(self, tenant_id: str, dataset_id: str, document_id: str) -> None:
        from kb_ingest.dal.chunks import remove_document_chunks

        remove_document_chunks(document_id)
        delete_prefix(parsed_prefix(tenant_id, dataset_id, document_id))
