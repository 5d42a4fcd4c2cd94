"""The chunk store's change feed into the search index (see kb_ingest.domain.search_feed).

    ChunksTable stream ──▶ route_changes (zip function) ──▶ index queue (FIFO, one group per
    dataset) ──▶ apply_changes (image function) ──▶ the dataset's index (kb_ingest.search)

Index lag: the router adds each change's event id to its dataset's `search_pending` set and 1
to `search_lag` before sending it, and the indexer takes both off once the change is applied,
each conditional on the id being absent (router) or present (indexer), so a retried delivery on
either side counts once. A change whose dataset is gone is neither counted nor sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from kb_ingest.dal.chunks import HEAD, to_domain
from kb_ingest.dal.clients import client
from kb_ingest.dal.models import ChunkModel, DatasetModel, DocumentModel
from kb_ingest.domain.errors import DataError
from kb_ingest.domain.search_feed import Change, DatasetWork, change_of
from kb_ingest.observability import logger
from kb_ingest.settings import get_settings

SEND_BATCH = 10  # SendMessageBatch's limit
INDEXED_DETAIL_TYPE = "Document indexed"
_ATTEMPTS = 10


# ---------------------------------------------------------------- router side
def _head_generation(document_id: str) -> str | None:
    try:
        head = ChunkModel.get(document_id, HEAD, consistent_read=True, attributes_to_get=["generation"])
    except DoesNotExist:
        return None
    return str(head.generation)


def changes_of(records: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], Change | None]]:
    """Each stream record with the change it means (None: nothing for the index). A document's
    head is read once per batch: a batch is a few seconds of the feed."""
    heads: dict[str, str | None] = {}

    def visible(document_id: str) -> str | None:
        if document_id not in heads:
            heads[document_id] = _head_generation(document_id)
        return heads[document_id]

    return [(record, change_of(record, visible)) for record in records]


def _dataset_key(change: Change) -> DatasetModel:
    return DatasetModel(change.tenant_id, change.dataset_id)


def _count_pending(changes: list[Change]) -> list[Change]:
    """Count these changes as lag on their dataset; the ones to send (a dataset deleted: none).
    Ids already pending (a retried stream batch) are sent again (the queue deduplicates them
    for five minutes) but not counted again."""
    key = _dataset_key(changes[0])
    ids = [change.event_id for change in changes]
    for _ in range(_ATTEMPTS):
        try:
            pending = DatasetModel.get(
                key.tenant_id, key.id, consistent_read=True, attributes_to_get=["id", "search_pending"]
            )
        except DoesNotExist:
            return []
        new = [event_id for event_id in ids if event_id not in (pending.search_pending or set())]
        if not new:
            return changes
        condition = DatasetModel.id.exists()
        for event_id in new:
            condition &= ~DatasetModel.search_pending.contains(event_id)
        try:
            key.update(
                actions=[DatasetModel.search_pending.add(set(new)), DatasetModel.search_lag.add(len(new))],
                condition=condition,
            )
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            continue  # counted meanwhile, or the dataset deleted: look again
        return changes
    raise RuntimeError("could not count the index lag: too much contention")


def forward(changes: list[Change]) -> None:
    """Count and send one dataset's changes, ten to a SendMessageBatch, in the feed's order."""
    queue_url = get_settings().index_queue_url
    for start in range(0, len(changes), SEND_BATCH):
        group = _count_pending(changes[start : start + SEND_BATCH])
        if not group:
            return  # the dataset is gone: its index goes with it
        entries = [
            {
                "Id": str(position),
                "MessageBody": change.to_message(),
                "MessageGroupId": change.dataset_id,  # one dataset's index writes in order, one at a time
                "MessageDeduplicationId": change.event_id,
            }
            for position, change in enumerate(group)
        ]
        failed = client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed") or []
        if failed:
            raise RuntimeError(f"the index queue refused {len(failed)} change(s): {failed[0]}")


# ---------------------------------------------------------------- indexer side
def _settle_pending(tenant_id: str, dataset_id: str, event_ids: Iterable[str]) -> int:
    """Take applied changes off the dataset's lag; the lag left (0 when the dataset is gone)."""
    wanted = set(event_ids)
    for _ in range(_ATTEMPTS):
        try:
            item = DatasetModel.get(
                tenant_id, dataset_id, consistent_read=True, attributes_to_get=["id", "search_pending", "search_lag"]
            )
        except DoesNotExist:
            return 0
        present = wanted & set(item.search_pending or set())
        if not present:
            return int(item.search_lag or 0)
        condition = DatasetModel.id.exists()
        for event_id in present:
            condition &= DatasetModel.search_pending.contains(event_id)
        try:
            DatasetModel(tenant_id, dataset_id).update(
                actions=[DatasetModel.search_pending.delete(present), DatasetModel.search_lag.add(-len(present))],
                condition=condition,
            )
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            continue
        return max(0, int(item.search_lag or 0) - len(present))
    raise RuntimeError("could not settle the index lag: too much contention")


