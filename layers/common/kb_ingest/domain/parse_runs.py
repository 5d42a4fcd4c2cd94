"""Starting, stopping and reporting parse runs: the API side of parsing (contract messages)."""

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kb_ingest.clock import new_id, now_ms, rfc1123
from kb_ingest.domain.datasets import Dataset, parse_int
from kb_ingest.domain.documents import RUN_STATUS_NAMES, Document, DocumentStore
from kb_ingest.domain.errors import ArgumentError, DataError, RangeError

if TYPE_CHECKING:
    from kb_ingest.domain.chunks import ChunkStore

RUNNING, CANCEL, DONE, FAIL = "1", "2", "3", "4"
MAX_CHUNKS_PER_PAGE = 1000
# A message naming more would outgrow what a Lambda answer carries.
MAX_NAMED_EMPTY_DOCUMENTS = 1000


HISTORY_LENGTH = 10
RETRY_BASE_MS = 60_000
RETRY_CAP_MS = 6 * 3600_000


@dataclass(frozen=True)
class RunStart:
    """What a new run starts with: its id and the parser settings it will use."""

    run_id: str
    now: int
    message: str
    parser_id: str
    parser_config: dict[str, Any]
    settings_fingerprint: str
    reset_attempts: bool = True


@dataclass(frozen=True)
class RunResult:
    chunk_num: int
    token_num: int
    etag: str | None


@dataclass(frozen=True)
class RunFailure:
    error_class: str
    message: str
    retryable: bool


def retry_delay_ms(attempts: int) -> int:
    """Exponential backoff before the scheduled reparse retries a failed document."""
    return int(min(RETRY_BASE_MS * 2 ** max(attempts - 1, 0), RETRY_CAP_MS))


def with_entry(
    document: Document, run_id: str, outcome: str, error_class: str | None, message: str, now: int
) -> list[dict[str, Any]]:
    """The document's parse history with this run's outcome added (the last few runs only)."""
    entry = {"at": now, "run_id": run_id, "outcome": outcome, "error_class": error_class, "message": message}
    return [*document.history, entry][-HISTORY_LENGTH:]


def effective_settings(document: Document, dataset: Dataset) -> tuple[str, dict[str, Any], str]:
    """The parser a run of this document uses: the dataset's, unless the document chose its own
    (parser or parser_config), and a fingerprint that changes whenever those settings do."""
    parser_id = document.parser_id if document.parser_pinned else dataset.parser_id
    parser_config = dict(document.parser_config if document.config_pinned else dataset.parser_config)
    fingerprint = hashlib.sha256(json.dumps([parser_id, parser_config], sort_keys=True).encode()).hexdigest()[:16]
    return parser_id, parser_config, fingerprint


class RunStore(Protocol):
    """Parse runs in storage (kb_ingest.dal.runs): every write is conditional on the run."""

    def start(self, document: Document, run: RunStart) -> Document | None: ...

    def claim(self, dataset_id: str, document_id: str, run_id: str, now: int, lease_ms: int) -> Document | None: ...

    def progress(
        self,
        dataset_id: str,
        document_id: str,
        run_id: str,
        progress: float,
        progress_msg: str,
        now: int,
        release: bool = False,
    ) -> bool: ...

    def finish(self, document: Document, run_id: str, result: RunResult, progress_msg: str, now: int) -> bool: ...

    def end(
        self,
        document: Document,
        run_id: str,
        state: str,
        progress_msg: str,
        now: int,
        failure: RunFailure | None = None,
        progress: float | None = None,
    ) -> Document | None: ...

    def reset(self, document: Document, values: dict[str, Any], now: int) -> Document | None:
        """Back to UNSTART, counts off the dataset, with `values` set."""

    def set_outcome(self, document: Document, state: str, progress: float, progress_msg: str, now: int) -> None: ...


REQUESTS_PER_SEND = 10  # SQS's most messages per SendMessageBatch


class ParseRequests(Protocol):
    def request_parse(self, documents: list[Document]) -> None:
        """Queue one parse message per document, for the run each document now carries."""

    def request_parse_all(self, tenant_id: str, dataset_id: str) -> None:
        """Start every document of the dataset, page by page, in the background."""


class RunEvents(Protocol):
    def run_ended(self, detail: dict[str, Any]) -> None: ...


def log_line(message: str, at_ms: int | None = None) -> str:
    """A progress_msg line: the time it happened, then what happened."""
    stamp = time.strftime("%H:%M:%S", time.gmtime((at_ms or now_ms()) / 1000))
    return f"{stamp} {message}"


