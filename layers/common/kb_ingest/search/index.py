"""One LanceDB table per dataset, on S3: `s3://{DocumentsBucket}/index/{tenant_id}/{dataset_id}/`.

The same code runs in AWS and on the local stack (moto's S3 behind AWS_ENDPOINT_URL): LanceDB
reads and writes S3 itself, so there is no server to run. Each row is a chunk with its vector
and one text column carrying a native BM25 full-text index; a query runs a full-text and a
vector search under the same filter (available chunks, optionally some documents) and answers
their union, each hit with both similarities, for `domain.retrieval` to rank.

Rows added after the full-text index was built are searched too (LanceDB scans the unindexed
fragments of a query and merges them in), so the index is current after every upsert;
`compact()` folds them into the index and drops old versions, in the background.

Writes to one table are serialized by the caller (one SQS FIFO group per dataset); each is
idempotent: upserts merge on chunk_id, deletes and updates name what they change.
"""

import json
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import numpy as np

from kb_ingest.domain.errors import DataError
from kb_ingest.search.embedders import Embedder
from kb_ingest.settings import get_settings

TABLE = "chunks"
INDEX_PREFIX = "index"
# A vector index pays off only when the table outgrows a brute-force scan of its vectors.
VECTOR_INDEX_MIN_ROWS = 50_000
# Every write adds at least one small file (and a deletion file per delete): past this many small
# files a query's reads grow noticeably, so the index function compacts after its batch.
COMPACT_AT_SMALL_FRAGMENTS = 16
# Old table versions are kept this long after a compaction (a reader may still be on one).
KEEP_VERSIONS = timedelta(minutes=10)
_FILTER_CHUNK = 500  # ids per `IN (...)` clause
KEYWORD_CANDIDATES = 1024  # the keyword leg's window (RAGFlow's default top_k)


@dataclass(frozen=True)
class IndexedChunk:
    chunk_id: str
    document_id: str
    dataset_id: str
    tenant_id: str
    document_name: str
    content: str
    important_keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    available: bool = True
    positions: list | None = None  # RAGFlow's positions, returned as-is
    # The chunk's generation (the parse run that wrote it, kb_ingest.dal.chunks): retrieval drops
    # hits of a generation the document no longer shows, before the index has caught up.
    generation: str = ""
    image_id: str = ""
    # The chunk's ChunksTable range key: retrieval checks a page of hits against ChunksTable
    # (one BatchGetItem) before answering, so a delete, disable or edit shows at once.
    chunk_key: str = ""


@dataclass(frozen=True)
class Hit(IndexedChunk):
    """A chunk found by a query: term_similarity is the engine's BM25 score scaled by the best
    of the query (0 when the keyword search did not find it), vector_similarity the cosine of
    the chunk's and the question's vectors, clipped to [0, 1]."""

    term_similarity: float = 0.0
    vector_similarity: float = 0.0


class IndexEmbedderMismatch(DataError):
    """The dataset's index was built by another embedder than its model names now."""


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(column: str, values: Sequence[str]) -> Iterable[str]:
    for start in range(0, len(values), _FILTER_CHUNK):
        yield f"{column} IN ({', '.join(_quote(v) for v in values[start : start + _FILTER_CHUNK])})"


def search_text(chunk: IndexedChunk) -> str:
    """What the keyword index reads: the content with the chunk's keywords, questions and the
    document's name (RAGFlow's full-text query reads those fields too)."""
    return "\n".join([chunk.content, *chunk.important_keywords, *chunk.questions, chunk.document_name])


def dataset_uri(tenant_id: str, dataset_id: str) -> str:
    return f"s3://{get_settings().documents_bucket}/{dataset_prefix(tenant_id, dataset_id)}"


def dataset_prefix(tenant_id: str, dataset_id: str) -> str:
    return f"{INDEX_PREFIX}/{tenant_id}/{dataset_id}/"


