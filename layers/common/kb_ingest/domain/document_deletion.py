"""Deleting many documents of a dataset at once (`DELETE /datasets/{id}/documents`).

The request is checked whole (every id must belong to the dataset, or nothing is deleted),
the first documents are removed before the answer, and anything beyond that is handed to the
cleanup function as a deletion job, so ten thousand documents answer at once. Each removal is
the same transaction as a single delete (record, name, dataset counts), so a document removed
twice, or by the job and a user at the same moment, is counted once.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from kb_ingest.clock import now_ms
from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.documents import Document, FileStore
from kb_ingest.domain.errors import DataError

# Removed before answering; more than this goes to the background job.
REMOVED_BEFORE_ANSWER = 1000
_PARALLEL_REMOVALS = 16
PAGE = 200


class DeletionStore(Protocol):
    def get_many(self, dataset_id: str, document_ids: list[str]) -> dict[str, Document]: ...

    def page_after(self, dataset_id: str, after: str | None, limit: int) -> tuple[list[Document], str | None]: ...

    def remove(self, document: Document) -> bool: ...

    def remove_many(self, documents: list[Document]) -> list[Document]: ...


@dataclass(frozen=True)
class DeletionJob:
    """What the background still has to delete: these ids, or (ids None) every document of the
    dataset created at or before `created_before`."""

    tenant_id: str
    dataset_id: str
    ids: list[str] | None
    created_before: int


class DeletionJobs(Protocol):
    def submit(self, job: DeletionJob) -> None:
        """Keep the job (it survives a lost message) and ask the cleanup function to run it."""


def remove_documents(store: DeletionStore, files: FileStore, documents: list[Document]) -> int:
    """Remove the documents' records (a transaction for many, the dataset's counts once), then
    each removed one's file and parse output, in parallel; how many were removed. A document
    removed meanwhile by someone else is counted, and its files deleted, there."""
    removed = store.remove_many(documents) if documents else []
    if not removed:
        return 0
    with ThreadPoolExecutor(max_workers=min(_PARALLEL_REMOVALS, len(removed))) as pool:
        list(pool.map(files.delete_files, removed))
    return len(removed)


def delete_documents(
    store: DeletionStore,
    files: FileStore,
    jobs: DeletionJobs,
    dataset: Dataset | None,
    dataset_id: str,
    ids: list[str] | None,
    delete_all: bool,
) -> int:
    """How many documents the request deletes (some may still be going in the background)."""
    if dataset is None:
        raise DataError(f"You don't own the dataset {dataset_id}. ")
    ids = ids or []
    if not delete_all and not ids:
        raise DataError(f"should either provide doc ids or set delete_all(true), dataset: {dataset_id}. ")
    if ids and delete_all:
        raise DataError(f"should not provide both doc ids and delete_all(true), dataset: {dataset_id}. ")
    if delete_all:
        return _delete_all(store, files, jobs, dataset)
    found: dict[str, Document] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), 100):
        found.update(store.get_many(dataset.id, unique[start : start + 100]))
    missing = [document_id for document_id in ids if document_id not in found]
    if missing:
        raise DataError(
            f"These documents do not belong to dataset {dataset_id} or Document not found: {', '.join(missing)}"
        )
    now_documents = [found[document_id] for document_id in unique[:REMOVED_BEFORE_ANSWER]]
    later = unique[REMOVED_BEFORE_ANSWER:]
    if later:
        jobs.submit(DeletionJob(dataset.tenant_id, dataset.id, later, now_ms()))
    remove_documents(store, files, now_documents)
    return len(unique)


def _delete_all(store: DeletionStore, files: FileStore, jobs: DeletionJobs, dataset: Dataset) -> int:
    started = now_ms()
    first, after = store.page_after(dataset.id, None, REMOVED_BEFORE_ANSWER)
    if after is not None:
        # More than can go before the answer: the job removes the rest, page by page.
        jobs.submit(DeletionJob(dataset.tenant_id, dataset.id, None, started))
        remove_documents(store, files, first)
        return max(dataset.doc_num, len(first))
    return remove_documents(store, files, first)


def run_deletion_job(
    store: DeletionStore,
    files: FileStore,
    job: DeletionJob,
    out_of_time: Callable[[], bool],
) -> DeletionJob | None:
    """Work through a job until it is done (None) or time runs out (what remains)."""
    if job.ids is not None:
        remaining = list(job.ids)
        while remaining:
            batch, remaining = remaining[:PAGE], remaining[PAGE:]
            documents = list(store.get_many(job.dataset_id, batch).values())  # gone ones are done
            remove_documents(store, files, documents)
            if remaining and out_of_time():
                return DeletionJob(job.tenant_id, job.dataset_id, remaining, job.created_before)
        return None
    after: str | None = None
    while True:
        page, after = store.page_after(job.dataset_id, after, PAGE)
        # Documents uploaded after the request stay: delete_all meant the ones that were there.
        remove_documents(store, files, [document for document in page if document.create_time <= job.created_before])
        if after is None:
            return None
        if out_of_time():
            return job