def _open_index(tenant_id: str, dataset_id: str, embedding_model: str) -> Any:
    """Opened per batch, not cached: a handle kept across batches would miss a table rebuilt or
    dropped meanwhile (a re-embed, a repair); opening reads a manifest, the embedder is cached."""
    from kb_ingest.search.embedders import embedder_for
    from kb_ingest.search.index import DatasetIndex

    return DatasetIndex.open(tenant_id, dataset_id, embedder_for(embedding_model))


def _indexed(chunk_item: ChunkModel, document_name: str) -> Any:
    from kb_ingest.search.index import IndexedChunk

    chunk = to_domain(chunk_item)
    return IndexedChunk(
        chunk_id=chunk.id,
        document_id=chunk.document_id,
        dataset_id=chunk.dataset_id,
        tenant_id=str(chunk_item.tenant_id),
        document_name=document_name,
        content=chunk.content,
        important_keywords=tuple(chunk.important_keywords),
        questions=tuple(chunk.questions),
        available=chunk.available,
        positions=chunk.positions or None,
        generation=str(chunk_item.generation),
        image_id=chunk.image_id,
        chunk_key=str(chunk_item.chunk_key),
    )


def _head(document_id: str) -> ChunkModel | None:
    try:
        return ChunkModel.get(document_id, HEAD, consistent_read=True)
    except DoesNotExist:
        return None


def _document(dataset_id: str, document_id: str) -> DocumentModel | None:
    try:
        return DocumentModel.get(dataset_id, document_id, consistent_read=True)
    except DoesNotExist:
        return None


def _generation_items(document_id: str, generation: str) -> Iterable[ChunkModel]:
    return ChunkModel.query(
        document_id, ChunkModel.chunk_key.startswith(f"{generation}#"), consistent_read=True, page_size=500
    )


class IndexOutcome:
    def __init__(self) -> None:
        self.documents_indexed: list[tuple[DocumentModel, str, int]] = []  # document, generation, chunks
        self.documents_removed = 0
        self.chunks_upserted = 0
        self.chunks_removed = 0
        self.lag_left = 0
        self.skipped = False  # the dataset is gone
        self.compacted = False
        self.rebuilt = False  # the index was built by another embedder: dropped, every document re-queued


def apply_work(work: DatasetWork) -> IndexOutcome:
    """Bring the dataset's index in line with the store for everything the batch touched."""
    outcome = IndexOutcome()
    try:
        dataset = DatasetModel.get(work.tenant_id, work.dataset_id, consistent_read=True)
    except DoesNotExist:
        outcome.skipped = True  # deleted: the purge removes its index, nothing may write it again
        return outcome
    if work.model_changed:
        outcome.rebuilt = _rebuild_if_built_by_another_embedder(work.tenant_id, work.dataset_id, str(dataset.embd_id))
    try:
        index = _open_index(work.tenant_id, work.dataset_id, str(dataset.embd_id))
    except DataError as error:  # a model this stack cannot run: retrieval answers that, nothing to index
        logger.warning("dataset not indexed", extra={"dataset_id": work.dataset_id, "reason": str(error)})
        outcome.skipped = True
        outcome.lag_left = _settle_pending(work.tenant_id, work.dataset_id, work.event_ids)
        return outcome
    gone: list[str] = []
    replacements: dict[str, list[Any]] = {}
    for document_id in work.documents:
        head, document = _head(document_id), _document(work.dataset_id, document_id)
        if head is None or document is None:
            gone.append(document_id)
            continue
        generation = str(head.generation)
        chunks = [_indexed(item, str(document.name)) for item in _generation_items(document_id, generation)]
        replacements[document_id] = chunks
        outcome.documents_indexed.append((document, generation, len(chunks)))
    if replacements:
        index.replace_documents(replacements)  # the batch's re-parses in one commit
    upserts: list[Any] = []
    deletes: list[str] = []
    availability: dict[bool, list[str]] = {True: [], False: []}
    for document_id, changes in work.chunks.items():
        head, document = _head(document_id), _document(work.dataset_id, document_id)
        if head is None or document is None:
            gone.append(document_id)
            continue
        for change in changes.values():
            if change.generation != head.generation:
                continue  # superseded: the head's own change re-indexes the document
            try:
                item = ChunkModel.get(document_id, change.chunk_key, consistent_read=True)
            except DoesNotExist:
                deletes.append(change.chunk_id)
                continue
            if change.only_available:
                availability[item.available is not False].append(change.chunk_id)
            else:
                upserts.append(_indexed(item, str(document.name)))
    if gone:
        index.delete_documents(gone)
    if deletes:
        index.delete_chunks(deletes)
    if upserts:
        index.upsert(upserts)
    for available, chunk_ids in availability.items():
        if chunk_ids:
            index.set_available(chunk_ids, available)
    outcome.documents_removed = len(gone)
    outcome.chunks_upserted, outcome.chunks_removed = len(upserts), len(deletes)
    outcome.lag_left = _settle_pending(work.tenant_id, work.dataset_id, work.event_ids)
    outcome.compacted = _compact_if_due(index, work.dataset_id)
    return outcome


