"""Chunks: what a parse run produced and what users added or edited, one record per chunk.

Both API generations read and write the same records (kb_ingest.dal.chunks stores them).
A document's chunks belong to one *generation*: a parse run writes a new generation and
publishes it when the run ends DONE, so readers never see two runs' chunks mixed; chunks added
to a document that has none start a generation of their own. Editing a chunk costs one item.

Chunk ids follow RAGFlow: xxh64 of the content followed by the document id, hex. RAGFlow
overwrites a chunk whose content repeats (same id) while still counting it twice; here the
repeat gets the next free id of `xxh64(content + document_id + "#n")`, so every chunk a parse
produced or a user added exists and the document's counts match what is stored.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from kb_ingest.clock import new_id, now_ms
from kb_ingest.domain.documents import Document
from kb_ingest.domain.errors import ArgumentError, DataError, RangeError
from kb_ingest.domain.pagination import page_number, page_size

if TYPE_CHECKING:
    from kb_ingest.domain.datasets import DatasetStore
    from kb_ingest.domain.documents import DocumentStore

RUNNING = "1"
# Added chunks sort after every parsed one, in the order they were added (RAGFlow lists chunks
# by page and position, and chunks without a position last).
ADDED_POSITION_BASE = 10**15
# Keywords, questions and tags are stored inline with the chunk; DynamoDB's item limit is 400 KB.
MAX_LIST_FIELDS_BYTES = 64 * 1024


@dataclass(frozen=True)
class StoredChunk:
    id: str
    document_id: str
    dataset_id: str
    content: str
    position: int
    token_count: int = 0
    page: int | None = None
    offset: int | None = None
    important_keywords: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    tag_kwd: list[str] = field(default_factory=list)
    available: bool = True
    image_id: str = ""
    positions: list[list[int]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # optional fields a chunker adds
    create_time: int = 0
    update_time: int = 0


@dataclass(frozen=True)
class ChunkPage:
    chunks: list[StoredChunk]
    total: int


@dataclass(frozen=True)
class Deleted:
    count: int
    missing: list[str]


class ChunkStore(Protocol):
    def page(
        self, document: Document, offset: int, limit: int, keywords: str = "", available: bool | None = None
    ) -> ChunkPage:
        """Chunks of the visible generation in document order; the total counts every match."""

    def get(self, document: Document, chunk_id: str) -> StoredChunk | None: ...

    def exists(self, document: Document, chunk_id: str) -> bool: ...

    def add(self, document: Document, chunk: StoredChunk) -> StoredChunk | None:
        """Store the chunk and count it on the document and dataset, in one transaction; None
        when the document changed meanwhile (re-parsed, deleted): read it again."""

    def update(self, document: Document, chunk: StoredChunk, token_delta: int) -> bool:
        """Write the edited chunk; False when it (or its generation) is gone."""

    def delete(self, document: Document, chunk_ids: Sequence[str]) -> Deleted:
        """Delete these chunks of the visible generation and take them off the counts."""

    def delete_all(self, document: Document) -> int:
        """Retire the visible generation at once (counts to zero); returns how many it held."""


# ---------------------------------------------------------------- ids
def _xxh64(text: str) -> str:
    import xxhash  # small C extension; imported where chunk ids are made

    return xxhash.xxh64(text.encode("utf-8", "surrogatepass")).hexdigest()


def chunk_id(content: str, document_id: str, is_taken: Callable[[str], bool]) -> str:
    """RAGFlow's id for this content in this document, or the next free one if it repeats."""
    candidate = _xxh64(content + document_id)
    attempt = 0
    while is_taken(candidate):
        attempt += 1
        candidate = _xxh64(f"{content}{document_id}#{attempt}")
    return candidate


def new_generation() -> str:
    return new_id()


def positions_of(page: int | None) -> list[list[int]]:
    """RAGFlow's positions are [page, x0, x1, top, bottom]; text extraction knows the page only."""
    return [[page, 0, 0, 0, 0]] if page is not None else []


# ---------------------------------------------------------------- the seed API's read
MAX_SEED_PAGE = 1000


def seed_chunk(chunk: StoredChunk, index: int) -> dict[str, Any]:
    return {
        "id": chunk.id,
        "document_id": chunk.document_id,
        "index": index,
        "content": chunk.content,
        "token_count": chunk.token_count,
        "page": chunk.page,
        "offset": chunk.offset,
        "important_keywords": chunk.important_keywords,
        "questions": chunk.questions,
        "available": chunk.available,
    }


