"""Files too big for API Gateway and Lambda: a presigned upload straight to S3.

1. The client asks for an upload (name and size); a document is created, visibly pending,
   and the client gets a presigned POST limited to that size.
2. When the object lands, its S3 event completes the document (size, status).
3. If nothing lands, a delayed check removes the pending document.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from kb_ingest.clock import new_id, now_ms, rfc1123
from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.documents import DatasetGone, Document, DocumentStore, IncomingFile, check_upload, new_document
from kb_ingest.domain.errors import ArgumentError, DataError


@dataclass(frozen=True)
class ObjectState:
    """What the bucket holds under a key right now."""

    size: int
    etag: str


class UploadSlots(Protocol):
    def incoming_key(self, tenant_id: str, dataset_id: str, document_id: str) -> str: ...

    def upload_form(self, key: str, max_bytes: int, seconds: int) -> dict[str, Any]: ...

    def state(self, key: str) -> ObjectState | None:
        """The object's size and ETag, or None when there is no such object."""

    def delete_files(self, document: Document) -> None: ...

    def delete_object(self, key: str) -> None: ...


class ExpiryScheduler(Protocol):
    def expire_upload_later(self, tenant_id: str, dataset_id: str, document_id: str, delay_seconds: int) -> None: ...


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    url_seconds: int
    grace_seconds: int


def request_upload(
    store: DocumentStore,
    slots: UploadSlots,
    expiry: ExpiryScheduler,
    dataset: Dataset | None,
    body: Mapping[str, Any],
    limits: UploadLimits,
) -> dict[str, Any]:
    unknown = [key for key in body if key not in ("name", "size")]
    if unknown:
        raise DataError(f"fields: {unknown}, are not allowed in request body.")
    name = body.get("name")
    if not isinstance(name, str):
        raise ArgumentError("required argument are missing: name; ")
    size = body.get("size", limits.max_bytes)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ArgumentError("'size' must be the file's size in bytes (a non-negative integer).")
    if size > limits.max_bytes:
        raise DataError(f"File {name} is {size} bytes, over the {limits.max_bytes}-byte upload limit.")
    # The same checks as a multipart upload (name, type, dataset), without the bytes.
    [(clean_name, kind)] = check_upload([IncomingFile(name, b"")], dataset, limits.max_bytes)
    assert dataset is not None
    expires_at = now_ms() + limits.url_seconds * 1000
    document_id = new_id()
    document = new_document(
        dataset,
        clean_name,
        kind,
        size,
        document_id,
        source_key=slots.incoming_key(dataset.tenant_id, dataset.id, document_id),
        upload_status="pending",
        upload_max_bytes=size,
        progress_msg=f"Waiting for the file to be uploaded (the upload URL expires {rfc1123(expires_at)}).",
    )
    # Schedule the expiry check first: if this request dies after it, the check finds nothing to do.
    expiry.expire_upload_later(dataset.tenant_id, dataset.id, document.id, limits.url_seconds + limits.grace_seconds)
    try:
        [stored] = store.add(dataset, [document])
    except DatasetGone:
        raise DataError("Can't find this dataset") from None
    assert stored.source_key is not None
    form = slots.upload_form(stored.source_key, size, limits.url_seconds)
    return {
        "document": stored.to_api(),
        "upload": {
            "method": "POST",
            "url": form["url"],
            "fields": form["fields"],
            "max_bytes": size,
            "expires_at": rfc1123(expires_at),
        },
    }


UploadOutcome = Literal["completed", "new version", "already complete", "too large", "not there", "no document"]
Restart = Callable[[Document], None]


def complete_upload(
    store: DocumentStore, slots: UploadSlots, dataset_id: str, document_id: str, restart: Restart | None = None
) -> UploadOutcome:
    """Make the document describe what the bucket holds under its key now (events only say
    that something happened): the first file completes it; a later post of the same form is
    a new version (new size and ETag, parsed again if it had been parsed)."""
    document = store.get(dataset_id, document_id)
    if document is None:
        return "no document"
    assert document.source_key is not None
    state = slots.state(document.source_key)
    if state is None:
        return "not there"  # an event ahead of its object, or for one deleted since
    if document.upload_status == "done" and document.source_etag == state.etag:
        return "already complete"  # a duplicate or late event
    now = now_ms()
    limit = document.upload_max_bytes if document.upload_max_bytes is not None else document.size
    if state.size > limit:
        slots.delete_files(document)
        store.update(
            document,
            {
                "upload_status": "failed",
                "run": "4",
                "progress": -1.0,
                "progress_msg": f"[ERROR] The uploaded file is {state.size} bytes, more than the {limit} bytes "
                "requested for this upload; it was discarded.",
                "update_time": now,
            },
            None,
        )
        return "too large"
    values: dict[str, Any] = {"upload_status": "done", "size": state.size, "source_etag": state.etag}
    first = document.upload_status == "pending"
    if first or document.upload_status == "failed":  # a failed attempt's error no longer applies
        values.update(run="0", progress=0.0, progress_msg="")
    updated = store.update(document, {**values, "update_time": now}, None)
    if first:
        return "completed"
    if updated is not None and restart is not None and document.run != "0":
        restart(updated)  # its chunks describe the old version
    return "new version"


def expire_upload(store: DocumentStore, slots: UploadSlots, dataset_id: str, document_id: str) -> str:
    """The upload URL has expired: keep the document if its file arrived, remove it if not."""
    document = store.get(dataset_id, document_id)
    if document is None or document.upload_status != "pending":
        return "nothing to do"
    outcome = complete_upload(store, slots, dataset_id, document_id)
    if outcome != "not there":  # arrived, but its event has not been handled yet
        return outcome
    store.remove(document)
    return "removed"


class RetryLater(Exception):
    """Not yet decidable: hand the message back to the queue for another look after `seconds`."""

    def __init__(self, reason: str, seconds: int) -> None:
        super().__init__(reason)
        self.seconds = seconds


def on_upload_landed(
    store: DocumentStore,
    slots: UploadSlots,
    key: str,
    ids: tuple[str, str, str],
    age_seconds: float,
    grace_seconds: int,
    restart: Restart | None = None,
) -> str:
    """An object landed under incoming/: complete its document, or reclaim it when no document
    will ever claim it (the dataset or document is gone, or never existed)."""
    _, dataset_id, document_id = ids
    outcome = complete_upload(store, slots, dataset_id, document_id, restart)
    if outcome != "no document":
        return outcome
    if age_seconds < grace_seconds:
        # A moment after the record's removal, or before it exists: look again later.
        raise RetryLater(f"no record yet for {document_id}", grace_seconds)
    slots.delete_object(key)
    return "orphan removed"
