"""``book`` (RAGFlow's ``rag/app/book.py``): long documents cut along their chapters and sections.

A table of contents is dropped and the numbering style most lines follow is found (as for
``laws``). With one, every line of the text becomes a chunk carrying the chain of titles above it
(part, chapter, section: up to five levels), and lines with no title above them are merged up to
218 tokens. Without numbering the text is chunked as ``naive`` (``chunk_token_num``,
``delimiter``). Tables are chunks of their own.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..chunking import Chunk, naive_chunks
from . import Chunked, Source
from ._structure import (
    blank_out,
    bullets_category,
    hierarchical_chunks,
    is_english,
    lines_and_tables,
    remove_contents_table,
)

DEPTH = 5


def chunk(source: Source) -> Chunked:
    def chunks() -> Iterator[Chunk]:
        found, tables = lines_and_tables(source.blocks())
        lines = remove_contents_table(found, is_english(found))
        style = bullets_category(line.text for line in lines)
        if style >= 0:
            yield from tables
            yield from hierarchical_chunks(style, lines, DEPTH)
            return
        # naive over the document itself (tables come out as chunks of their own there), with the
        # table of contents blanked so every offset stays the document's.
        kept = {line.offset for line in lines}
        dropped = [line for line in found if line.offset not in kept]
        yield from naive_chunks(
            blank_out(source.blocks(), dropped),
            chunk_token_num=source.chunk_token_num,
            delimiters=source.delimiter,
            overlapped_percent=source.overlapped_percent,
        )

    return Chunked(chunks(), "book")
