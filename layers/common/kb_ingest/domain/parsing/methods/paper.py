"""``paper`` (RAGFlow's ``rag/app/paper.py``): academic papers, one chunk per section.

The abstract (a paragraph starting "Abstract" or "摘要", or the paragraph right after such a
heading, within the first 32 lines) is a chunk of its own, marked with RAGFlow's important
keywords (abstract, summary, ...); what comes before it (title, authors) is not chunked, as in
RAGFlow. The rest is cut into sections: the title level that occurs most often (numbered
headings such as "1 Introduction", "2.1 Method", or the headings a DOCX/Markdown file marks) is
the pivot, and the lines between two pivot titles form one chunk, however long. Tables are chunks
of their own. RAGFlow reads only PDFs with this method; here any format with text can be used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..chunking import Chunk
from ..tokens import count_tokens
from . import Chunked, Source
from ._structure import Line, bullets_category, chunk_of, lines_and_tables, section_ids, title_levels

ABSTRACT_KEYWORDS = ("abstract", "总结", "概括", "summary", "summarize")
_ABSTRACT = re.compile(r"(abstract|摘要)", re.IGNORECASE)
_LONG_WORDS, _LONG_CHARS = 32, 64  # what RAGFlow takes for a paragraph rather than a heading


def _paragraph(lines: list[Line], start: int) -> int:
    """The index after the paragraph that starts at ``start``."""
    end = start + 1
    while end < len(lines) and not lines[end].starts_paragraph and not lines[end].heading:
        end += 1
    return end


def _long(lines: list[Line]) -> bool:
    text = " ".join(line.text for line in lines)
    return len(text.split()) > _LONG_WORDS or len(text) > _LONG_CHARS


def find_abstract(lines: list[Line]) -> tuple[list[Line], int]:
    """The abstract's lines and the index where the body starts (0 and no lines when none)."""
    for index in range(min(32, len(lines))):
        if not _ABSTRACT.match(lines[index].text):
            continue
        end = _paragraph(lines, index)
        if _long(lines[index:end]):
            return lines[index:end], end
        if end < len(lines):
            after = _paragraph(lines, end)
            if _long(lines[end:after]):
                return lines[end:after], after
        return [], end
    return [], 0


def chunk(source: Source) -> Chunked:
    def chunks() -> Iterator[Chunk]:
        lines, tables = lines_and_tables(source.blocks())
        yield from tables
        abstract, start = find_abstract(lines)
        if abstract:
            text = "\n".join(line.text for line in abstract)
            yield Chunk(
                text, count_tokens(text), abstract[0].page, abstract[0].offset, important_keywords=ABSTRACT_KEYWORDS
            )
        body = lines[start:]
        if not body:
            return
        most, levels = title_levels(bullets_category(line.text for line in body), body)
        ids = section_ids(levels, most)
        section: list[Line] = [body[0]]
        for line, previous, current in zip(body[1:], ids, ids[1:], strict=False):
            if current == previous:
                section.append(line)
                continue
            yield chunk_of(section)
            section = [line]
        yield chunk_of(section)

    return Chunked(chunks(), "paper")
