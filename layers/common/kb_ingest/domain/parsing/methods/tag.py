"""``tag`` (RAGFlow's ``rag/app/tag.py``): a tag set, each entry a text and the tags it carries.

Spreadsheets and CSV files: the first filled cell of a row is the text, the second its tags.
Text files: each line ``text<TAB>tags`` (or ``text,tags`` when commas split more lines into two
fields than tabs do) ends an entry; lines without that form are added to the next entry's text.
Each entry is a chunk of its text with ``tags`` set (comma-separated, dots turned into
underscores, as RAGFlow stores ``tag_kwd``). Using a tag set to tag another dataset's chunks is a
retrieval step, not part of parsing.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import sniff
from ..chunking import Chunk
from ..errors import ParseError
from ..tokens import count_tokens
from . import Chunked, Source
from ._structure import lines_and_tables

NO_TAGS = (
    "No tagged entries were found; put each text and its comma-separated tags in the first two columns "
    "of a spreadsheet, or write them as 'text<TAB>tags' lines."
)


def tags_of(value: str) -> tuple[str, ...]:
    return tuple(t.strip().replace(".", "_") for t in value.split(",") if t.strip())


def chunk(source: Source) -> Chunked:
    def from_rows() -> Iterator[Chunk]:
        for row in source.rows():
            filled = [cell for cell in row.cells if cell.strip()]
            if len(filled) < 2 or row.kind == "header":
                continue
            text = filled[0].strip()
            yield Chunk(text, count_tokens(text), row.page, row.offset, tags=tags_of(filled[1]))

    def from_text() -> Iterator[Chunk]:
        lines, _ = lines_and_tables(source.blocks())
        tab = sum(1 for line in lines if len(line.text.split("\t")) == 2)
        comma = sum(1 for line in lines if len(line.text.split(",")) == 2)
        separator = "\t" if tab >= comma else ","
        pending: list[str] = []
        start = None
        for line in lines:
            fields = line.text.split(separator)
            if start is None:
                start = line
            if len(fields) != 2:
                pending.append(line.text)
                continue
            text = "\n".join([*pending, fields[0].strip()]).strip()
            if text:
                yield Chunk(text, count_tokens(text), start.page, start.offset, tags=tags_of(fields[1]))
            pending, start = [], None

    def checked(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        found = False
        for item in chunks:
            found = True
            yield item
        if not found:
            raise ParseError(NO_TAGS)

    tabular = source.kind in sniff.SPREADSHEET_KINDS
    return Chunked(checked(from_rows() if tabular else from_text()), "tag")