def storage_options() -> dict[str, str]:
    """LanceDB's S3 settings: AWS's endpoint and credential chain in the cloud; locally, moto's
    endpoint (AWS_ENDPOINT_URL, as boto3 reads it) and the test credentials boto3 resolves."""
    settings = get_settings()
    options = {"region": settings.aws_region}
    if settings.aws_endpoint_url:
        import boto3

        options["endpoint"] = settings.aws_endpoint_url
        options["allow_http"] = str(settings.aws_endpoint_url.startswith("http://")).lower()
        options["virtual_hosted_style_request"] = "false"
        credentials = boto3.session.Session().get_credentials()
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            options["access_key_id"] = frozen.access_key
            options["secret_access_key"] = frozen.secret_key
            if frozen.token:
                options["session_token"] = frozen.token
    return options


@cache
def _connection(uri: str, endpoint: str) -> Any:
    import lancedb

    # read_consistency_interval 0: every read checks for a newer version (a write by another
    # container is seen at once; one small S3 read per query).
    return lancedb.connect(uri, storage_options=storage_options(), read_consistency_interval=timedelta(0))


def _connect(tenant_id: str, dataset_id: str) -> Any:
    return _connection(dataset_uri(tenant_id, dataset_id), get_settings().aws_endpoint_url)


def _schema(dimensions: int, embedder_name: str) -> Any:
    import pyarrow as pa

    fields = [
        pa.field("chunk_id", pa.string(), nullable=False),
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("dataset_id", pa.string()),
        pa.field("tenant_id", pa.string()),
        pa.field("document_name", pa.string()),
        pa.field("content", pa.string()),
        pa.field("important_keywords", pa.list_(pa.string())),
        pa.field("questions", pa.list_(pa.string())),
        pa.field("available", pa.bool_()),
        pa.field("positions", pa.string()),  # JSON: RAGFlow's nested lists, returned as they came
        pa.field("generation", pa.string()),
        pa.field("image_id", pa.string()),
        pa.field("chunk_key", pa.string()),
        pa.field("text", pa.string()),
        pa.field("vector", pa.list_(pa.float32(), dimensions)),
    ]
    return pa.schema(fields, metadata={"embedder": embedder_name})


_RETURNED = [
    "chunk_id", "document_id", "dataset_id", "tenant_id", "document_name", "content", "important_keywords",
    "questions", "available", "positions", "generation", "image_id", "chunk_key", "vector",
]  # fmt: skip


