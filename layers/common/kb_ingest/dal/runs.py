"""Parse runs in DynamoDB: every state change is a conditional write on the run it belongs to.

A run is identified by `run_id`, written when the run starts. A worker's progress, its result
and its failure only land while the document is still RUNNING that same run, so a duplicate or
late message, a restart or a stop can never be overwritten by an older run.
"""

from functools import lru_cache
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.condition import Condition

from kb_ingest.dal.chunks import HEAD, head_item
from kb_ingest.dal.clients import transactions_connection
from kb_ingest.dal.documents import to_domain, to_item
from kb_ingest.dal.models import ChunkModel, DatasetModel, DocumentModel
from kb_ingest.dal.retry import contended_attempts
from kb_ingest.dal.transactions import Transaction, TransactionCancelled
from kb_ingest.domain.documents import Document
from kb_ingest.domain.parse_runs import RunFailure, RunResult, RunStart, retry_delay_ms, with_entry

RUNNING, CANCEL, DONE, FAIL = "1", "2", "3", "4"


def _of_run(run_id: str) -> Condition:
    return (DocumentModel.run_id == run_id) & (DocumentModel.run == RUNNING)


def _is_condition_failure(error: Exception) -> bool:
    return isinstance(error, UpdateError) and error.cause_response_code == "ConditionalCheckFailedException"