# ---------------------------------------------------------------- the current API
def owned_document(
    datasets: "DatasetStore", documents: "DocumentStore", tenant_id: str, dataset_id: str, document_id: str
) -> Document:
    """The document, checked as RAGFlow's chunk routes check it (two reads, no query)."""
    if datasets.get(tenant_id, dataset_id) is None:
        raise DataError(f"You don't own the dataset {dataset_id}.")
    document = documents.get(dataset_id, document_id)
    if document is None:
        raise DataError(f"you don't own the document {document_id}")
    return document


def page_and_size(query: Mapping[str, Any]) -> tuple[int, int]:
    return page_number(query.get("page")), page_size(query.get("page_size"))


def list_chunks(store: ChunkStore, document: Document, query: Mapping[str, Any]) -> ChunkPage:
    chunk_ref = str(query.get("id") or "").strip()
    if chunk_ref:
        found = store.get(document, chunk_ref)
        if found is None:
            raise DataError(f"Chunk not found: {document.kb_id}/{chunk_ref}")
        return ChunkPage([found], 1)
    page, size = page_and_size(query)
    available: bool | None = None
    if "available" in query and query.get("available") is not None:
        available = str(query["available"]).lower() in ("true", "1")
    keywords = str(query.get("keywords") or "").strip()
    return store.page(document, (page - 1) * size, size, keywords, available)


def get_chunk(store: ChunkStore, document: Document, chunk_ref: str) -> StoredChunk:
    found = store.get(document, chunk_ref)
    if found is None:
        raise DataError("Chunk not found!")
    return found


def _string_list(body: Mapping[str, Any], name: str, not_list: str, checks_items: bool = True) -> list[str] | None:
    """A list of strings. Where RAGFlow checks only that it is a list (update's keywords and
    questions), an item that is not a string fails as its tokenizer's join does there."""
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, list):
        raise DataError(not_list)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            if checks_items:
                raise DataError(f"`{name}` must be a list of strings")
            found = type(item).__name__
            raise RangeError(f"TypeError('sequence item {index}: expected str instance, {found} found')")
    return value


def _clean_questions(questions: list[str]) -> list[str]:
    return [question.strip() for question in questions if question.strip()]


def _is_empty(content: Any) -> bool:
    return content is None or not str(content).strip()


def _check_list_sizes(*lists: list[str]) -> None:
    if sum(len(item.encode("utf-8")) for values in lists for item in values) > MAX_LIST_FIELDS_BYTES:
        raise DataError("`important_keywords`, `questions` and `tag_kwd` together must stay under 64 KB.")


def _refuse_while_parsing(document: Document) -> None:
    # A run replaces every chunk when it ends: an edit made meanwhile would be lost or miscounted.
    if document.run == RUNNING:
        raise DataError(f"Document {document.id} is being parsed; edit its chunks when parsing ends.")


def add_chunk(
    store: ChunkStore,
    get_document: Callable[[], Document | None],
    document: Document,
    body: Mapping[str, Any],
    count_tokens: Callable[[str], int],
) -> StoredChunk:
    content = body.get("content")
    if _is_empty(content) or not isinstance(content, str):
        raise DataError("`content` is required")
    keywords = _string_list(body, "important_keywords", "`important_keywords` is required to be a list") or []
    questions = _string_list(body, "questions", "`questions` is required to be a list") or []
    tags = _string_list(body, "tag_kwd", "`tag_kwd` is required to be a list") or []
    _check_list_sizes(keywords, questions, tags)
    tokens = count_tokens(content)
    for _ in range(20):
        _refuse_while_parsing(document)
        now = now_ms()
        chunk = StoredChunk(
            id=chunk_id(content, document.id, partial(store.exists, document)),
            document_id=document.id,
            dataset_id=document.kb_id,
            content=content,
            position=ADDED_POSITION_BASE + now,
            token_count=tokens,
            important_keywords=keywords,
            questions=_clean_questions(questions),
            tag_kwd=tags,
            create_time=now,
            update_time=now,
        )
        stored = store.add(document, chunk)
        if stored is not None:
            return stored
        fresh = get_document()
        if fresh is None:
            raise DataError(f"you don't own the document {document.id}")
        document = fresh
    raise DataError("The document is changing too often; try again.")


