"""A stand-in for kb_ingest.search (the engine's interface: DatasetIndex, IndexedChunk,
embedder_for), for tests of what reaches the index while the engine is not installed.

It keeps exactly what the index would hold, chunk by chunk, as one JSON object under the
dataset's index prefix (`index/{tenant}/{dataset}/`) in the documents bucket, where the real
index keeps its tables: whatever removes the real index removes this one. `search` is word
overlap; ranking is the engine's business."""

from __future__ import annotations

import json
import sys
import threading
import types
from dataclasses import asdict, dataclass, replace
from typing import Any

_lock = threading.Lock()


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
    positions: Any = None
    generation: str = ""
    image_id: str = ""


def _key(tenant_id: str, dataset_id: str) -> str:
    return f"index/{tenant_id}/{dataset_id}/fake-index.json"


def _s3() -> tuple[Any, str]:
    from kb_ingest.dal.clients import client
    from kb_ingest.settings import get_settings

    return client("s3"), get_settings().documents_bucket


def rows(tenant_id: str, dataset_id: str) -> dict[str, IndexedChunk]:
    """What the index of a dataset holds now, chunk id -> IndexedChunk (empty when there is none)."""
    s3, bucket = _s3()
    try:
        body = s3.get_object(Bucket=bucket, Key=_key(tenant_id, dataset_id))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return {}
    return {
        row["chunk_id"]: IndexedChunk(**{**row, "important_keywords": tuple(row["important_keywords"]),
                                         "questions": tuple(row["questions"])})
        for row in json.loads(body)
    }  # fmt: skip


class FakeDatasetIndex:
    def __init__(self, tenant_id: str, dataset_id: str) -> None:
        self.tenant_id, self.dataset_id = tenant_id, dataset_id

    @classmethod
    def open(cls, tenant_id: str, dataset_id: str, embedder: Any = None) -> FakeDatasetIndex:
        return cls(tenant_id, dataset_id)

    @staticmethod
    def drop(tenant_id: str, dataset_id: str) -> None:
        s3, bucket = _s3()
        s3.delete_object(Bucket=bucket, Key=_key(tenant_id, dataset_id))

    def _change(self, change: Any) -> None:
        with _lock:
            current = rows(self.tenant_id, self.dataset_id)
            change(current)
            s3, bucket = _s3()
            body = json.dumps([asdict(row) for row in current.values()]).encode()
            s3.put_object(Bucket=bucket, Key=_key(self.tenant_id, self.dataset_id), Body=body)

    def upsert(self, chunks: Any) -> None:
        self._change(lambda current: current.update({chunk.chunk_id: chunk for chunk in chunks}))

    def replace_document(self, document_id: str, chunks: Any) -> None:
        def change(current: dict[str, IndexedChunk]) -> None:
            for chunk_id in [k for k, v in current.items() if v.document_id == document_id]:
                del current[chunk_id]
            current.update({chunk.chunk_id: chunk for chunk in chunks})

        self._change(change)

    def replace_documents(self, chunks_by_document: Any) -> None:
        for document_id, chunks in chunks_by_document.items():
            self.replace_document(document_id, chunks)

    def delete_chunks(self, chunk_ids: Any) -> None:
        self._change(lambda current: [current.pop(chunk_id, None) for chunk_id in chunk_ids])

    def delete_documents(self, document_ids: Any) -> None:
        gone = set(document_ids)

        def change(current: dict[str, IndexedChunk]) -> None:
            for chunk_id in [k for k, v in current.items() if v.document_id in gone]:
                del current[chunk_id]

        self._change(change)

    def set_available(self, chunk_ids: Any, available: bool) -> None:
        def change(current: dict[str, IndexedChunk]) -> None:
            for chunk_id in chunk_ids:
                if chunk_id in current:
                    current[chunk_id] = replace(current[chunk_id], available=available)

        self._change(change)

    def search(self, question: str, document_ids: Any = None, candidates: int = 64) -> list[IndexedChunk]:
        words = set(question.lower().split())
        hits = [r for r in rows(self.tenant_id, self.dataset_id).values() if words & set(r.content.lower().split())]
        return [r for r in hits if document_ids is None or r.document_id in document_ids][:candidates]

    def count(self) -> int:
        return len(rows(self.tenant_id, self.dataset_id))

    def needs_compaction(self) -> bool:
        return False  # one object per dataset: nothing to merge

    def compact(self) -> None:
        pass


def install() -> bool:
    """Make `kb_ingest.search` this fake when the engine is not installed; False when it is."""
    try:
        import kb_ingest.search.index  # noqa: F401
    except ImportError:
        pass
    else:
        return False
    package = types.ModuleType("kb_ingest.search")
    package.__path__ = []
    index = types.ModuleType("kb_ingest.search.index")
    index.DatasetIndex = FakeDatasetIndex  # type: ignore[attr-defined]
    index.IndexedChunk = IndexedChunk  # type: ignore[attr-defined]
    embedders = types.ModuleType("kb_ingest.search.embedders")
    embedders.embedder_for = lambda embedding_model: None  # type: ignore[attr-defined]
    sys.modules.update({"kb_ingest.search": package, "kb_ingest.search.index": index,
                        "kb_ingest.search.embedders": embedders})  # fmt: skip
    return True


def uninstall() -> None:
    for name in ("kb_ingest.search.embedders", "kb_ingest.search.index", "kb_ingest.search"):
        sys.modules.pop(name, None)