class DynamoRunStore:
    def __init__(self) -> None:
        self._connection = transactions_connection()

    def _update_run(self, dataset_id: str, document_id: str, run_id: str, actions: list[Any]) -> Document | None:
        item = DocumentModel(dataset_id, document_id)
        try:
            item.update(actions=actions, condition=_of_run(run_id), add_version_condition=False)
        except UpdateError as error:
            if _is_condition_failure(error):
                return None
            raise
        return to_domain(item)

    def start(self, document: Document, run: RunStart) -> Document | None:
        """Begin a fresh run (whatever state the document is in) with the parser settings it
        will use, and take its previous counts off the dataset. None when the document is gone."""
        now = run.now
        for _ in contended_attempts():
            actions = [
                DocumentModel.run.set(RUNNING),
                DocumentModel.run_id.set(run.run_id),
                DocumentModel.progress.set(0),
                DocumentModel.progress_msg.set(run.message),
                DocumentModel.parser_id.set(run.parser_id),
                DocumentModel.parser_config.set(run.parser_config),
                DocumentModel.settings_fingerprint.set(run.settings_fingerprint),
                DocumentModel.chunk_num.set(0),
                DocumentModel.token_num.set(0),
                # As in RAGFlow, a re-parse takes the old chunks away at once (the worker
                # deletes them); the run's own become visible when it ends DONE.
                DocumentModel.chunks_run_id.remove(),
                DocumentModel.process_begin_at.set(now),
                DocumentModel.process_duation.set(0),
                DocumentModel.update_time.set(now),
                DocumentModel.lease_until.remove(),
            ]
            if run.reset_attempts:
                actions += [DocumentModel.attempts.set(0), DocumentModel.next_retry_at.remove()]
            try:
                with Transaction(self._connection) as transaction:
                    transaction.update("document", to_item(document), actions=actions)
                    _retire_chunks(transaction, document)
            except TransactionCancelled as cancelled:
                if "dataset" in cancelled.failed:
                    return None  # the dataset is being deleted
                fresh = self._get(document)
                if fresh is None:
                    return None
                document = fresh
                continue
            return self._get(document)
        raise RuntimeError("could not start the run: too much contention")

    def _get(self, document: Document) -> Document | None:
        from pynamodb.exceptions import DoesNotExist

        try:
            return to_domain(DocumentModel.get(document.kb_id, document.id, consistent_read=True))
        except DoesNotExist:
            return None

    def claim(self, dataset_id: str, document_id: str, run_id: str, now: int, lease_ms: int) -> Document | None:
        """Take the run for this worker unless another live worker holds it."""
        item = DocumentModel(dataset_id, document_id)
        free = DocumentModel.lease_until.does_not_exist() | (DocumentModel.lease_until < now)
        try:
            item.update(
                actions=[DocumentModel.lease_until.set(now + lease_ms), DocumentModel.update_time.set(now)],
                condition=_of_run(run_id) & free,
                add_version_condition=False,
            )
        except UpdateError as error:
            if _is_condition_failure(error):
                return None
            raise
        return to_domain(item)

    def progress(
        self,
        dataset_id: str,
        document_id: str,
        run_id: str,
        progress: float,
        progress_msg: str,
        now: int,
        release: bool = False,
    ) -> bool:
        """Record progress (and, with `release`, let the next delivery take the run over);
        False when the run was stopped or superseded meanwhile."""
        actions = [
            DocumentModel.progress.set(progress),
            DocumentModel.progress_msg.set(progress_msg),
            DocumentModel.update_time.set(now),
        ]
        if release:
            actions.append(DocumentModel.lease_until.remove())
        return self._update_run(dataset_id, document_id, run_id, actions) is not None

    def finish(self, document: Document, run_id: str, result: RunResult, progress_msg: str, now: int) -> bool:
        """DONE, with the counts added to the dataset in the same transaction."""
        assert document.process_begin_at is not None
        chunk_num, token_num = result.chunk_num, result.token_num
        actions = [
            DocumentModel.parsed_etag.set(result.etag) if result.etag else DocumentModel.parsed_etag.remove(),
            DocumentModel.attempts.set(0),
            DocumentModel.next_retry_at.remove(),
            DocumentModel.last_error_class.remove(),
            DocumentModel.history.set(with_entry(document, run_id, "DONE", None, "", now)),
            DocumentModel.run.set(DONE),
            DocumentModel.progress.set(1),
            DocumentModel.progress_msg.set(progress_msg),
            DocumentModel.chunk_num.set(chunk_num),
            DocumentModel.token_num.set(token_num),
            DocumentModel.chunks_run_id.set(run_id),
            DocumentModel.process_duation.set(round((now - document.process_begin_at) / 1000, 3)),
            DocumentModel.update_time.set(now),
            DocumentModel.lease_until.remove(),
        ]
        try:
            with Transaction(self._connection) as transaction:
                transaction.update(
                    "document",
                    DocumentModel(document.kb_id, document.id),
                    actions=actions,
                    condition=_of_run(run_id),
                    add_version_condition=False,
                )
                transaction.update(
                    "dataset",
                    DatasetModel(document.tenant_id, document.kb_id),
                    actions=[DatasetModel.chunk_num.add(chunk_num), DatasetModel.token_num.add(token_num)],
                    condition=DatasetModel.id.exists(),
                )
                # The head names the visible generation: the change feed's "publish" record.
                transaction.save("head", head_item(document, run_id))
        except TransactionCancelled:
            return False  # stopped, superseded, or its dataset deleted: nothing of this run counts
        return True

    def end(
        self,
        document: Document,
        run_id: str,
        state: str,
        progress_msg: str,
        now: int,
        failure: RunFailure | None = None,
        progress: float | None = None,
    ) -> Document | None:
        """End the run as FAIL (progress -1) or CANCEL (progress kept, unless given); None when
        it was not running any more."""
        begin = document.process_begin_at or now
        outcome = "FAIL" if state == FAIL else "CANCEL"
        error_class = failure.error_class if failure else None
        reason = failure.message if failure else ""
        actions = [
            DocumentModel.history.set(with_entry(document, run_id, outcome, error_class, reason, now)),
            DocumentModel.run.set(state),
            DocumentModel.progress.set(-1 if state == FAIL else document.progress if progress is None else progress),
            DocumentModel.progress_msg.set(progress_msg),
            DocumentModel.process_duation.set(round((now - begin) / 1000, 3)),
            DocumentModel.update_time.set(now),
            DocumentModel.lease_until.remove(),
        ]
        if failure is not None:
            attempts = document.attempts + 1
            actions += [
                DocumentModel.attempts.set(attempts),
                DocumentModel.last_error_class.set(failure.error_class),
                DocumentModel.next_retry_at.set(now + retry_delay_ms(attempts)),
            ]
        return self._update_run(document.kb_id, document.id, run_id, actions)

    def reset(self, document: Document, values: dict[str, Any], now: int) -> Document | None:
        """Back to UNSTART with `values` set (a new chunk method): any run in flight stops
        counting (its writes are conditional on its run id), the chunks stop being served, and
        the document's counts leave the dataset in the same transaction. None when it is gone."""
        for _ in contended_attempts():
            actions = [getattr(DocumentModel, key).set(value) for key, value in values.items()]
            actions += [
                DocumentModel.run.set("0"),
                DocumentModel.run_id.remove(),
                DocumentModel.chunks_run_id.remove(),
                DocumentModel.progress.set(0),
                DocumentModel.progress_msg.set(""),
                DocumentModel.chunk_num.set(0),
                DocumentModel.token_num.set(0),
                DocumentModel.update_time.set(now),
                DocumentModel.lease_until.remove(),
            ]
            try:
                with Transaction(self._connection) as transaction:
                    transaction.update("document", to_item(document), actions=actions)
                    _retire_chunks(transaction, document)
            except TransactionCancelled:
                fresh = self._read(document)
                if fresh is None:
                    return None
                document = fresh  # changed meanwhile (a run finished): reset what it is now
                continue
            return self._read(document)
        raise RuntimeError("could not reset the document: too much contention")

    def _read(self, document: Document) -> Document | None:
        try:
            return to_domain(DocumentModel.get(document.kb_id, document.id, consistent_read=True))
        except DoesNotExist:
            return None

    def set_outcome(self, document: Document, state: str, progress: float, progress_msg: str, now: int) -> None:
        """Settle a document that needs no parsing at all (an empty file)."""
        item = to_item(document)
        item.update(
            actions=[
                DocumentModel.run.set(state),
                DocumentModel.run_id.remove(),
                DocumentModel.progress.set(progress),
                DocumentModel.progress_msg.set(progress_msg),
                DocumentModel.process_begin_at.set(now),
                DocumentModel.process_duation.set(0),
                DocumentModel.update_time.set(now),
            ],
            add_version_condition=False,
        )


def _retire_chunks(transaction: Transaction, document: Document) -> None:
    """In the transaction that zeroes a document's counts (a new run, a reset): its chunks stop
    being served (the head goes, which the change feed records) and its counts leave the dataset."""
    if document.chunks_run_id:
        transaction.delete("head", ChunkModel(document.id, HEAD))
    if document.chunk_num or document.token_num:
        transaction.update(
            "dataset",
            DatasetModel(document.tenant_id, document.kb_id),
            actions=[
                DatasetModel.chunk_num.add(-document.chunk_num),
                DatasetModel.token_num.add(-document.token_num),
            ],
            condition=DatasetModel.id.exists(),
        )


@lru_cache(maxsize=1)
def get_run_store() -> DynamoRunStore:
    return DynamoRunStore()
