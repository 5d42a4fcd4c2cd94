"""Scheduled reparsing: a sweep that keeps every dataset healthy without anyone calling the API.

Each run walks datasets and their documents a page at a time from where the last run stopped,
within a budget (documents looked at, documents re-queued, time), and re-queues:
  - FAIL documents whose failure may pass (not a file that can never parse) that still have
    attempts left, once their backoff has elapsed;
  - RUNNING documents whose worker stopped (lease expired, no progress for a while);
  - documents parsed with parser settings the dataset no longer has;
  - documents whose file changed in S3 since they were parsed (ETag).
A document is re-queued at most once per run; nothing is loaded beyond one page.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.documents import Document
from kb_ingest.domain.parse_runs import DONE, FAIL, RUNNING, ParseRequests, RunStore, effective_settings, start_runs

# Failures that happen again on every attempt: retrying them wastes work.
PERMANENT_ERRORS = frozenset(
    {"ParseError", "UnsupportedFormat", "PasswordProtected", "CorruptDocument", "NoTextLayer",
     "ResourceLimitExceeded", "Timeout"}
)  # fmt: skip
# A run whose worker has not written for this long (and holds no lease) has lost its worker.
STALLED_AFTER_MS = 20 * 60 * 1000


@dataclass(frozen=True)
class SweepBudget:
    max_documents: int = 2000
    max_requeues: int = 200


@dataclass
class SweepCursor:
    """Where the last run stopped: the dataset page position and the last document looked at."""

    dataset_key: dict[str, Any] | None = None  # DynamoDB key of the last dataset fully swept
    dataset_id: str | None = None  # the dataset in progress
    tenant_id: str | None = None
    document_after: str | None = None
    laps: int = 0


@dataclass
class SweepReport:
    examined: int = 0
    requeued: list[dict[str, str]] = field(default_factory=list)
    finished_lap: bool = False
    stopped_because: str = ""


class SweepSource(Protocol):
    def datasets_after(self, key: dict[str, Any] | None) -> Iterator[tuple[Dataset, dict[str, Any]]]:
        """Every dataset after `key`, with the key that resumes after it."""

    def find_dataset(self, tenant_id: str, dataset_id: str) -> Dataset | None: ...

    def documents_after(self, dataset_id: str, after: str | None, limit: int) -> tuple[list[Document], str | None]: ...

    def current_etag(self, document: Document) -> str | None: ...


def why_reparse(document: Document, dataset: Dataset, now: int, current_etag: Callable[[], str | None]) -> str | None:
    """The reason this document should be parsed again now, or None."""
    if document.upload_status != "done" or document.size == 0:
        return None
    if document.run == RUNNING:
        lease_expired = document.lease_until is not None and document.lease_until < now
        silent = document.lease_until is None and now - document.update_time > STALLED_AFTER_MS
        if lease_expired or silent:
            return "The previous worker stopped responding; parsing again."
        return None
    if document.run not in (DONE, FAIL):
        return None  # never started, or stopped by the user: their choice stands
    _, _, fingerprint = effective_settings(document, dataset)
    if document.settings_fingerprint and document.settings_fingerprint != fingerprint:
        return "The dataset's parser settings changed; parsing again."
    if document.run == FAIL:
        if document.last_error_class in PERMANENT_ERRORS or document.attempts >= document.max_attempts:
            return None
        if document.next_retry_at is not None and document.next_retry_at > now:
            return None
        return f"Retrying after a failure (attempt {document.attempts + 1} of {document.max_attempts})."
    etag = current_etag()
    if etag is not None and document.parsed_etag and etag != document.parsed_etag:
        return "The file changed in storage; parsing again."
    return None


def sweep(
    source: SweepSource,
    runs: RunStore,
    requests: ParseRequests,
    cursor: SweepCursor,
    budget: SweepBudget,
    now: int,
    time_left_ms: Callable[[], int],
) -> SweepReport:
    """Advance `cursor` through the datasets, re-queueing what needs it; safe to stop anywhere."""
    report = SweepReport()
    requeued: set[str] = set()

    def out_of_budget() -> str:
        if report.examined >= budget.max_documents:
            return "document budget used"
        if len(requeued) >= budget.max_requeues:
            return "re-queue budget used"
        if time_left_ms() < 30_000:
            return "time budget used"
        return ""

    while True:
        if cursor.dataset_id is None:
            nxt = next(iter(source.datasets_after(cursor.dataset_key)), None)
            if nxt is None:  # a full lap: start over next time
                cursor.dataset_key, cursor.laps = None, cursor.laps + 1
                report.finished_lap = True
                return report
            dataset, key = nxt
            cursor.dataset_id, cursor.tenant_id, cursor.document_after = dataset.id, dataset.tenant_id, None
            cursor.dataset_key = key
        else:
            dataset = source.find_dataset(cursor.tenant_id or "", cursor.dataset_id)  # type: ignore[assignment]
            if dataset is None:  # deleted meanwhile
                cursor.dataset_id = None
                continue
        while True:
            report.stopped_because = out_of_budget()
            if report.stopped_because:
                return report
            limit = min(100, budget.max_documents - report.examined)
            page, after = source.documents_after(dataset.id, cursor.document_after, limit)
            due: dict[str, list[Document]] = {}
            whole_page = True
            for document in page:
                if len(requeued) >= budget.max_requeues:
                    whole_page = False
                    break
                report.examined += 1
                cursor.document_after = document.id
                reason = why_reparse(document, dataset, now, partial(source.current_etag, document))
                if reason and document.id not in requeued:
                    due.setdefault(reason, []).append(document)
                    requeued.add(document.id)
                    report.requeued.append({"dataset_id": dataset.id, "document_id": document.id,
                                            "name": document.name, "reason": reason})  # fmt: skip
            for reason, documents in due.items():
                start_runs(runs, requests, dataset, documents, reason=reason, by_user=False)
            if whole_page and after is None:  # this dataset is done: the next one
                cursor.dataset_id, cursor.tenant_id, cursor.document_after = None, None, None
                break
