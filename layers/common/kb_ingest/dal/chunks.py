"""Chunks in DynamoDB (ChunksTable): one item per chunk, so editing one costs one item.

    document_id (hash) | chunk_key (range)                          | chunk_ref (LSI by_chunk_id)
    doc                | {generation}#{position:016d}#{chunk_id}     | {generation}#{chunk_id}
    doc                | #head                                      | (none: the LSI is sparse)

A generation is a parse run's id (or a fresh id for chunks added to a document without any).
The document's `chunks_run_id` and its head item name the visible generation; both change in
the same transaction as the document's and dataset's counts, so a reader never sees two runs'
chunks mixed and the counts are exact. A run writes its generation in batches while it is
invisible; publishing it is one transaction; older generations are then deleted.

The table's stream (NEW_AND_OLD_IMAGES) is the change feed: every chunk written, edited or
deleted and every head change (a generation published or retired) is one record.

Empty lists, `available` when true and absent optional fields are left out of the item (a big
parse writes thousands): readers take absence as the default.

Content over MAX_INLINE_CONTENT_BYTES (a whole-document "one" chunk can be megabytes) is kept
in S3 under the document's parse-output folder, and the item names its key.
"""

import json
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from pynamodb.exceptions import DoesNotExist

from kb_ingest.clock import now_ms
from kb_ingest.dal.blobs import delete_prefix, parsed_prefix
from kb_ingest.dal.clients import client, transactions_connection
from kb_ingest.dal.models import ChunkModel, DatasetModel, DocumentModel
from kb_ingest.dal.transactions import Transaction, TransactionCancelled
from kb_ingest.domain.chunks import ChunkPage, Deleted, StoredChunk, keyword_terms, matches
from kb_ingest.domain.documents import Document
from kb_ingest.settings import get_settings

HEAD = "#head"
MAX_INLINE_CONTENT_BYTES = 300_000
BATCH_SIZE = 25  # BatchWriteItem's limit
# Two items (document, dataset) beside the chunks stay under DynamoDB's 100 per transaction.
_CHUNKS_PER_TRANSACTION = 98
_MAX_ATTEMPTS = 20
_QUERY_PAGE = 200
_FEW = 10  # up to this many ids are looked up one by one; more, in one pass over the index


def chunk_key(generation: str, position: int, chunk_id: str) -> str:
    return f"{generation}#{position:016d}#{chunk_id}"


def chunk_ref(generation: str, chunk_id: str) -> str:
    return f"{generation}#{chunk_id}"


def run_prefix(tenant_id: str, dataset_id: str, document_id: str, generation: str) -> str:
    return f"{parsed_prefix(tenant_id, dataset_id, document_id)}{generation}/"


def _content_key(tenant_id: str, dataset_id: str, document_id: str, generation: str, chunk_id: str) -> str:
    return f"{run_prefix(tenant_id, dataset_id, document_id, generation)}content/{chunk_id}.txt"


def to_item(chunk: StoredChunk, tenant_id: str, generation: str) -> ChunkModel:
    item = ChunkModel(
        chunk.document_id,
        chunk_key(generation, chunk.position, chunk.id),
        chunk_ref=chunk_ref(generation, chunk.id),
        generation=generation,
        dataset_id=chunk.dataset_id,
        tenant_id=tenant_id,
        chunk_id=chunk.id,
        position=chunk.position,
        token_count=chunk.token_count,
        page=chunk.page,
        offset=chunk.offset,
        important_keywords=list(chunk.important_keywords) or None,
        questions=list(chunk.questions) or None,
        tag_kwd=list(chunk.tag_kwd) or None,
        available=None if chunk.available else False,  # absent means available, as in RAGFlow
        image_id=chunk.image_id or None,
        positions=[list(entry) for entry in chunk.positions] or None,
        extra=chunk.extra or None,
        create_time=chunk.create_time,
        update_time=chunk.update_time,
    )
    encoded = chunk.content.encode("utf-8")
    if len(encoded) > MAX_INLINE_CONTENT_BYTES:
        key = _content_key(tenant_id, chunk.dataset_id, chunk.document_id, generation, chunk.id)
        client("s3").put_object(Bucket=get_settings().documents_bucket, Key=key, Body=encoded)
        item.content_key = key
    else:
        item.content = chunk.content
    return item


