"""Document bytes to text blocks, one extractor per format.

``extract`` is a generator: nothing is read until the first block is asked for, so a caller can
report progress block by block (a PDF yields one block per page, a PPTX one per slide, a
workbook at least one per sheet). Errors are ``ParseError`` subclasses with messages for the user;
they are raised from the iteration (the first ``next`` for a format that cannot be read at all).

Every format library is imported inside the function that needs it: importing this package
costs nothing at a Lambda cold start.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from . import sniff
from ._text import clean_text, iter_decode
from .errors import ResourceLimitExceeded, UnsupportedFormat, mebibytes
from .model import Deadline, ExtractLimits, SheetRow, TextBlock

__all__ = ["ExtractLimits", "SheetRow", "TextBlock", "detect_format", "extract", "extract_rows"]

detect_format = sniff.detect_format

TABLE_ONLY = "Only spreadsheets and delimited text (.xlsx, .xls, .csv, .tsv, .txt) can be read as rows of a table."


def _check_size(data: bytes, limits: ExtractLimits) -> None:
    if len(data) > limits.max_bytes:
        raise ResourceLimitExceeded(
            f"This file is {mebibytes(len(data))}, more than the {mebibytes(limits.max_bytes)} this deployment parses."
        )


def extract(
    data: bytes,
    filename: str,
    *,
    pages: list[list[int]] | None = None,
    limits: ExtractLimits | None = None,
    layout_recognize: Any = None,
) -> Iterator[TextBlock]:
    """The text of a document, block by block (see ``TextBlock`` for what the blocks mean).

    The extractor is chosen by the file's content where that is unambiguous (PDF, Office zip
    packages, OLE2 containers, images, audio, archives) and otherwise by its extension
    (case-insensitive); a file of unknown type that reads as text is text. ``pages`` are
    ``[from, to]`` ranges, 1-based and inclusive, of the PDF pages to read (default all).
    An empty file yields nothing. ``layout_recognize`` is ``parser_config.layout_recognize``:
    scanned PDF pages are read by OCR unless it says ``"Plain Text"`` (see ``ocr``); image files
    are always read by OCR, as RAGFlow's picture method does.
    """
    limits = limits or ExtractLimits()
    _check_size(data, limits)
    kind = sniff.detect_format(data, filename)
    if not data:
        return
    deadline = Deadline(limits.timeout_seconds)
    for block in _blocks(data, kind, pages, limits, deadline, layout_recognize):
        deadline.check()
        text = clean_text(block.text)
        if text.strip():
            yield block if text == block.text else replace(block, text=text)


def _blocks(
    data: bytes,
    kind: str,
    pages: list[list[int]] | None,
    limits: ExtractLimits,
    deadline: Deadline,
    layout_recognize: Any = None,
) -> Iterator[TextBlock]:
    from . import ocr

    if kind in (sniff.TEXT, sniff.MARKDOWN):
        # Markdown is readable as it is: headings, code blocks and tables stay as written.
        return (TextBlock(text) for text in iter_decode(data))
    if kind == sniff.PDF:
        from ._pdf import extract_pdf

        return extract_pdf(data, pages, limits, deadline, lambda: ocr.engine_for(layout_recognize))
    if kind == sniff.IMAGE:
        from ._images import extract_image

        return extract_image(data, limits, deadline, ocr.engine_for)
    if kind == sniff.DOCX:
        from ._office import extract_docx

        return extract_docx(data, limits, deadline)
    if kind == sniff.PPTX:
        from ._office import extract_pptx

        return extract_pptx(data, limits, deadline)
    if kind in sniff.SPREADSHEET_KINDS:
        from ._sheets import blocks_from_rows

        return blocks_from_rows(_rows(data, kind, limits, deadline), paged=kind in (sniff.XLSX, sniff.XLS))
    from . import _markup

    if kind == sniff.HTML:
        return _markup.extract_html(data)
    if kind == sniff.XML:
        return _markup.extract_xml(data)
    if kind in (sniff.JSON, sniff.JSONL):
        return _markup.extract_json(data, limits, lines=kind == sniff.JSONL)
    if kind == sniff.YAML:
        return _markup.extract_yaml(data, limits)
    if kind == sniff.EML:
        return _markup.extract_eml(data, limits)
    raise AssertionError(f"no extractor for {kind!r}")  # pragma: no cover


def _rows(data: bytes, kind: str, limits: ExtractLimits, deadline: Deadline) -> Iterator[SheetRow]:
    from ._sheets import raw_sheets, structure

    count, sheets = raw_sheets(data, kind, limits)
    return structure(sheets, name_sheets=count > 1, deadline=deadline)


def is_tabular(data: bytes, filename: str) -> bool:
    """Whether ``extract_rows`` reads this file (a spreadsheet, CSV/TSV, or plain text)."""
    kind = sniff.detect_format(data, filename)
    return kind in sniff.SPREADSHEET_KINDS or kind == sniff.TEXT


def extract_rows(data: bytes, filename: str, *, limits: ExtractLimits | None = None) -> Iterator[SheetRow]:
    """The rows of a spreadsheet (.xlsx, .xls) or delimited text file (.csv, .tsv, .txt).

    The rows' ``text`` and ``offset`` agree with what ``extract`` yields for the same file
    (``extract`` renders exactly these rows). A plain text file is read as CSV with its delimiter
    sniffed (comma, semicolon, tab or bar). Other formats raise ``UnsupportedFormat``.
    """
    limits = limits or ExtractLimits()
    _check_size(data, limits)
    kind = sniff.detect_format(data, filename)
    if kind == sniff.TEXT:
        kind = sniff.CSV
    if kind not in sniff.SPREADSHEET_KINDS:
        raise UnsupportedFormat(TABLE_ONLY)
    if not data:
        return
    yield from _rows(data, kind, limits, Deadline(limits.timeout_seconds))
