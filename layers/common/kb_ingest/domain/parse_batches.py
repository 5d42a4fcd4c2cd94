"""Starting and stopping the parsing of listed documents, in the two forms the current API
serves: `POST`/`DELETE /datasets/{id}/chunks` (what ragflow-sdk sends) and
`POST /datasets/{id}/documents/parse` / `.../documents/stop` (RAGFlow's HTTP suite), each
with RAGFlow's own answers. Both start and stop runs the way the seed API does
(kb_ingest.domain.parse_runs): a new run id per start, conditional writes, stop ends CANCEL.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kb_ingest.clock import now_ms
from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.documents import Document
from kb_ingest.domain.errors import DataError
from kb_ingest.domain.parse_runs import (
    CANCEL,
    RUNNING,
    ParseRequests,
    RunEvents,
    RunStore,
    log_line,
    run_event,
    start_runs,
)

STOP_INVALID_STATE = "Can't stop parsing document that has not started or already completed"
STOP_INVALID_STATE_CODE = "DOC_STOP_PARSING_INVALID_STATE"


class BatchStore(Protocol):
    """What these functions read: the documents of a dataset by id (BatchGetItem)."""

    def get_many(self, dataset_id: str, document_ids: list[str]) -> dict[str, Document]: ...


@dataclass
class BatchOutcome:
    """`message` with code 0 (partial success), or plain success; `data` as RAGFlow answers."""

    data: dict[str, Any] | None = None
    message: str = ""
    errors: list[str] = field(default_factory=list)


def _owned(dataset: Dataset | None, dataset_id: str) -> Dataset:
    if dataset is None:
        raise DataError(f"You don't own the dataset {dataset_id}.")
    return dataset


def _ids(body: Mapping[str, Any] | None, strict_list: bool) -> list[Any]:
    if body is None:
        raise DataError("Request body is required")
    ids = body.get("document_ids")
    if not ids or (strict_list and not isinstance(ids, list)):
        raise DataError("`document_ids` is required")
    if not isinstance(ids, list):
        ids = [ids]
    return ids


def _split_duplicates(ids: list[Any]) -> tuple[list[str], list[str]]:
    counts: dict[str, int] = {}
    for value in ids:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return list(counts), [f"Duplicate document ids: {value}" for value, count in counts.items() if count > 1]


def _found(store: BatchStore, dataset: Dataset, ids: list[str]) -> dict[str, Document]:
    found: dict[str, Document] = {}
    for start in range(0, len(ids), 100):
        found.update(store.get_many(dataset.id, ids[start : start + 100]))
    return found


def _start(runs: RunStore, requests: ParseRequests, dataset: Dataset, documents: list[Document]) -> None:
    """Start runs; an empty file ends DONE at once (nothing to parse), as RAGFlow's does."""
    start_runs(runs, requests, dataset, documents, reason="Task is queued.")


# ---------------------------------------------------------------- POST /datasets/{id}/chunks
def start_parsing_chunks(
    store: BatchStore,
    runs: RunStore,
    requests: ParseRequests,
    dataset: Dataset | None,
    dataset_id: str,
    body: Mapping[str, Any] | None,
) -> BatchOutcome:
    dataset = _owned(dataset, dataset_id)
    ids, duplicates = _split_duplicates(_ids(body or {}, strict_list=False))
    found = _found(store, dataset, ids)
    not_found = [document_id for document_id in ids if document_id not in found]
    for document_id in ids:
        if document_id in found and found[document_id].run == RUNNING:
            raise DataError("Can't parse document that is currently being processed")
    startable = [found[document_id] for document_id in ids if document_id in found]
    _start(runs, requests, dataset, startable)
    if not_found:
        raise DataError(f"Documents not found: {not_found}")
    if duplicates:
        if startable:
            return BatchOutcome(
                {"success_count": len(startable), "errors": duplicates},
                f"Partially parsed {len(startable)} documents with {len(duplicates)} errors",
            )
        raise DataError(";".join(duplicates))
    return BatchOutcome()


# ---------------------------------------------------------------- DELETE /datasets/{id}/chunks
def stop_parsing_chunks(
    store: BatchStore,
    runs: RunStore,
    events: RunEvents,
    dataset: Dataset | None,
    dataset_id: str,
    body: Mapping[str, Any] | None,
) -> BatchOutcome:
    dataset = _owned(dataset, dataset_id)
    ids, duplicates = _split_duplicates(_ids(body or {}, strict_list=False))
    found = _found(store, dataset, ids)
    for document_id in ids:
        if document_id not in found:
            raise DataError(f"you don't own the document {document_id}")
        if found[document_id].run != RUNNING:
            raise DataError(STOP_INVALID_STATE, data={"error_code": STOP_INVALID_STATE_CODE})
    stopped = sum(_stop(runs, events, found[document_id]) for document_id in ids)
    if duplicates:
        if stopped:
            return BatchOutcome(
                {"success_count": stopped, "errors": duplicates},
                f"Partially stopped {stopped} documents with {len(duplicates)} errors",
            )
        raise DataError(";".join(duplicates))
    return BatchOutcome()


def _stop(runs: RunStore, events: RunEvents, document: Document) -> bool:
    """End the document's run CANCEL with progress 0, as RAGFlow leaves a stopped document."""
    if document.run_id is None:
        return False
    now = now_ms()
    lines = f"{document.progress_msg}\n{log_line('Task stopped by user.', now)}".strip()
    ended = runs.end(document, document.run_id, CANCEL, lines, now, progress=0.0)
    if ended is not None:
        events.run_ended(run_event(ended, CANCEL))
    return ended is not None


# ---------------------------------------------------------------- POST .../documents/parse
def start_parsing_documents(
    store: BatchStore,
    runs: RunStore,
    requests: ParseRequests,
    dataset: Dataset | None,
    dataset_id: str,
    body: Mapping[str, Any] | None,
) -> BatchOutcome:
    dataset = _owned(dataset, dataset_id)
    ids, errors = _split_duplicates(_ids(body, strict_list=True))
    found = _found(store, dataset, ids)
    not_found = [document_id for document_id in ids if document_id not in found]
    if not_found and len(not_found) == len(ids):
        raise DataError(f"Documents not found: {not_found}")
    startable = [found[document_id] for document_id in ids if document_id in found]
    _start(runs, requests, dataset, startable)  # a restart: RAGFlow's form re-runs running ones too
    if not_found:
        raise DataError(f"Documents not found: {not_found}")
    data: dict[str, Any] = {"success_count": len(startable)}
    if errors:
        data["errors"] = errors
    return BatchOutcome(data)


# ---------------------------------------------------------------- POST .../documents/stop
def stop_parsing_documents(
    store: BatchStore,
    runs: RunStore,
    events: RunEvents,
    dataset: Dataset | None,
    dataset_id: str,
    body: Mapping[str, Any] | None,
) -> BatchOutcome:
    dataset = _owned(dataset, dataset_id)
    ids, errors = _split_duplicates(_ids(body, strict_list=True))
    found = _found(store, dataset, ids)
    not_found = [document_id for document_id in ids if document_id not in found]
    if not_found:
        raise DataError(f"Documents not found: {not_found}")
    stopped = 0
    for document_id in ids:
        document = found[document_id]
        if document.run not in (RUNNING, CANCEL):
            errors.append(STOP_INVALID_STATE)
            continue
        if document.run == RUNNING and _stop(runs, events, document):
            stopped += 1
        elif document.run == CANCEL:
            stopped += 1  # already stopped: RAGFlow counts it again
    data: dict[str, Any] = {"success_count": stopped}
    if errors:
        data["errors"] = errors
    return BatchOutcome(data)