class DatasetIndex:
    """A dataset's chunks, searchable by keywords and by meaning."""

    def __init__(self, tenant_id: str, dataset_id: str, embedder: Embedder, table: Any | None) -> None:
        self.tenant_id = tenant_id
        self.dataset_id = dataset_id
        self.embedder = embedder
        self._table = table
        self._has_text_index = False  # known once seen: no index listing on every write

    @classmethod
    def open(cls, tenant_id: str, dataset_id: str, embedder: Embedder) -> "DatasetIndex":
        """The dataset's index; nothing is created until the first chunk is written."""
        table = _open_table(tenant_id, dataset_id)
        if table is not None:
            built_by = (table.schema.metadata or {}).get(b"embedder", b"").decode()
            if built_by and built_by != embedder.name:
                raise IndexEmbedderMismatch(
                    f"The dataset's index was built with embedder '{built_by}', not '{embedder.name}': "
                    "it is being rebuilt; try again once re-embedding has finished."
                )
        return cls(tenant_id, dataset_id, embedder, table)

    # ------------------------------------------------------------------ writes
    def _rows(self, chunks: Sequence[IndexedChunk]) -> Any:
        import pyarrow as pa

        vectors = self.embedder.embed_documents([search_text(chunk) for chunk in chunks])
        schema = _schema(self.embedder.dimensions, self.embedder.name)
        columns = {
            "chunk_id": [c.chunk_id for c in chunks],
            "document_id": [c.document_id for c in chunks],
            "dataset_id": [c.dataset_id for c in chunks],
            "tenant_id": [c.tenant_id for c in chunks],
            "document_name": [c.document_name for c in chunks],
            "content": [c.content for c in chunks],
            "important_keywords": [list(c.important_keywords) for c in chunks],
            "questions": [list(c.questions) for c in chunks],
            "available": [bool(c.available) for c in chunks],
            "positions": [json.dumps(c.positions) if c.positions is not None else None for c in chunks],
            "generation": [c.generation for c in chunks],
            "image_id": [c.image_id for c in chunks],
            "chunk_key": [c.chunk_key for c in chunks],
            "text": [search_text(c) for c in chunks],
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(vectors.reshape(-1), type=pa.float32()), self.embedder.dimensions
            ),
        }
        return pa.table({name: columns[name] for name in schema.names}, schema=schema)

    def _ensure_table(self) -> Any:
        if self._table is None:
            db = _connect(self.tenant_id, self.dataset_id)
            schema = _schema(self.embedder.dimensions, self.embedder.name)
            self._table = db.create_table(TABLE, schema=schema, exist_ok=True)
        if "chunk_key" not in self._table.schema.names:  # a table written before the column existed
            self._table.add_columns({"chunk_key": "CAST(NULL AS STRING)"})
        return self._table

    def _ensure_text_index(self) -> None:
        table = self._table
        if table is None or self._has_text_index:
            return
        if not any(index.columns == ["text"] for index in table.list_indices()):
            _committed(lambda: _build_text_index(table))
        self._has_text_index = True

    def upsert(self, chunks: Sequence[IndexedChunk]) -> int:
        """Embed and write these chunks, replacing any with the same chunk_id: safe to repeat."""
        chunks = _last_of_each(chunks)
        if not chunks:
            return 0
        rows = self._rows(chunks)
        table = self._ensure_table()
        _committed(
            lambda: table.merge_insert("chunk_id").when_matched_update_all().when_not_matched_insert_all().execute(rows)
        )
        self._ensure_text_index()
        return len(chunks)

    def replace_document(self, document_id: str, chunks: Sequence[IndexedChunk]) -> int:
        """A re-parse: the document's chunks become exactly these (an empty list removes them)."""
        return self.replace_documents({document_id: chunks})

    def replace_documents(self, chunks_by_document: Mapping[str, Sequence[IndexedChunk]]) -> int:
        """Many re-parses, one commit per 500 documents: each document's chunks become exactly its
        list (an empty list removes them). On S3 a commit is several object writes, and it is what
        a batch of one dataset's parses waits on, so a batch is one commit, not one per document."""
        for document_id, chunks in chunks_by_document.items():
            if any(chunk.document_id != document_id for chunk in chunks):
                raise ValueError(f"replace_documents: a chunk of {document_id} names another document")
        document_ids = sorted(chunks_by_document)
        written = 0
        for start in range(0, len(document_ids), _FILTER_CHUNK):
            group = document_ids[start : start + _FILTER_CHUNK]
            chunks = _last_of_each([chunk for document_id in group for chunk in chunks_by_document[document_id]])
            if not chunks:
                self.delete_documents(group)
                continue
            rows = self._rows(chunks)
            table = self._ensure_table()
            # One commit: rows of these documents not in the new set go, the rest are upserted.
            gone = f"document_id IN ({', '.join(_quote(document_id) for document_id in group)})"
            _committed(
                lambda: (
                    table.merge_insert("chunk_id")  # noqa: B023
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .when_not_matched_by_source_delete(gone)  # noqa: B023
                    .execute(rows)  # noqa: B023
                )
            )
            written += len(chunks)
        self._ensure_text_index()
        return written

    def _delete_where(self, clauses: Iterable[str]) -> int:
        table = self._table
        if table is None:
            return 0
        deleted = 0
        for clause in clauses:
            before = table.count_rows(clause)
            if before:
                _committed(lambda: table.delete(clause))  # noqa: B023 (called at once)
                deleted += before
        return deleted

    def delete_chunks(self, chunk_ids: Sequence[str]) -> int:
        return self._delete_where(_in("chunk_id", sorted(set(chunk_ids))))

    def delete_documents(self, document_ids: Sequence[str]) -> int:
        return self._delete_where(_in("document_id", sorted(set(document_ids))))

    def set_available(self, chunk_ids: Sequence[str], available: bool) -> int:
        table = self._table
        if table is None:
            return 0
        changed = 0
        for clause in _in("chunk_id", sorted(set(chunk_ids))):
            result = _committed(lambda: table.update(where=clause, values={"available": bool(available)}))  # noqa: B023
            changed += int(getattr(result, "rows_updated", 0) or 0)
        return changed

    # ------------------------------------------------------------------ reads
    def count(self) -> int:
        return 0 if self._table is None else int(self._table.count_rows())

    def search(self, question: str, *, document_ids: Sequence[str] | None, candidates: int) -> list[Hit]:
        """Up to `candidates` hits from the vector search (RAGFlow's top_k is its kNN's k) and
        up to KEYWORD_CANDIDATES from the keyword search, which top_k does not cut (RAGFlow's
        full-text query brings its whole ranking window whatever top_k is)
        (their union), all available, all of `document_ids` when given."""
        if self._table is None or candidates <= 0 or not question.strip():
            return []
        if document_ids is not None and not document_ids:
            return []
        where = "available = true"
        if document_ids is not None:
            where += " AND (" + " OR ".join(_in("document_id", sorted(set(document_ids)))) + ")"
        query_vector = self.embedder.embed_query(question)
        table: Any = self._table
        vector_query = (
            table.search(query_vector.tolist(), query_type="vector", vector_column_name="vector")
            .distance_type("cosine")
            .where(where, prefilter=True)
            .select([*self._returned(), "_distance"])
            .limit(candidates)
        )
        # The two legs run at once: LanceDB does the work in Rust without holding the GIL.
        with ThreadPoolExecutor(max_workers=2) as pool:
            keyword_leg = pool.submit(self._keyword_search, question, where, max(candidates, KEYWORD_CANDIDATES))
            vector_leg = pool.submit(vector_query.to_list)
            keyword_rows, vector_rows = keyword_leg.result(), vector_leg.result()
        best_score = max((float(row.get("_score") or 0.0) for row in keyword_rows), default=0.0)
        term = {row["chunk_id"]: float(row.get("_score") or 0.0) / best_score for row in keyword_rows if best_score}
        rows = {row["chunk_id"]: row for row in vector_rows}
        for row in keyword_rows:
            rows.setdefault(row["chunk_id"], row)
        return [_hit(row, term.get(chunk_id, 0.0), query_vector) for chunk_id, row in rows.items()]

    def _returned(self) -> list[str]:
        names = set(self._table.schema.names) if self._table is not None else set()
        return [name for name in _RETURNED if name in names]  # an older table may lack chunk_key

    def _keyword_search(self, question: str, where: str, candidates: int) -> list[dict[str, Any]]:
        from lancedb.query import MatchQuery

        # Any of the question's terms (MatchQuery's default OR), scored by BM25, as RAGFlow's
        # full-text query matches; a MatchQuery is not parsed as query syntax, so quotes,
        # colons and brackets in a question are plain text.
        query = MatchQuery(question, "text")  # type: ignore[call-arg]  # pydantic model; mypy misreads defaults
        table: Any = self._table
        try:
            return list(
                table.search(query, query_type="fts")
                .where(where, prefilter=True)
                .select([*self._returned(), "_score"])
                .limit(candidates)
                .to_list()
            )
        except ValueError as error:  # a question with no indexable term (only stop words, symbols)
            if "no" in str(error).lower() and "token" in str(error).lower():
                return []
            raise

    # ------------------------------------------------------------------ upkeep
    def needs_compaction(self) -> bool:
        """Whether writes have left enough small files that queries pay for them, or the table
        has outgrown a brute-force vector scan without a vector index (both read from the
        manifest already loaded: no extra request)."""
        table = self._table
        if table is None:
            return False
        stats = table.stats()  # a dict in lancedb 0.40, whatever its annotation says
        if stats["fragment_stats"]["num_small_fragments"] >= COMPACT_AT_SMALL_FRAGMENTS:
            return True
        return stats["num_rows"] >= VECTOR_INDEX_MIN_ROWS and not self._has_vector_index()

    def _has_vector_index(self) -> bool:
        table = self._table
        return table is not None and any(index.columns == ["vector"] for index in table.list_indices())

    def compact(self) -> None:
        """Fold new rows into the indexes, merge small files, drop versions no reader needs;
        past VECTOR_INDEX_MIN_ROWS, (re)build an IVF-PQ vector index."""
        table = self._table
        if table is None:
            return
        self._ensure_text_index()
        rows = table.count_rows()
        if rows >= VECTOR_INDEX_MIN_ROWS and not self._has_vector_index():
            from lancedb.index import IvfPq

            partitions = max(1, int(math.sqrt(rows)))
            sub_vectors = max(1, self.embedder.dimensions // 16)
            config = IvfPq(distance_type="cosine", num_partitions=partitions, num_sub_vectors=sub_vectors)
            table.create_index("vector", config=config, replace=True)
        table.optimize(cleanup_older_than=KEEP_VERSIONS)

    @staticmethod
    def drop(tenant_id: str, dataset_id: str) -> None:
        """Delete the dataset's index, every object under its prefix: safe to repeat."""
        from kb_ingest.dal.blobs import delete_prefix

        delete_prefix(dataset_prefix(tenant_id, dataset_id))


def _open_table(tenant_id: str, dataset_id: str) -> Any | None:
    db = _connect(tenant_id, dataset_id)
    try:
        return db.open_table(TABLE)
    except (FileNotFoundError, ValueError):  # no chunk was ever written (LanceDB: "was not found")
        return None


_COMMIT_ATTEMPTS = 6


def _committed(operation: Callable[[], Any]) -> Any:
    """Run a write, again on LanceDB's "retryable commit conflict".

    LanceDB commits optimistically: a write that loses the race to another commit on the same
    table (building the keyword index while another writer builds it, a batch redelivered while
    its first delivery still runs) is refused and is right to be tried again on the newer
    version. The FIFO group per dataset makes this rare, not impossible."""
    for attempt in range(_COMMIT_ATTEMPTS):
        try:
            return operation()
        except (RuntimeError, OSError) as error:
            if "conflict" not in str(error).lower() or attempt == _COMMIT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.05 * 2**attempt))
    raise AssertionError("unreachable")


