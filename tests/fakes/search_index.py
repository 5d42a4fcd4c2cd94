"""An in-memory stand-in for kb_ingest.search's DatasetIndex (the engine's interface), for tests
of what reaches the index. It keeps exactly what the index would hold, chunk by chunk, and
answers `search` by word overlap; the engine's own tests cover ranking."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

_lock = threading.Lock()
_tables: dict[tuple[str, str], dict[str, Any]] = {}


class FakeDatasetIndex:
    def __init__(self, tenant_id: str, dataset_id: str) -> None:
        self.key = (tenant_id, dataset_id)
        with _lock:
            self._rows = _tables.setdefault(self.key, {})
        self.writes = 0

    @classmethod
    def open(cls, tenant_id: str, dataset_id: str, embedder: Any = None) -> FakeDatasetIndex:
        return cls(tenant_id, dataset_id)

    @staticmethod
    def drop(tenant_id: str, dataset_id: str) -> None:
        with _lock:
            _tables.pop((tenant_id, dataset_id), None)

    def upsert(self, chunks: Any) -> None:
        with _lock:
            for chunk in chunks:
                self._rows[chunk.chunk_id] = chunk
            self.writes += 1

    def replace_document(self, document_id: str, chunks: Any) -> None:
        with _lock:
            for chunk_id in [k for k, v in self._rows.items() if v.document_id == document_id]:
                del self._rows[chunk_id]
            for chunk in chunks:
                self._rows[chunk.chunk_id] = chunk
            self.writes += 1

    def delete_chunks(self, chunk_ids: Any) -> None:
        with _lock:
            for chunk_id in chunk_ids:
                self._rows.pop(chunk_id, None)

    def delete_documents(self, document_ids: Any) -> None:
        gone = set(document_ids)
        with _lock:
            for chunk_id in [k for k, v in self._rows.items() if v.document_id in gone]:
                del self._rows[chunk_id]

    def set_available(self, chunk_ids: Any, available: bool) -> None:
        with _lock:
            for chunk_id in chunk_ids:
                if chunk_id in self._rows:
                    self._rows[chunk_id] = replace(self._rows[chunk_id], available=available)

    def search(self, question: str, document_ids: Any = None, candidates: int = 64) -> list[Any]:
        words = set(question.lower().split())
        with _lock:
            rows = list(self._rows.values())
        hits = [r for r in rows if r.available and words & set(r.content.lower().split())]
        return [r for r in hits if document_ids is None or r.document_id in document_ids][:candidates]

    def count(self) -> int:
        with _lock:
            return len(self._rows)

    def compact(self) -> None:
        pass


def rows(tenant_id: str, dataset_id: str) -> dict[str, Any]:
    """What the index of a dataset holds now, chunk id -> IndexedChunk (empty when never written)."""
    with _lock:
        return dict(_tables.get((tenant_id, dataset_id), {}))
