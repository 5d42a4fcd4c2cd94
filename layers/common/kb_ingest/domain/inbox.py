"""The drop folder: a file put under `inbox/{dataset_id}/` becomes a parsed document.

S3 delivers events twice, late and out of order, so an event is only a hint that a key may
have changed: the handler looks at what the bucket holds now and makes the dataset match it.
  - object present, no document      -> create the document (id derived from the key) and parse
  - object present, same ETag parsed  -> nothing (a duplicate or late event)
  - object present, new ETag          -> re-parse the same document
  - object gone                       -> remove the document
An object that cannot become a document (unknown dataset, unsupported type, too big) is moved
under `rejected/` with the reason in its metadata.
"""

import posixpath
import uuid
from dataclasses import replace
from typing import Protocol

from kb_ingest.clock import is_valid_id
from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.documents import (
    DatasetGone,
    DocumentExists,
    DocumentStore,
    clean_filename,
    file_type,
    new_document,
)
from kb_ingest.domain.parse_runs import DONE, RUNNING, ParseRequests, RunStore, start_runs
from kb_ingest.domain.uploads import ObjectState, RetryLater

INBOX_PREFIX = "inbox/"
REJECTED_PREFIX = "rejected/"
_KEY_NAMESPACE = uuid.UUID("6f1c1c1e-4a7e-4c55-9a0e-2f7a1e0b9d11")
# A dataset created a moment ago may not be in the id index yet (it is eventually consistent).
_NEW_DATASET_GRACE_SECONDS = 60


class InboxObjects(Protocol):
    def state(self, key: str) -> ObjectState | None: ...

    def reject(self, key: str, reason: str) -> str:
        """Move the object under rejected/ with the reason attached; return the new key."""

    def delete_parse_output(self, tenant_id: str, dataset_id: str, document_id: str) -> None: ...


class DatasetFinder(Protocol):
    def find(self, dataset_id: str) -> Dataset | None: ...


def inbox_dataset_id(key: str) -> str | None:
    """The dataset of an `inbox/{dataset_id}/...` key (any depth below it), else None."""
    if not key.startswith(INBOX_PREFIX):
        return None
    parts = key[len(INBOX_PREFIX) :].split("/", 1)
    if len(parts) != 2 or not parts[1] or parts[1].endswith("/"):
        return None  # the dataset folder itself, or a "folder" placeholder object
    return parts[0]


def inbox_document_id(dataset_id: str, key: str) -> str:
    """The same key is always the same document."""
    return uuid.uuid5(_KEY_NAMESPACE, f"{dataset_id}\n{key}").hex


def reconcile_inbox_key(
    key: str,
    event_age_seconds: float,
    datasets: DatasetFinder,
    store: DocumentStore,
    runs: RunStore,
    requests: ParseRequests,
    objects: InboxObjects,
    max_bytes: int,
) -> str:
    dataset_id = inbox_dataset_id(key)
    if dataset_id is None:
        return "ignored: not a file under inbox/{dataset_id}/"
    state = objects.state(key)
    dataset = datasets.find(dataset_id) if is_valid_id(dataset_id) else None
    document_id = inbox_document_id(dataset_id, key)
    if state is None:
        document = store.get(dataset_id, document_id) if dataset is not None else None
        if document is None:
            return "nothing to do: no object and no document"
        store.remove(document)
        objects.delete_parse_output(document.tenant_id, dataset_id, document_id)
        return f"removed document {document_id}"
    if dataset is None:
        if is_valid_id(dataset_id) and event_age_seconds < _NEW_DATASET_GRACE_SECONDS:
            raise RetryLater(f"dataset {dataset_id} not found yet", _NEW_DATASET_GRACE_SECONDS)
        return "rejected to " + objects.reject(key, f"There is no dataset {dataset_id} (unknown or deleted).")
    name = clean_filename(posixpath.basename(key))
    kind = file_type(name)
    if not name or kind is None:
        return "rejected to " + objects.reject(key, f"The type of {name or key} is not supported.")
    if state.size > max_bytes:
        reason = f"{name} is {state.size} bytes, more than the {max_bytes}-byte limit."
        return "rejected to " + objects.reject(key, reason)
    document = store.get(dataset.id, document_id)
    if document is None:
        fresh = new_document(
            dataset, name, kind, state.size, document_id,
            source_type="s3", source_key=key, source_etag=state.etag,
        )  # fmt: skip
        fresh = replace(fresh, location=key)
        try:
            [document] = store.add(dataset, [fresh])
        except DatasetGone:
            return "rejected to " + objects.reject(key, f"The dataset {dataset_id} was deleted.")
        except DocumentExists:
            document = store.get(dataset.id, document_id)
            if document is None:
                raise RetryLater("document created and removed meanwhile", 30) from None
        reason = "New file in the drop folder."
    elif document.source_etag == state.etag and document.run in (RUNNING, DONE):
        return "unchanged: this version is already parsed or being parsed"
    else:
        reason = "The file changed in the drop folder."
        updated = store.update(document, {"source_etag": state.etag, "size": state.size}, None)
        if updated is None:
            raise RetryLater("document removed meanwhile", 30)
        document = updated
    if document.source_etag != state.etag:
        return "unchanged: a newer version is being handled"
    start_runs(runs, requests, dataset, [document], reason=reason)
    return f"parsing document {document.id}"
