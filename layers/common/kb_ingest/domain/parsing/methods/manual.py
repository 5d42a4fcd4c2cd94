"""``manual`` (RAGFlow's ``rag/app/manual.py``): manuals and guides, cut at their section titles.

Titles are found as for ``paper`` (the most frequent numbering or heading level is the pivot and
starts a new section). Lines are then gathered into chunks: a chunk grows while it has fewer than
32 tokens whatever the section, or fewer than 1,024 tokens within the same section; tables are
chunks of their own. RAGFlow's use of a PDF's outline (bookmarks) for the levels needs the
outline from the extractor, which it does not give: titles are read from the text.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..chunking import Chunk
from ..tokens import count_tokens
from . import Chunked, Source
from ._structure import Line, bullets_category, chunk_of, lines_and_tables, section_ids, title_levels

SMALL, LARGE = 32, 1024


def chunk(source: Source) -> Chunked:
    def chunks() -> Iterator[Chunk]:
        lines, tables = lines_and_tables(source.blocks())
        yield from tables
        if not lines:
            return
        most, levels = title_levels(bullets_category(line.text for line in lines), lines)
        current: list[Line] = []
        tokens = 0
        last_section = -2
        for line, section in zip(lines, section_ids(levels, most), strict=True):
            if current and (tokens < SMALL or (tokens < LARGE and section == last_section)):
                current.append(line)
                tokens += count_tokens(line.text)
                continue
            if current:
                yield chunk_of(current)
            current, tokens, last_section = [line], count_tokens(line.text), section
        if current:
            yield chunk_of(current)

    return Chunked(chunks(), "manual")