def to_domain(item: ChunkModel) -> StoredChunk:
    content = item.content
    if content is None and item.content_key:
        body = client("s3").get_object(Bucket=get_settings().documents_bucket, Key=item.content_key)["Body"]
        content = body.read().decode("utf-8")
    return StoredChunk(
        id=str(item.chunk_id),
        document_id=item.document_id,
        dataset_id=item.dataset_id,
        content=content or "",
        position=int(item.position or 0),
        token_count=int(item.token_count or 0),
        page=int(item.page) if item.page is not None else None,
        offset=int(item.offset) if item.offset is not None else None,
        important_keywords=[str(value) for value in item.important_keywords or []],
        questions=[str(value) for value in item.questions or []],
        tag_kwd=[str(value) for value in item.tag_kwd or []],
        available=item.available is not False,
        image_id=item.image_id or "",
        positions=[[int(value) for value in entry] for entry in (item.positions or [])],
        extra=dict(item.extra or {}),
        create_time=int(item.create_time or 0),
        update_time=int(item.update_time or 0),
    )


def head_item(document: Document, generation: str) -> ChunkModel:
    return ChunkModel(
        document.id,
        HEAD,
        generation=generation,
        dataset_id=document.kb_id,
        tenant_id=document.tenant_id,
        available=document.status == "1",  # the document is enabled
    )


def mark_document_enabled(document: Document, enabled: bool) -> None:
    """The head's `available` follows the document's status (a no-op without a head)."""
    from pynamodb.exceptions import UpdateError

    try:
        ChunkModel(document.id, HEAD).update(
            actions=[ChunkModel.available.set(enabled)], condition=ChunkModel.chunk_key.exists()
        )
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise


def _delete_keys(items: Iterator[ChunkModel]) -> int:
    deleted = 0
    with ChunkModel.batch_write() as batch:
        for item in items:
            batch.delete(item)
            deleted += 1
    return deleted


def _partition_keys(document_id: str) -> Iterator[ChunkModel]:
    return ChunkModel.query(document_id, attributes_to_get=["document_id", "chunk_key", "generation"], page_size=1000)


def remove_document_chunks(document_id: str) -> int:
    """Every item of the document (all generations and the head): document delete, purge."""
    return _delete_keys(_partition_keys(document_id))


def retire_generations(document_id: str, keep: str | None) -> int:
    """Delete every generation but `keep` (older runs, abandoned attempts); the head stays."""
    return _delete_keys(
        item for item in _partition_keys(document_id) if item.chunk_key != HEAD and item.generation != keep
    )


def _generation_items(document_id: str, generation: str, **kwargs: Any) -> Iterator[ChunkModel]:
    return ChunkModel.query(document_id, ChunkModel.chunk_key.startswith(f"{generation}#"), **kwargs)


class ChunkTableWriter:
    """The parse worker's sink: buffers chunks and writes them 25 to a BatchWriteItem call."""

    def __init__(self, document: Document, run_id: str) -> None:
        self.document, self.generation = document, run_id
        self._buffer: list[ChunkModel] = []
        self.count = 0

    @classmethod
    def for_run(cls, document: Document, run_id: str) -> "ChunkTableWriter":
        """The run owns the document now: whatever chunks it still has (the generation the
        start retired, an earlier attempt's partial output) go before the run writes its own."""
        remove_document_chunks(document.id)
        return cls(document, run_id)

    def add(self, chunk: StoredChunk) -> None:
        item = to_item(chunk, self.document.tenant_id, self.generation)
        item.staged = True  # written before the publish: the head's change covers it (search feed)
        self._buffer.append(item)
        self.count += 1
        if len(self._buffer) >= BATCH_SIZE * 8:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        # Plain BatchWriteItem calls on pre-serialized items: a big parse writes thousands of
        # chunks, and PynamoDB's per-item batch bookkeeping costs more than the call itself.
        table = get_settings().chunks_table
        requests = [{"PutRequest": {"Item": item.serialize()}} for item in self._buffer]
        for start in range(0, len(requests), BATCH_SIZE):
            _batch_write(table, requests[start : start + BATCH_SIZE])
        self._buffer = []

    def close(self, summary: dict[str, Any]) -> None:
        self._flush()

    def discard(self) -> None:
        self._buffer = []
        _delete_keys(
            _generation_items(self.document.id, self.generation, attributes_to_get=["document_id", "chunk_key"])
        )
        delete_prefix(run_prefix(self.document.tenant_id, self.document.kb_id, self.document.id, self.generation))