def _build_text_index(table: Any) -> None:
    from lancedb.index import FTS

    # The native index (not tantivy), so it lives in the table on S3; English stemming and stop
    # words, as RAGFlow's tokenizer does for English.
    config = FTS(base_tokenizer="simple", language="English", stem=True, remove_stop_words=True, lower_case=True)
    table.create_index("text", config=config, replace=True)


def _last_of_each(chunks: Sequence[IndexedChunk]) -> list[IndexedChunk]:
    """One row per chunk_id (the last wins): a merge with duplicate keys would fail."""
    return list({chunk.chunk_id: chunk for chunk in chunks}.values())


def _hit(row: dict[str, Any], term_similarity: float, query_vector: np.ndarray) -> Hit:
    vector = np.asarray(row["vector"], dtype=np.float32)
    cosine = float(vector @ query_vector)
    positions = row.get("positions")
    return Hit(
        chunk_id=row["chunk_id"],
        document_id=row["document_id"],
        dataset_id=row.get("dataset_id") or "",
        tenant_id=row.get("tenant_id") or "",
        document_name=row.get("document_name") or "",
        content=row.get("content") or "",
        important_keywords=tuple(row.get("important_keywords") or ()),
        questions=tuple(row.get("questions") or ()),
        available=bool(row.get("available", True)),
        positions=json.loads(positions) if positions else None,
        generation=row.get("generation") or "",
        image_id=row.get("image_id") or "",
        chunk_key=row.get("chunk_key") or "",
        term_similarity=min(1.0, max(0.0, term_similarity)),
        vector_similarity=min(1.0, max(0.0, cosine)),
    )
