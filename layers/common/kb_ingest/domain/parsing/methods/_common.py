"""Helpers the methods share: falling back to naive, and the lines of a document."""

from __future__ import annotations

from collections.abc import Iterator

from ..chunking import Chunk, naive_chunks
from ..errors import UnsupportedFormat
from . import Chunked, Source


def failing(message: str) -> Iterator[Chunk]:
    """Chunks that fail with ``message`` when read (a failure comes with the chunks, as parsing does)."""
    raise UnsupportedFormat(message)
    yield  # pragma: no cover - makes this a generator


def naive(source: Source, note: str | None = None, *, parser_id: str = "naive") -> Chunked:
    """The document chunked as ``naive`` would, with ``note`` in the progress message."""
    chunks = naive_chunks(
        source.blocks(),
        chunk_token_num=source.chunk_token_num,
        delimiters=source.delimiter,
        overlapped_percent=source.overlapped_percent,
    )
    return Chunked(chunks, parser_id, [note] if note else [])
