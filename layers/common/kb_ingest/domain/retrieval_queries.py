"""A retrieval request end to end: the caller's datasets, one embedding model across them, the
documents asked for (by id or by metadata), each dataset's index searched, hits of documents
that are gone, disabled or re-parsed since dropped, then RAGFlow's ranking (domain.retrieval).

The index is reached through `open_index` (kb_ingest.search in the search functions), so this
module imports no engine. Both API views (today's `/retrieval`, Dify's external knowledge
route) call `retrieve` and shape its Ranking their own way.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, is_dataclass, replace
from typing import Any, Protocol

from kb_ingest.domain.datasets import Dataset, DatasetStore
from kb_ingest.domain.documents import Document
from kb_ingest.domain.errors import DataError
from kb_ingest.domain.listing import DocumentFilter, MetadataCondition, matches
from kb_ingest.domain.retrieval import MAX_TOP_K, Ranking, RetrievalOptions, rank

ENABLED = "1"
_BATCH_GET_KEYS = 100
_MAX_ID_LENGTH = 128


class IndexedHit(Protocol):
    """What retrieval reads of an index hit (kb_ingest.search.index.Hit)."""

    @property
    def chunk_id(self) -> str: ...
    @property
    def document_id(self) -> str: ...
    @property
    def dataset_id(self) -> str: ...
    @property
    def document_name(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def important_keywords(self) -> tuple[str, ...]: ...
    @property
    def questions(self) -> tuple[str, ...]: ...
    @property
    def vector_similarity(self) -> float: ...
    @property
    def generation(self) -> str: ...
    @property
    def available(self) -> bool: ...


class SearchIndex(Protocol):
    def search(self, question: str, *, document_ids: Sequence[str] | None, candidates: int) -> Sequence[Any]: ...


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


@dataclass(frozen=True)
class Retrieved:
    ranking: Ranking[Any]
    documents: dict[str, Document]  # the hits' documents, by id


def _could_be_an_id(value: str) -> bool:
    """Ids are short tokens: anything else cannot name a record (and is not sent to DynamoDB,
    which refuses empty or oversized keys)."""
    return 0 < len(value) <= _MAX_ID_LENGTH


def owned_datasets(store: DatasetStore, tenant_id: str, dataset_ids: Sequence[str]) -> list[Dataset]:
    """The caller's datasets, in the order named (one BatchGet); another tenant's dataset
    answers as a missing one."""
    wanted = list(dict.fromkeys(dataset_ids))
    found = store.get_many(tenant_id, [dataset_id for dataset_id in wanted if _could_be_an_id(dataset_id)])
    for dataset_id in wanted:
        if dataset_id not in found:
            raise DataError(f"You don't own the dataset {dataset_id}.")
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


def retrieve(
    query: RetrievalQuery,
    tenant_id: str,
    dataset_store: DatasetStore,
    document_store: RetrievalDocuments,
    open_index: IndexOpener,
) -> Retrieved:
    datasets = owned_datasets(dataset_store, tenant_id, query.dataset_ids)
    same_embedding_model(datasets)
    dataset_ids = [dataset.id for dataset in datasets]
    document_ids: list[str] | None = None
    if query.document_ids:
        named = _documents_of(document_store, dataset_ids, query.document_ids)
        for document_id in query.document_ids:
            if document_id not in named:
                raise DataError(f"The datasets don't own the document {document_id}")
        document_ids = list(dict.fromkeys(query.document_ids))
    elif query.metadata_conditions:
        document_ids = _documents_matching_metadata(
            document_store, datasets, query.metadata_conditions, query.metadata_logic
        )
        if not document_ids:
            return Retrieved(Ranking([], 0, []), {})
    if not query.question.strip():
        return Retrieved(Ranking([], 0, []), {})
    candidates = max(1, min(query.options.top_k, MAX_TOP_K))
    hits: list[Any] = []
    for dataset in datasets:
        hits += open_index(dataset).search(query.question, document_ids=document_ids, candidates=candidates)
    by_dataset: dict[str, set[str]] = {}
    for hit in hits:
        by_dataset.setdefault(hit.dataset_id, set()).add(hit.document_id)
    documents: dict[str, Document] = {}
    for dataset_id, ids in by_dataset.items():
        if dataset_id in dataset_ids:
            documents.update(_documents_of(document_store, [dataset_id], sorted(ids)))
    shown = [_current_name(hit, documents) for hit in hits if hit.dataset_id in dataset_ids and visible(hit, documents)]
    ranking = rank(query.question, shown, query.options)
    return Retrieved(ranking, documents)
