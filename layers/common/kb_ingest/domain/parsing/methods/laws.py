"""``laws`` (RAGFlow's ``rag/app/laws.py``): statutes, regulations, contracts cut by their numbering.

The numbering style most lines follow (第一章/第一条, 1./1.1, Chapter/Section/Article, Markdown
``#``; headings of DOCX and Markdown files count as titles) is found, a table of contents is
dropped, and the titles form a tree two levels deep: each title of the second kept level (an
article, say) is one chunk with the text under it, prefixed by the titles above it (its chapter).
``chunk_token_num`` does not apply, as in RAGFlow. Without any numbering, each line is a chunk.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..chunking import Chunk
from . import Chunked, Source
from ._structure import bullets_category, is_english, lines_and_tables, remove_contents_table, tree_chunks

DEPTH = 2


def chunk(source: Source) -> Chunked:
    def chunks() -> Iterator[Chunk]:
        lines, tables = lines_and_tables(source.blocks())
        lines = remove_contents_table(lines, is_english(lines))
        yield from tables
        yield from tree_chunks(bullets_category(line.text for line in lines), lines, DEPTH)

    return Chunked(chunks(), "laws")