def _rebuild_if_built_by_another_embedder(tenant_id: str, dataset_id: str, embedding_model: str) -> bool:
    """After a change of the dataset's embedding model: when its index was built by another
    embedder, queue every document again (through this same FIFO group, so they are applied
    after this batch), then drop the index; the queued documents rebuild it with the new model,
    a document at a time, with `search_lag` counting what is left. Queuing comes first so that a
    crash in between only repeats the work: redelivered, the change finds the old index still
    there and does both again. A model this stack cannot run leaves the index as it is (retrieval
    answers that model's error)."""
    from kb_ingest.search.index import DatasetIndex, IndexEmbedderMismatch

    try:
        _open_index(tenant_id, dataset_id, embedding_model)
        return False
    except IndexEmbedderMismatch:
        pass
    except DataError:
        return False
    queued = request_reindex(tenant_id, dataset_id)
    DatasetIndex.drop(tenant_id, dataset_id)
    logger.info("index dropped for a new embedding model", extra={"dataset_id": dataset_id, "documents": queued})
    return True


def _compact_if_due(index: Any, dataset_id: str) -> bool:
    """Compaction runs here, after the batch's writes are committed and settled, because this
    function is the only writer of the dataset's table (its FIFO group): it never races a write.
    A failed compaction loses nothing (the next batch tries again), so it does not fail the batch."""
    try:
        if not index.needs_compaction():
            return False
        index.compact()
    except Exception:
        logger.warning(
            "index compaction failed; the next batch retries it", extra={"dataset_id": dataset_id}, exc_info=True
        )
        return False
    return True


def publish_indexed(outcome: IndexOutcome) -> None:
    """The `Document parse run ended` event's follow-up: the run's chunks are searchable now.
    Best effort, as the run event is."""
    bus = get_settings().event_bus_name
    if not bus or not outcome.documents_indexed:
        return
    from kb_ingest.dal.events import SOURCE

    entries = [
        {
            "Source": SOURCE,
            "DetailType": INDEXED_DETAIL_TYPE,
            "EventBusName": bus,
            "Detail": json.dumps(
                {
                    "document_id": document.id,
                    "dataset_id": document.kb_id,
                    "tenant_id": document.tenant_id,
                    "document_name": document.name,
                    "run_id": generation,  # the `run_id` of the run-ended event whose chunks these are
                    "chunk_num": chunks,
                    "indexed_at": int(time.time() * 1000),
                }
            ),
        }
        for document, generation, chunks in outcome.documents_indexed
    ]
    for start in range(0, len(entries), 10):  # PutEvents takes ten entries
        try:
            response = client("events").put_events(Entries=entries[start : start + 10])
            if response.get("FailedEntryCount"):
                logger.warning("indexed events not accepted", extra={"response": response["Entries"]})
        except Exception:
            logger.exception("indexed events not published")


# ---------------------------------------------------------------- repair
class IndexRebuilds:
    """What the dataset update routes send when a dataset's embedding model changes: one change
    on the dataset's FIFO group, after whatever the feed sent before it (and counted in its
    `search_lag` like any other), so the index function rebuilds the index if needed."""

    def request_rebuild(self, tenant_id: str, dataset_id: str) -> None:
        forward([Change(f"model-{dataset_id}-{time.time_ns()}", tenant_id, dataset_id, "", "dataset")])


@lru_cache(maxsize=1)
def get_index_rebuilds() -> IndexRebuilds:
    return IndexRebuilds()


def request_reindex(tenant_id: str, dataset_id: str) -> int:
    """Queue a re-index of every document of a dataset (each from its visible generation, or out
    of the index when it has none), through the same queue and lag accounting as the feed: the
    repair for changes the feed lost (a stream batch dead-lettered, the local stack's stream
    across a restart). Returns how many documents were queued."""
    stamp = time.time_ns()
    queued = 0
    page: list[Change] = []
    for item in DocumentModel.query(dataset_id, attributes_to_get=["kb_id", "id"], consistent_read=True):
        page.append(Change(f"reindex-{item.id}-{stamp}", tenant_id, dataset_id, str(item.id), "document"))
        if len(page) == 100:
            forward(page)
            queued, page = queued + len(page), []
    if page:
        forward(page)
        queued += len(page)
    return queued
