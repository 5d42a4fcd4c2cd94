"""A retrieval request end to end: the caller's datasets, one embedding model across them, the
documents asked for (by id or by metadata), each dataset's index searched, hits of documents
that are gone, disabled or re-parsed since dropped, then RAGFlow's ranking (domain.retrieval).

RAGFlow's index is written synchronously; ours is filled by a change feed (seconds behind). Two
things make an answer read as RAGFlow's would right after a write:
- before searching, a dataset whose index is behind (`search_lag` > 0, or fewer index rows than
  the dataset's chunk_num) is waited for, up to INDEX_WAIT_SECONDS, re-reading both;
- the ranked hits are checked in rank order against ChunksTable, the truth (one consistent
  BatchGetItem per page by each hit's `chunk_key`), only as many as the page needs: a chunk
  deleted or disabled since it was indexed is dropped, an edited one answers its content now.

The index is reached through `open_index` (kb_ingest.search in the search functions), so this
module imports no engine. Both API views (today's `/retrieval`, Dify's external knowledge
route) call `retrieve` and shape its Ranking their own way.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, is_dataclass, replace
from typing import Any, Protocol

from kb_ingest.domain.datasets import Dataset, DatasetStore
from kb_ingest.domain.documents import Document
from kb_ingest.domain.errors import DataError
from kb_ingest.domain.listing import DocumentFilter, MetadataCondition, matches
from kb_ingest.domain.retrieval import (
    MAX_TOP_K,
    Candidate,
    Ranked,
    Ranking,
    RetrievalOptions,
    doc_aggs,
    highlight,
    rank,
)

ENABLED = "1"
NOT_YOURS = "You don't own the dataset {dataset_id}."  # another tenant's answers as a missing one
_BATCH_GET_KEYS = 100
_MAX_ID_LENGTH = 128
INDEX_WAIT_SECONDS = 5.0  # the longest a query waits for a lagging index before answering
_INDEX_POLL_SECONDS = 0.25


class IndexedHit(Candidate, Protocol):
    """What retrieval reads of an index hit (kb_ingest.search.index.Hit): what ranking reads,
    and where the chunk lives and whether it may be answered."""

    @property
    def dataset_id(self) -> str: ...
    @property
    def generation(self) -> str: ...
    @property
    def available(self) -> bool: ...


class SearchIndex(Protocol):
    def search(self, question: str, *, document_ids: Sequence[str] | None, candidates: int) -> Sequence[Any]: ...

    def count(self) -> int: ...


class StoredChunkLike(Protocol):
    @property
    def content(self) -> str: ...
    @property
    def available(self) -> bool: ...
    @property
    def important_keywords(self) -> Sequence[str]: ...
    @property
    def questions(self) -> Sequence[str]: ...


class CurrentChunks(Protocol):
    """ChunksTable read by (document_id, chunk_key) (kb_ingest.dal.chunks.DynamoChunkStore)."""

    def current(self, keys: Sequence[tuple[str, str]]) -> Mapping[tuple[str, str], StoredChunkLike]: ...


class RetrievalDocuments(Protocol):
    def get_many(self, dataset_id: str, document_ids: list[str]) -> dict[str, Document]: ...

    def filtered_page(
        self, dataset_id: str, order: Any, descending: bool, offset: int, count: int, wanted: DocumentFilter
    ) -> tuple[list[Document], int | None]: ...


IndexOpener = Callable[[Dataset], SearchIndex]


@dataclass(frozen=True)
class RetrievalQuery:
    question: str
    dataset_ids: tuple[str, ...]
    document_ids: tuple[str, ...] = ()
    options: RetrievalOptions = field(default_factory=RetrievalOptions)
    metadata_conditions: tuple[MetadataCondition, ...] = ()
    metadata_logic: str = "and"
    # today's /retrieval refuses a document id outside the datasets; the dataset search routes
    # (RAGFlow's retrieval test) only filter by it, so an unknown id matches nothing
    refuse_unknown_documents: bool = True
    foreign_dataset_message: str = NOT_YOURS


@dataclass(frozen=True)
class Retrieved:
    ranking: Ranking[Any]
    documents: dict[str, Document]  # the hits' documents, by id


def _could_be_an_id(value: str) -> bool:
    """Ids are short tokens: anything else cannot name a record (and is not sent to DynamoDB,
    which refuses empty or oversized keys)."""
    return 0 < len(value) <= _MAX_ID_LENGTH


def owned_datasets(
    store: DatasetStore,
    tenant_id: str,
    dataset_ids: Sequence[str],
    refusal: str = NOT_YOURS,
) -> list[Dataset]:
    """The caller's datasets, in the order named (one BatchGet); another tenant's dataset
    answers as a missing one (`refusal`, formatted with the first such id)."""
    wanted = list(dict.fromkeys(dataset_ids))
    found = store.get_many(tenant_id, [dataset_id for dataset_id in wanted if _could_be_an_id(dataset_id)])
    for dataset_id in wanted:
        if dataset_id not in found:
            raise DataError(refusal.format(dataset_id=dataset_id))
    return [found[dataset_id] for dataset_id in wanted]


def same_embedding_model(datasets: Sequence[Dataset]) -> None:
    """RAGFlow searches several datasets only when they embed with one model."""
    models = {(dataset.embd_id or "").strip().lower() for dataset in datasets}
    if len(models) > 1:
        raise DataError(f"Datasets use different embedding models: {[dataset.embd_id for dataset in datasets]}")


def _documents_of(
    store: RetrievalDocuments, dataset_ids: Sequence[str], document_ids: Sequence[str]
) -> dict[str, Document]:
    """The named documents wherever they are among the datasets: BatchGets, never a Scan."""
    found: dict[str, Document] = {}
    wanted = [document_id for document_id in dict.fromkeys(document_ids) if _could_be_an_id(document_id)]
    for dataset_id in dataset_ids:
        missing = [document_id for document_id in wanted if document_id not in found]
        for start in range(0, len(missing), _BATCH_GET_KEYS):
            found.update(store.get_many(dataset_id, missing[start : start + _BATCH_GET_KEYS]))
    return found


def _documents_matching_metadata(
    store: RetrievalDocuments, datasets: Sequence[Dataset], conditions: tuple[MetadataCondition, ...], logic: str
) -> list[str]:
    """Documents whose meta_fields pass the conditions (one Query over each dataset's documents)."""
    wanted = DocumentFilter(conditions=conditions, conditions_logic=logic)
    selected: list[str] = []
    for dataset in datasets:
        documents, _ = store.filtered_page(dataset.id, "create_time", False, 0, max(1, dataset.doc_num), wanted)
        selected += [document.id for document in documents if matches(wanted, document)]
    return selected


def visible(hit: IndexedHit, documents: dict[str, Document]) -> bool:
    """A hit is shown only while its document exists, is enabled and still shows the hit's
    generation of chunks (the index may lag a delete, a disable or a re-parse by seconds)."""
    document = documents.get(hit.document_id)
    if document is None or document.status != ENABLED or not hit.available:
        return False
    return not hit.generation or hit.generation == (document.chunks_run_id or "")


def _current_name(hit: Any, documents: dict[str, Document]) -> Any:
    """The hit under its document's name now (a rename does not wait for the index)."""
    name = documents[hit.document_id].name
    if hit.document_name == name or not is_dataclass(hit) or isinstance(hit, type):
        return hit
    return replace(hit, document_name=name)


def caught_up_indexes(
    datasets: list[Dataset],
    tenant_id: str,
    dataset_store: DatasetStore,
    open_index: IndexOpener,
    wait_seconds: float = INDEX_WAIT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[SearchIndex]:
    """Each dataset's index, once it has caught up with the chunks stored (no change pending in
    the feed, at least as many rows as the dataset's chunk_num), or as it is after wait_seconds:
    a chunk added just before the query is found, and a stalled feed costs a bounded wait."""
    indexes = [open_index(dataset) for dataset in datasets]
    deadline = clock() + wait_seconds
    while True:
        behind = [
            i for i, (dataset, index) in enumerate(zip(datasets, indexes, strict=True))
            if dataset.search_lag > 0 or index.count() < dataset.chunk_num
        ]  # fmt: skip
        if not behind or clock() >= deadline:
            return indexes
        sleep(_INDEX_POLL_SECONDS)
        fresh = dataset_store.get_many(tenant_id, [datasets[i].id for i in behind])
        for i in behind:
            if datasets[i].id in fresh:
                datasets[i] = fresh[datasets[i].id]
            indexes[i] = open_index(datasets[i])


def _as_stored(hit: Any, chunk: StoredChunkLike) -> Any:
    """The hit with what ChunksTable holds now (an edit shows before the index catches up)."""
    if not is_dataclass(hit) or isinstance(hit, type):
        return hit
    return replace(
        hit,
        content=chunk.content,
        important_keywords=tuple(chunk.important_keywords),
        questions=tuple(chunk.questions),
    )


def verified_page(
    question: str, ranked: Sequence[Ranked[Any]], total: int, options: RetrievalOptions, chunks: CurrentChunks | None
) -> Ranking[Any]:
    """The page cut from `ranked` (every kept hit, best first) after checking, in rank order and
    only as far as the page reaches, that each hit's chunk is still stored and available."""
    size = max(1, options.page_size)
    end = (max(1, options.page) - 1) * size + size
    kept: list[Ranked[Any]] = []
    dropped, checked = 0, 0
    while len(kept) < end and checked < len(ranked):
        batch = list(ranked[checked : checked + min(_BATCH_GET_KEYS, end - len(kept))])
        checked += len(batch)
        keyed = [(r.hit.document_id, getattr(r.hit, "chunk_key", "")) for r in batch]
        current = chunks.current([key for key in keyed if key[1]]) if chunks is not None else {}
        for item, key in zip(batch, keyed, strict=True):
            if chunks is None or not key[1]:
                kept.append(item)  # a row indexed before chunk_key existed: the document filter alone
                continue
            stored = current.get(key)
            if stored is None or not stored.available:
                dropped += 1
                continue
            kept.append(replace(item, hit=_as_stored(item.hit, stored)))
    page = kept[end - size : end]
    if options.highlight:
        page = [replace(item, highlight=highlight(item.hit.content, question)) for item in page]
    remaining = [item.hit for item in ranked[checked:]]
    return Ranking(page, total - dropped, doc_aggs([item.hit for item in kept] + remaining))


def retrieve(
    query: RetrievalQuery,
    tenant_id: str,
    dataset_store: DatasetStore,
    document_store: RetrievalDocuments,
    open_index: IndexOpener,
    chunks: CurrentChunks | None = None,
    wait_seconds: float = INDEX_WAIT_SECONDS,
) -> Retrieved:
    datasets = owned_datasets(dataset_store, tenant_id, query.dataset_ids, query.foreign_dataset_message)
    same_embedding_model(datasets)
    dataset_ids = [dataset.id for dataset in datasets]
    document_ids: list[str] | None = None
    if query.document_ids:
        if query.refuse_unknown_documents:
            named = _documents_of(document_store, dataset_ids, query.document_ids)
            for document_id in query.document_ids:
                if document_id not in named:
                    raise DataError(f"The datasets don't own the document {document_id}")
        document_ids = list(dict.fromkeys(query.document_ids))
    if query.metadata_conditions:  # with document ids too (only the dataset search sends both): their union
        matched = _documents_matching_metadata(
            document_store, datasets, query.metadata_conditions, query.metadata_logic
        )
        document_ids = list(dict.fromkeys([*(document_ids or []), *matched]))
        if not document_ids:
            return Retrieved(Ranking([], 0, []), {})
    if not query.question.strip():
        return Retrieved(Ranking([], 0, []), {})
    candidates = max(1, min(query.options.top_k, MAX_TOP_K))
    hits: list[Any] = []
    for index in caught_up_indexes(datasets, tenant_id, dataset_store, open_index, wait_seconds):
        hits += index.search(query.question, document_ids=document_ids, candidates=candidates)
    by_dataset: dict[str, set[str]] = {}
    for hit in hits:
        by_dataset.setdefault(hit.dataset_id, set()).add(hit.document_id)
    documents: dict[str, Document] = {}
    for dataset_id, ids in by_dataset.items():
        if dataset_id in dataset_ids:
            documents.update(_documents_of(document_store, [dataset_id], sorted(ids)))
    shown = [_current_name(hit, documents) for hit in hits if hit.dataset_id in dataset_ids and visible(hit, documents)]
    if chunks is None:
        return Retrieved(rank(query.question, shown, query.options), documents)
    everything = replace(query.options, page=1, page_size=max(1, len(shown)), highlight=False)
    ranked = rank(query.question, shown, everything)
    return Retrieved(verified_page(query.question, ranked.chunks, ranked.total, query.options, chunks), documents)
