"""Value types shared by the extractors and the chunkers (stdlib only)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from .errors import ResourceLimitExceeded

MiB = 1024 * 1024


BlockKind = Literal["text", "paragraph", "heading", "list_item", "table", "caption", "image_text", "code", "metadata"]
"""What a block is, as far as its extractor can tell.

- ``text``: a run of text whose structure the extractor does not know (several paragraphs, a
  whole page or slide); the default, so ``TextBlock(text, page)`` means what it always meant.
- ``paragraph``: one paragraph. ``heading``: a title; ``level`` 1 is the top (a DOCX
  ``Heading 1``, a Markdown ``#``, a slide's title). ``list_item``: one item; ``level`` is its
  nesting depth, 1 for a top-level item.
- ``table``: one table; ``table`` holds its rows and cells and ``text`` its rendering as RAGFlow
  puts a table in a chunk (``Table.html``).
- ``caption``: a figure's or table's caption that is not part of a table.
- ``image_text``: text read by OCR from a picture (a scanned page, an image file, a picture
  inside a document); RAGFlow keeps such text like any other.
- ``code``: preformatted text whose line breaks matter.
- ``metadata``: field lines about the document rather than its content (an email's
  ``From:``/``To:``/``Subject:`` lines), which RAGFlow's email method chunks on their own.
"""


@dataclass(frozen=True, slots=True)
class TableCell:
    """One cell of a table; a merged cell appears once, with its span, where it starts."""

    text: str
    colspan: int = 1
    rowspan: int = 1


@dataclass(frozen=True, slots=True)
class Table:
    """A table's rows of cells, the first ``header_rows`` of them being its header."""

    rows: tuple[tuple[TableCell, ...], ...]
    header_rows: int = 0
    caption: str | None = None

    @classmethod
    def from_rows(cls, rows: list[list[str]], *, header_rows: int = 0, caption: str | None = None) -> Table:
        return cls(tuple(tuple(TableCell(text) for text in row) for row in rows), header_rows, caption)

    def cell_texts(self) -> list[list[str]]:
        """The cells' text row by row (merged cells once, where they start)."""
        return [[cell.text for cell in row] for row in self.rows]

    def html(self) -> str:
        """The table as RAGFlow writes one into a chunk: ``<table>``, an optional ``<caption>``,
        one ``<tr>`` per line with ``<th>`` for header cells and ``<td>`` for the others, spans as
        attributes (deepdoc's table structure recogniser and the DOCX parser of ``rag/app/naive.py``
        both render tables this way)."""
        from html import escape

        parts = ["<table>"]
        if self.caption:
            parts.append(f"<caption>{escape(self.caption, quote=False)}</caption>")
        for index, row in enumerate(self.rows):
            tag = "th" if index < self.header_rows else "td"
            cells = []
            for cell in row:
                spans = (f" colspan={cell.colspan}" if cell.colspan > 1 else "") + (
                    f" rowspan={cell.rowspan}" if cell.rowspan > 1 else ""
                )
                cells.append(f"<{tag}{spans}>{escape(cell.text, quote=False)}</{tag}>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
        return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class TextBlock:
    """A run of a document's text.

    The document's *extracted text* is the plain concatenation of its blocks' ``text`` in the
    order ``extract`` yields them; every offset in this package (``Chunk.offset``,
    ``SheetRow.offset``) counts characters in that string. Extractors end a block with a newline
    wherever the document has a break (page, slide, sheet, paragraph), so nothing is glued together
    by the concatenation. ``page`` is the 1-based page (PDF), slide (PPTX) or sheet (XLSX/XLS)
    number, ``None`` for formats without pages.

    Page and slide boundaries: a page's blocks come one after another, and a new page (slide,
    sheet) starts at the first block whose ``page`` differs from the previous block's.

    ``kind`` says what the block is (see ``BlockKind``; ``"text"`` when the extractor does not
    know), ``level`` the heading level or list depth (0 otherwise), ``table`` the rows and cells of
    a ``"table"`` block, and ``source`` the file inside the document the block comes from (an
    email attachment's or an archive member's name; ``None`` for the document itself).
    """

    text: str
    page: int | None = None
    kind: BlockKind = "text"
    level: int = 0
    table: Table | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class ExtractLimits:
    """What one parse may cost; going over raises ``ResourceLimitExceeded``.

    ``timeout_seconds`` (off by default) is checked between blocks: a caller that knows its
    remaining Lambda time passes it so the parse fails with a clear message instead of being
    killed. The other limits are checked before the expensive work starts where possible.
    """

    max_bytes: int = 200 * MiB
    max_cells: int = 2_000_000
    max_zip_uncompressed: int = 500 * MiB
    max_zip_ratio: float = 200
    max_pages: int = 5000
    timeout_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One row of a spreadsheet or CSV file, as ``extract_rows`` yields it.

    ``kind`` is ``"title"`` for a caption line (a row with a single filled cell before a table's
    header, or the sheet's name in a workbook of several sheets), ``"header"`` for the row that
    names the columns of the table below it, and ``"data"`` for a row of that table.
    ``cells`` are the row's cell values as text (trailing empty cells removed); ``header`` is the
    header in effect for a data row (empty names filled from the left, ``Column N`` where none).
    ``text`` is the line ``extract`` renders for the row (``"Team: Blues; Location: STL"`` for
    data rows, the value for titles, ``""`` for a header row that is implied by the data rows
    below it) and ``offset`` where that line starts in the extracted text.
    """

    sheet: int
    sheet_name: str | None
    index: int
    kind: Literal["title", "header", "data"]
    cells: tuple[str, ...]
    header: tuple[str, ...] = ()
    text: str = ""
    offset: int = 0

    @property
    def page(self) -> int | None:
        """The sheet number in a workbook; ``None`` for CSV, which has no pages."""
        return None if self.sheet_name is None else self.sheet


@dataclass(slots=True)
class Deadline:
    """A monotonic deadline built from ``ExtractLimits.timeout_seconds``."""

    seconds: float | None
    _end: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._end = None if self.seconds is None else time.monotonic() + self.seconds

    def check(self) -> None:
        if self._end is not None and time.monotonic() > self._end:
            raise ResourceLimitExceeded(
                f"Parsing this document took longer than the {self.seconds:g} seconds allowed; "
                "split it into smaller files and upload them again."
            )