def _batch_write(table: str, requests: list[dict[str, Any]]) -> None:
    """One BatchWriteItem, retrying what DynamoDB left unprocessed (throttling) with backoff."""
    pending = {table: requests}
    for attempt in range(10):
        unprocessed = client("dynamodb").batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not unprocessed:
            return
        pending = unprocessed
        time.sleep(min(0.05 * 2**attempt, 2.0))
    raise RuntimeError("DynamoDB kept chunk writes unprocessed")


def _count_actions(chunks: int, tokens: int) -> tuple[list[Any], list[Any]]:
    document = [DocumentModel.chunk_num.add(chunks), DocumentModel.token_num.add(tokens)]
    dataset = [DatasetModel.chunk_num.add(chunks), DatasetModel.token_num.add(tokens)]
    return document, dataset


class DynamoChunkStore:
    def __init__(self) -> None:
        self._connection = transactions_connection()

    # ------------------------------------------------------------ reads
    def page(
        self, document: Document, offset: int, limit: int, keywords: str = "", available: bool | None = None
    ) -> ChunkPage:
        generation = document.chunks_run_id
        if not generation or limit <= 0:
            return ChunkPage([], document.chunk_num if generation else 0)
        terms = keyword_terms(keywords)
        if not terms and available is None:
            # Reads what the page asks for plus the keys it skips, whatever the document's size.
            found = []
            for index, item in enumerate(
                _generation_items(document.id, generation, page_size=min(offset + limit, 1000))
            ):
                if index >= offset:
                    found.append(to_domain(item))
                if len(found) >= limit:
                    break
            return ChunkPage(found, document.chunk_num)
        chosen: list[StoredChunk] = []
        total = 0
        for item in _generation_items(document.id, generation, page_size=_QUERY_PAGE):
            chunk = to_domain(item)
            if available is not None and chunk.available != available:
                continue
            if terms and not matches(chunk, terms, document.name):
                continue
            if offset <= total < offset + limit:
                chosen.append(chunk)
            total += 1
        return ChunkPage(chosen, total)

    def _key_of(self, document: Document, chunk_id: str) -> ChunkModel | None:
        generation = document.chunks_run_id
        if not generation:
            return None
        for item in ChunkModel.by_chunk_id.query(
            document.id, ChunkModel.chunk_ref == chunk_ref(generation, chunk_id), limit=1, consistent_read=True
        ):
            return item
        return None

    def _keys_of(self, document: Document, generation: str, chunk_ids: Sequence[str]) -> dict[str, ChunkModel]:
        """The index entries of these chunks: one Query each for a few, one pass over the
        generation's index (keys, counts) for many."""
        if len(chunk_ids) <= _FEW:
            found = {}
            for chunk_id in chunk_ids:
                key = self._key_of(document, chunk_id)
                if key is not None:
                    found[chunk_id] = key
            return found
        wanted = set(chunk_ids)
        prefix = f"{generation}#"
        found = {}
        for item in ChunkModel.by_chunk_id.query(
            document.id, ChunkModel.chunk_ref.startswith(prefix), consistent_read=True, page_size=1000
        ):
            chunk_id = str(item.chunk_ref)[len(prefix) :]
            if chunk_id in wanted:
                found[chunk_id] = item
        return found

    def current(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredChunk]:
        """The chunks stored under these (document_id, chunk_key) keys now, by key: consistent
        BatchGetItems (100 keys each, unprocessed keys retried by PynamoDB); a missing key is absent."""
        wanted = list(dict.fromkeys((str(document_id), str(key)) for document_id, key in keys if document_id and key))
        found: dict[tuple[str, str], StoredChunk] = {}
        for start in range(0, len(wanted), 100):
            for item in ChunkModel.batch_get(wanted[start : start + 100], consistent_read=True):
                found[(item.document_id, str(item.chunk_key))] = to_domain(item)
        return found

    def exists(self, document: Document, chunk_id: str) -> bool:
        return self._key_of(document, chunk_id) is not None

    def get(self, document: Document, chunk_id: str) -> StoredChunk | None:
        key = self._key_of(document, chunk_id)
        if key is None:
            return None
        try:
            return to_domain(ChunkModel.get(key.document_id, key.chunk_key, consistent_read=True))
        except DoesNotExist:
            return None

    # ------------------------------------------------------------ writes
    def add(self, document: Document, chunk: StoredChunk) -> StoredChunk | None:
        """One transaction: the chunk, the document's and dataset's counts, and, for a document
        without chunks, a new visible generation (its head item)."""
        generation = document.chunks_run_id
        first = generation is None
        if generation is None:
            from kb_ingest.domain.chunks import new_generation

            generation = new_generation()
        item = to_item(chunk, document.tenant_id, generation)
        document_counts, dataset_counts = _count_actions(1, chunk.token_count)
        not_parsing = DocumentModel.run != "1"
        if first:
            condition = DocumentModel.chunks_run_id.does_not_exist() & not_parsing
            document_counts.append(DocumentModel.chunks_run_id.set(generation))
        else:
            condition = (DocumentModel.chunks_run_id == generation) & not_parsing
        try:
            with Transaction(self._connection) as transaction:
                transaction.save("chunk", item, condition=ChunkModel.chunk_key.does_not_exist())
                if first:
                    transaction.save("head", head_item(document, generation))
                transaction.update(
                    "document",
                    DocumentModel(document.kb_id, document.id),
                    actions=[*document_counts, DocumentModel.update_time.set(now_ms())],
                    condition=condition,
                    add_version_condition=False,
                )
                transaction.update(
                    "dataset",
                    DatasetModel(document.tenant_id, document.kb_id),
                    actions=dataset_counts,
                    condition=DatasetModel.id.exists(),
                )
        except TransactionCancelled as cancelled:
            if item.content_key and not cancelled.conflict:
                client("s3").delete_object(Bucket=get_settings().documents_bucket, Key=item.content_key)
            if cancelled.conflict:
                time.sleep(0.02)
            return None
        return chunk

    def update(self, document: Document, chunk: StoredChunk, token_delta: int) -> bool:
        generation = document.chunks_run_id
        if not generation:
            return False
        item = to_item(chunk, document.tenant_id, generation)
        exists = ChunkModel.chunk_key.exists()
        if not token_delta:
            from pynamodb.exceptions import PutError

            try:
                item.save(condition=exists)  # one item: an edit never touches the rest of the document
            except PutError as error:
                if error.cause_response_code == "ConditionalCheckFailedException":
                    return False
                raise
            return True
        for _ in range(_MAX_ATTEMPTS):
            try:
                with Transaction(self._connection) as transaction:
                    transaction.save("chunk", item, condition=exists)
                    transaction.update(
                        "document",
                        DocumentModel(document.kb_id, document.id),
                        actions=[DocumentModel.token_num.add(token_delta), DocumentModel.update_time.set(now_ms())],
                        condition=DocumentModel.chunks_run_id == generation,
                        add_version_condition=False,
                    )
                    transaction.update(
                        "dataset",
                        DatasetModel(document.tenant_id, document.kb_id),
                        actions=[DatasetModel.token_num.add(token_delta)],
                        condition=DatasetModel.id.exists(),
                    )
            except TransactionCancelled as cancelled:
                if cancelled.conflict and not cancelled.failed:
                    time.sleep(0.02)
                    continue
                return False
            return True
        raise RuntimeError("could not update the chunk: too much contention")

    def delete(self, document: Document, chunk_ids: Sequence[str]) -> Deleted:
        generation = document.chunks_run_id
        if not generation:
            return Deleted(0, list(chunk_ids))
        found = self._keys_of(document, generation, chunk_ids)
        missing = [chunk_id for chunk_id in chunk_ids if chunk_id not in found]
        keys = list(found.values())
        deleted = 0
        for start in range(0, len(keys), _CHUNKS_PER_TRANSACTION):
            deleted += self._delete_batch(document, generation, keys[start : start + _CHUNKS_PER_TRANSACTION])
        return Deleted(deleted, missing)

    def _delete_batch(self, document: Document, generation: str, keys: list[ChunkModel]) -> int:
        """Delete these chunks and take exactly their counts off (the index carries each one's
        tokens), retrying without any that a concurrent request deleted first."""
        for _ in range(_MAX_ATTEMPTS):
            if not keys:
                return 0
            tokens = sum(int(key.token_count or 0) for key in keys)
            document_counts, dataset_counts = _count_actions(-len(keys), -tokens)
            try:
                with Transaction(self._connection) as transaction:
                    for index, key in enumerate(keys):
                        item = ChunkModel(key.document_id, key.chunk_key)
                        transaction.delete(f"chunk {index}", item, condition=ChunkModel.chunk_key.exists())
                    transaction.update(
                        "document",
                        DocumentModel(document.kb_id, document.id),
                        actions=[*document_counts, DocumentModel.update_time.set(now_ms())],
                        condition=DocumentModel.chunks_run_id == generation,
                        add_version_condition=False,
                    )
                    transaction.update(
                        "dataset",
                        DatasetModel(document.tenant_id, document.kb_id),
                        actions=dataset_counts,
                        condition=DatasetModel.id.exists(),
                    )
            except TransactionCancelled as cancelled:
                if "document" in cancelled.failed or "dataset" in cancelled.failed:
                    return 0  # re-parsed or deleted meanwhile: these chunks are no longer visible
                if cancelled.conflict:
                    time.sleep(0.02)
                keys = [key for key in keys if _still_there(key)]
                continue
            for key in keys:
                if key.content_key:
                    client("s3").delete_object(Bucket=get_settings().documents_bucket, Key=key.content_key)
            return len(keys)
        raise RuntimeError("could not delete the chunks: too much contention")

    def delete_all(self, document: Document) -> int:
        """Retire the visible generation in one transaction (head gone, counts to zero), then
        delete its items; what a timeout leaves behind is invisible and goes with the next parse
        or the document."""
        generation = document.chunks_run_id
        if not generation:
            return 0
        for _ in range(_MAX_ATTEMPTS):
            try:
                with Transaction(self._connection) as transaction:
                    transaction.delete("head", ChunkModel(document.id, HEAD))
                    transaction.update(
                        "document",
                        DocumentModel(document.kb_id, document.id),
                        actions=[
                            DocumentModel.chunk_num.set(0),
                            DocumentModel.token_num.set(0),
                            DocumentModel.chunks_run_id.remove(),
                            DocumentModel.update_time.set(now_ms()),
                        ],
                        condition=(DocumentModel.chunks_run_id == generation)
                        & (DocumentModel.chunk_num == document.chunk_num)
                        & (DocumentModel.token_num == document.token_num),
                        add_version_condition=False,
                    )
                    transaction.update(
                        "dataset",
                        DatasetModel(document.tenant_id, document.kb_id),
                        actions=[
                            DatasetModel.chunk_num.add(-document.chunk_num),
                            DatasetModel.token_num.add(-document.token_num),
                        ],
                        condition=DatasetModel.id.exists(),
                    )
            except TransactionCancelled as cancelled:
                fresh = _fresh(document)
                if fresh is None or fresh.chunks_run_id != generation or "dataset" in cancelled.failed:
                    return 0
                document = fresh
                continue
            count = document.chunk_num
            _delete_keys(_generation_items(document.id, generation, attributes_to_get=["document_id", "chunk_key"]))
            delete_prefix(run_prefix(document.tenant_id, document.kb_id, document.id, generation))
            return count
        raise RuntimeError("could not delete the chunks: too much contention")


def _still_there(key: ChunkModel) -> bool:
    try:
        ChunkModel.get(key.document_id, key.chunk_key, consistent_read=True, attributes_to_get=["chunk_key"])
    except DoesNotExist:
        return False
    return True


def _fresh(document: Document) -> Document | None:
    from kb_ingest.dal.documents import to_domain as document_to_domain

    try:
        return document_to_domain(DocumentModel.get(document.kb_id, document.id, consistent_read=True))
    except DoesNotExist:
        return None


def describe_stream() -> dict[str, Any]:
    """The change feed's stream ARN (for tools and tests; retrieval's consumer uses the template's)."""
    table = client("dynamodb").describe_table(TableName=get_settings().chunks_table)["Table"]
    return {
        "stream_arn": table.get("LatestStreamArn"),
        "spec": json.loads(json.dumps(table.get("StreamSpecification"))),
    }


@lru_cache(maxsize=1)
def get_chunk_store() -> DynamoChunkStore:
    return DynamoChunkStore()