def update_chunk(
    store: ChunkStore,
    document: Document,
    chunk_ref: str,
    body: Mapping[str, Any],
    count_tokens: Callable[[str], int],
) -> StoredChunk:
    _refuse_while_parsing(document)
    current = store.get(document, chunk_ref)
    if current is None:
        raise DataError(f"Can't find this chunk {chunk_ref}")
    changes: dict[str, Any] = {}
    content = body.get("content")
    if content is not None:
        if _is_empty(content) or not isinstance(content, str):
            raise DataError("`content` is required")
        changes["content"] = content
    keywords = _string_list(body, "important_keywords", "`important_keywords` should be a list", checks_items=False)
    if keywords is not None:
        changes["important_keywords"] = keywords
    questions = _string_list(body, "questions", "`questions` should be a list", checks_items=False)
    if questions is not None:
        changes["questions"] = _clean_questions(questions)
    tags = _string_list(body, "tag_kwd", "`tag_kwd` should be a list")
    if tags is not None:
        changes["tag_kwd"] = tags
    if "available" in body:
        changes["available"] = _available(body["available"])
    if "positions" in body:
        positions = body["positions"]
        if not isinstance(positions, list):
            raise DataError("`positions` should be a list")
        if not all(isinstance(entry, list) and len(entry) == 5 for entry in positions):
            raise DataError("Each sublist in positions must have a length of 5")
        changes["positions"] = positions
    updated = replace(current, **changes, update_time=now_ms())
    _check_list_sizes(updated.important_keywords, updated.questions, updated.tag_kwd)
    if document.parser_id == "qa" and "content" in changes:
        lines = [line for line in updated.content.replace("\t", "\n").split("\n") if len(line) > 1]
        if len(lines) != 2:
            raise DataError("Q&A must be separated by TAB/ENTER key.")
    token_delta = 0
    if "content" in changes and updated.content != current.content:
        updated = replace(updated, token_count=count_tokens(updated.content))
        token_delta = updated.token_count - current.token_count
    if not store.update(document, updated, token_delta):
        raise DataError(f"Can't find this chunk {chunk_ref}")
    return updated


def _available(value: Any) -> bool:
    """RAGFlow stores `int(available)`: true/false, numbers and numeric strings pass; any other
    string fails as int() does there (code 100, its exception)."""
    if isinstance(value, bool | int | float):
        return int(value) != 0
    if isinstance(value, str):
        try:
            return int(value) != 0
        except ValueError:
            raise RangeError(f"ValueError(\"invalid literal for int() with base 10: '{value}'\")") from None
    raise DataError("`available` should be a boolean")


@dataclass(frozen=True)
class DeleteOutcome:
    deleted: int
    message: str
    errors: list[str] = field(default_factory=list)
    partial: bool = False  # some ids were not found: RAGFlow answers an error after deleting the rest


def delete_chunks(store: ChunkStore, document: Document, body: Mapping[str, Any] | None) -> DeleteOutcome:
    """RAGFlow's rules: no body deletes nothing; `delete_all` without ids deletes every chunk;
    ids that are not found are reported after the others are deleted; duplicates are errors."""
    if not body:
        return DeleteOutcome(0, "")
    ids = body.get("chunk_ids")
    if not ids:
        if body.get("delete_all") is True:
            _refuse_while_parsing(document)
            count = store.delete_all(document)
            return DeleteOutcome(count, f"deleted {count} chunks")
        return DeleteOutcome(0, "")
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        raise ArgumentError("`chunk_ids` should be a list of strings")
    _refuse_while_parsing(document)
    unique = list(dict.fromkeys(ids))
    duplicates = [f"Duplicate chunk ids: {item}" for item in unique if ids.count(item) > 1]
    outcome = store.delete(document, unique)
    if outcome.count != len(unique):
        raise DataError(f"rm_chunk deleted chunks {outcome.count}, expect {len(unique)}")
    if duplicates:
        return DeleteOutcome(
            outcome.count,
            f"Partially deleted {outcome.count} chunks with {len(duplicates)} errors",
            duplicates,
        )
    return DeleteOutcome(outcome.count, f"deleted {outcome.count} chunks")


def matches(chunk: StoredChunk, terms: list[str], document_name: str = "") -> bool:
    """A keyword search within one document: every term appears in the content, keywords or
    questions, ignoring case (retrieval, with ranking, is a separate route). Parsed chunks match
    their document's name too, as RAGFlow indexes each parsed chunk with its title (added chunks
    are not)."""
    title = document_name if chunk.position < ADDED_POSITION_BASE else ""
    haystack = "\n".join([chunk.content, *chunk.important_keywords, *chunk.questions, title]).lower()
    return all(term in haystack for term in terms)


def keyword_terms(keywords: str) -> list[str]:
    return [term for term in keywords.lower().split() if term]