def run_event(document: Document, status: str) -> dict[str, Any]:
    return {
        "document_id": document.id,
        "dataset_id": document.kb_id,
        "tenant_id": document.tenant_id,
        "document_name": document.name,
        "status": RUN_STATUS_NAMES[status],
        "run_id": document.run_id,
        "chunk_num": document.chunk_num,
        "token_num": document.token_num,
        "process_duation": document.process_duation,
    }


# ---------------------------------------------------------------- start
def _require_dataset(dataset: Dataset | None, dataset_id: str) -> Dataset:
    if dataset is None:
        raise DataError(f"This dataset '{dataset_id}' cannot be found!")
    return dataset


def _require_documents(store: DocumentStore, dataset: Dataset, document_ids: list[str]) -> list[Document]:
    """Every document asked for, or the contract's error for the first unknown one: nothing
    starts unless all of them exist."""
    found = []
    for document_id in document_ids:
        document = store.get(dataset.id, document_id) if isinstance(document_id, str) else None
        if document is None:
            raise ArgumentError(f"This document '{document_id}' cannot be found!")
        found.append(document)
    return found


def start_runs(
    runs: RunStore,
    requests: ParseRequests,
    dataset: Dataset,
    documents: list[Document],
    reason: str = "Queued for parsing.",
    by_user: bool = True,
) -> str:
    """Reset and start each document; answer RAGFlow's concatenated messages. A start by the
    user resets the failure count; the scheduled reparse keeps it."""
    message = ""
    started = []
    for document in documents:
        now = now_ms()
        if document.upload_status != "done":
            message += f"The file of the document {document.name} has not been uploaded yet; "
            continue
        if document.size == 0:
            message += f"Empty data in the document: {document.name}; "
            runs.set_outcome(document, DONE, 1.0, log_line("The file is empty: there is nothing to parse.", now), now)
            continue
        parser_id, parser_config, fingerprint = effective_settings(document, dataset)
        run = RunStart(new_id(), now, log_line(reason, now), parser_id, parser_config, fingerprint, by_user)
        fresh = runs.start(document, run)
        if fresh is not None:
            started.append(fresh)
        if len(started) >= REQUESTS_PER_SEND:
            # Queued as they start, not after the page: parsing begins while the rest starts.
            requests.request_parse(started)
            started = []
    if started:
        requests.request_parse(started)
    return message


def start_parsing(
    store: DocumentStore,
    runs: RunStore,
    requests: ParseRequests,
    dataset: Dataset | None,
    dataset_id: str,
    document_id: str,
) -> str:
    dataset = _require_dataset(dataset, dataset_id)
    return start_runs(runs, requests, dataset, _require_documents(store, dataset, [document_id]))


def document_ids_of(body: Mapping[str, Any]) -> list[str] | None:
    """`doc_ids` of a bulk request; None (or empty) means every document of the dataset."""
    unknown = [key for key in body if key != "doc_ids"]
    if unknown:
        raise DataError(f"fields: {unknown}, are not allowed in request body.")
    ids = body.get("doc_ids")
    if ids is None or ids == []:
        return None
    if not isinstance(ids, list):
        raise ArgumentError("'doc_ids' must be a list of document ids.")
    for position, document_id in enumerate(ids):
        if not isinstance(document_id, str) or not document_id:
            raise ArgumentError(
                f"'doc_ids' must be a list of document ids (non-empty strings); item {position} is "
                f"{_json_kind(document_id)}."
            )
    return list(dict.fromkeys(ids))


