"""Value types shared by the extractors and the chunkers (stdlib only)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from .errors import ResourceLimitExceeded

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class TextBlock:
    """A run of a document's text.

    The document's *extracted text* is the plain concatenation of its blocks' ``text`` in the
    order ``extract`` yields them; every offset in this package (``Chunk.offset``,
    ``SheetRow.offset``) counts characters in that string. Extractors end a block with a newline
    wherever the document has a break (page, slide, sheet, paragraph), so nothing is glued together
    by the concatenation. ``page`` is the 1-based page (PDF), slide (PPTX) or sheet (XLSX/XLS)
    number, ``None`` for formats without pages.
    """

    text: str
    page: int | None = None


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