def _json_kind(value: Any) -> str:
    if isinstance(value, str):
        return "an empty string"
    kinds = {dict: "an object", list: "an array", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def start_parsing_many(
    store: DocumentStore,
    runs: RunStore,
    requests: ParseRequests,
    dataset: Dataset | None,
    dataset_id: str,
    body: Mapping[str, Any],
) -> str:
    dataset = _require_dataset(dataset, dataset_id)
    ids = document_ids_of(body)
    if ids is None:
        # Thousands of documents cannot be reset within API Gateway's 30 seconds: fan out. The
        # empty ones are named from their own index, as RAGFlow names them for listed ids.
        requests.request_parse_all(dataset.tenant_id, dataset.id)
        names, more = store.empty_document_names(dataset.id, MAX_NAMED_EMPTY_DOCUMENTS)
        message = "".join(f"Empty data in the document: {name}; " for name in names)
        if more:
            message += f"(only the first {MAX_NAMED_EMPTY_DOCUMENTS} empty documents are named); "
        return message
    return start_runs(runs, requests, dataset, _require_documents(store, dataset, ids))


# ---------------------------------------------------------------- stop
def stop_runs(runs: RunStore, events: RunEvents, documents: list[Document]) -> str:
    message = ""
    for document in documents:
        if document.run != RUNNING or document.run_id is None:
            message += f"The document {document.name} is not being parsed; "
            continue
        now = now_ms()
        lines = document.progress_msg + "\n" + log_line("Stopped by the user.", now)
        ended = runs.end(document, document.run_id, CANCEL, lines.strip(), now)
        if ended is not None:
            events.run_ended(run_event(ended, CANCEL))
        else:
            message += f"The document {document.name} had already finished parsing; "
    return message


def stop_parsing(
    store: DocumentStore, runs: RunStore, events: RunEvents, dataset: Dataset | None, dataset_id: str, document_id: str
) -> str:
    dataset = _require_dataset(dataset, dataset_id)
    return stop_runs(runs, events, _require_documents(store, dataset, [document_id]))


# ---------------------------------------------------------------- status
def parsing_status(store: DocumentStore, dataset: Dataset | None, dataset_id: str, document_id: str) -> dict[str, Any]:
    if dataset is None:
        raise DataError(f"This dataset: '{dataset_id}' cannot be found!")
    document = store.get(dataset.id, document_id)
    if document is None:
        raise DataError(f"This document: '{document_id}' is not a valid document.")
    return {"progress": document.progress, "status": RUN_STATUS_NAMES.get(document.run, "UNSTART")}


def stop_parsing_many(
    store: DocumentStore,
    runs: RunStore,
    events: RunEvents,
    dataset: Dataset | None,
    dataset_id: str,
    body: Mapping[str, Any],
) -> str:
    dataset = _require_dataset(dataset, dataset_id)
    ids = document_ids_of(body)
    if ids is not None:
        return stop_runs(runs, events, _require_documents(store, dataset, ids))
    # Every running document: read the dataset a page at a time, stop only what runs.
    message, after = "", None
    while True:
        page, after = store.page_after(dataset.id, after, 200)
        running = [document for document in page if document.run == RUNNING]
        if running:
            message += stop_runs(runs, events, running)
        if after is None:
            return message


def chunk_page(
    store: DocumentStore,
    chunks: "ChunkStore",
    dataset: Dataset | None,
    dataset_id: str,
    document_id: str,
    query: Mapping[str, str],
) -> dict[str, Any]:
    """`{"chunks": [...], "total": n}`: the document's visible chunks (its last successful parse,
    with the edits made since), the same records the current API lists."""
    from kb_ingest.domain.chunks import seed_chunk

    dataset = _require_dataset(dataset, dataset_id)
    document = store.get(dataset.id, document_id)
    if document is None:
        raise ArgumentError(f"This document '{document_id}' cannot be found!")
    offset = parse_int(query, "offset", 0)
    count = parse_int(query, "count", 30)
    if offset < 0 or count < 0:
        raise ArgumentError("'offset' and 'count' must not be negative.")
    count = min(count, MAX_CHUNKS_PER_PAGE)
    if offset > document.chunk_num and document.chunk_num:
        raise RangeError("IndexError('Offset is out of the valid range.')")
    page = chunks.page(document, offset, count)
    return {
        "chunks": [seed_chunk(chunk, offset + index) for index, chunk in enumerate(page.chunks)],
        "total": document.chunk_num,
        "run": RUN_STATUS_NAMES.get(document.run, "UNSTART"),
    }


def parse_history(store: DocumentStore, dataset: Dataset | None, dataset_id: str, document_id: str) -> dict[str, Any]:
    dataset = _require_dataset(dataset, dataset_id)
    document = store.get(dataset.id, document_id)
    if document is None:
        raise ArgumentError(f"This document '{document_id}' cannot be found!")
    return {
        "history": [{**entry, "at": rfc1123(entry["at"])} for entry in reversed(document.history)],
        "attempts": document.attempts,
        "max_attempts": document.max_attempts,
        "next_retry_at": rfc1123(document.next_retry_at) if document.next_retry_at else None,
        "status": RUN_STATUS_NAMES.get(document.run, "UNSTART"),
    }
