"""Spreadsheets and CSV: rows with their header, streamed.

Readers (openpyxl read-only for .xlsx, xlrd for .xls, the csv module for CSV/TSV and for text
files parsed as tables) yield raw rows of cell strings; :func:`structure` finds titles, headers
and data rows in them; :func:`blocks_from_rows` renders them as ``extract`` text, one line per row.

Header detection, per sheet: single-filled-cell rows before a table (at the top of the sheet or
after an empty row) are titles ("Stanley Cups" above "Team, Location, Stanley Cups"); the next
row with two or more filled cells is the header; the rows under it are data until an empty row
followed by a new title starts another table. More than five single-cell rows in a row are a
one-column table, whose first row is its header. A data row renders as
``Header1: v1; Header2: v2`` (empty cells left out, an empty header cell takes the name on its
left as merged header cells do, ``Column N`` where there is none).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from typing import Any

from . import sniff
from ._text import clean_text, detect_encoding, iter_decode, looks_binary
from ._zipguard import check_zip
from .errors import (
    NOT_TEXT,
    CorruptDocument,
    PasswordProtected,
    ResourceLimitExceeded,
    UnsupportedFormat,
    damaged_message,
    password_message,
)
from .model import Deadline, ExtractLimits, SheetRow, TextBlock

RawSheet = tuple[str | None, Iterator[tuple[int, list[str]]]]  # (sheet name, rows of (1-based index, cells))

_MAX_TITLE_RUN = 5
_BLOCK_CHARS = 64 * 1024


class _CellBudget:
    def __init__(self, limits: ExtractLimits) -> None:
        self.limit = limits.max_cells
        self.used = 0

    def spend(self, cells: int) -> None:
        self.used += max(cells, 1)
        if self.used > self.limit:
            self.exceeded()

    def exceeded(self) -> None:
        raise ResourceLimitExceeded(
            f"This spreadsheet has more than {self.limit:,} cells, the most this deployment reads; "
            "split it into smaller files."
        )


# --- cell values ---------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return " ".join(clean_text(value).split())
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(clean_text(str(value)).split())


# --- readers -------------------------------------------------------------------------------------


def _xlsx_sheets(data: bytes, budget: _CellBudget, limits: ExtractLimits) -> tuple[int, Iterator[RawSheet]]:
    """The workbook's worksheets through openpyxl's reader, read the way its read-only mode reads
    them (``iter_rows(min_row=1, min_col=1, values_only=True)`` after ``reset_dimensions()``) but
    streamed: see ``_xlsx_rows``.

    Only the parts that values need are read (content types, shared strings, workbook, styles for
    the date formats): ``load_workbook(read_only=True)`` also scans each sheet whole for its
    dimensions when the sheet does not declare them, which writers such as openpyxl's own
    write-only mode leave out, holding every row it passes (3.6 MiB and 2 s for 50,000 rows).
    """
    what = sniff.what(sniff.XLSX)
    check_zip(data, limits, what)
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet

    try:
        reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise CorruptDocument(damaged_message(what)) from exc
    try:
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        # Chart sheets have no cells.
        worksheets = [
            (sheet.name, rel.target)
            for sheet, rel in reader.parser.find_sheets()
            if rel.target in reader.valid_files and "chartsheet" not in rel.Type
        ]
    except Exception as exc:
        reader.archive.close()
        raise CorruptDocument(damaged_message(what)) from exc

    def rows(path: str) -> Iterator[tuple[int, list[str]]]:
        try:
            for index, values in enumerate(_xlsx_rows(reader, path), 1):
                budget.spend(len(values))
                yield index, [cell_text(v) for v in values]
        except ResourceLimitExceeded:
            raise
        except Exception as exc:
            raise CorruptDocument(damaged_message(what)) from exc

    def sheets() -> Iterator[RawSheet]:
        try:
            for title, path in worksheets:
                yield title, rows(path)
        finally:
            reader.archive.close()

    return len(worksheets), sheets()


def _xlsx_rows(reader: Any, path: str) -> Iterator[list[Any] | tuple[Any, ...]]:
    """A worksheet's rows of cell values, as openpyxl's read-only ``iter_rows(values_only=True)``
    gives them for a sheet without dimensions: a missing row is ``[]``, a row is as wide as its
    last cell, values parsed by openpyxl's own ``WorkSheetParser.parse_row``.

    openpyxl's loop clears each row once parsed but leaves it in the tree under ``sheetData``
    (80 bytes a row, 4 MiB for 50,000); here it is removed too, so memory does not grow.
    """
    from xml.etree.ElementTree import iterparse

    from openpyxl.worksheet._reader import DATA_TAG, ROW_TAG, WorkSheetParser

    wb = reader.wb
    counter = 1
    with reader.archive.open(path) as src:
        parser = WorkSheetParser(
            src,
            reader.shared_strings,
            data_only=wb.data_only,
            epoch=wb.epoch,
            date_formats=wb._date_formats,
            timedelta_formats=wb._timedelta_formats,
        )
        sheet_data = None
        for event, element in iterparse(src, events=("start", "end")):
            if event == "start":
                if element.tag == DATA_TAG:
                    sheet_data = element
                continue
            if element.tag != ROW_TAG:
                continue
            idx, cells = parser.parse_row(element)
            element.clear()
            if sheet_data is not None:
                sheet_data.remove(element)
            for _ in range(counter, idx):  # rows the file leaves out
                counter += 1
                yield []
            if counter <= idx:  # a row number already passed is skipped, as openpyxl does
                counter += 1
                if not cells:
                    yield ()
                    continue
                values: list[Any] = [None] * cells[-1]["column"]
                for cell in cells:
                    column = cell["column"]
                    if 1 <= column <= len(values):
                        values[column - 1] = cell["value"]
                yield tuple(values)


def _xls_sheets(data: bytes, budget: _CellBudget) -> tuple[int, Iterator[RawSheet]]:
    import xlrd

    what = sniff.what(sniff.XLS)
    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except xlrd.XLRDError as exc:
        if "encrypt" in str(exc).lower():
            raise PasswordProtected(password_message(what)) from exc
        raise CorruptDocument(damaged_message(what)) from exc
    except Exception as exc:
        raise CorruptDocument(damaged_message(what)) from exc

    def rows(sheet: Any) -> Iterator[tuple[int, list[str]]]:
        for r in range(sheet.nrows):
            cells = sheet.row(r)
            budget.spend(len(cells))
            yield r + 1, [_xls_cell_text(cell, book.datemode, xlrd) for cell in cells]

    def sheets() -> Iterator[RawSheet]:
        try:
            for sheet_index in range(book.nsheets):
                try:
                    sheet = book.sheet_by_index(sheet_index)
                except Exception as exc:
                    raise CorruptDocument(damaged_message(what)) from exc
                if sheet.nrows * sheet.ncols + budget.used > budget.limit:
                    budget.exceeded()
                yield sheet.name, rows(sheet)
                book.unload_sheet(sheet_index)
        finally:
            book.release_resources()

    return book.nsheets, sheets()


def _xls_cell_text(cell: Any, datemode: int, xlrd: Any) -> str:
    ctype, value = cell.ctype, cell.value
    if ctype == xlrd.XL_CELL_DATE:
        try:
            return cell_text(xlrd.xldate.xldate_as_datetime(value, datemode))
        except Exception:
            return cell_text(value)
    if ctype == xlrd.XL_CELL_BOOLEAN:
        return "TRUE" if value else "FALSE"
    if ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERROR")
    if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return ""
    return cell_text(value)


def _lines(blocks: Iterable[str]) -> Iterator[str]:
    """Lines (with their ``\\n``) from text blocks that may end mid-line."""
    carry = ""
    for block in blocks:
        parts = (carry + block).split("\n")
        carry = parts.pop()
        for part in parts:
            yield part + "\n"
    if carry:
        yield carry


def sniff_delimiter(sample: str) -> tuple[str, bool]:
    """``(delimiter, skip initial space)`` for a CSV sample; a comma when nothing fits."""
    lines = sample.split("\n")[:50]
    sample = "\n".join(lines)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        return dialect.delimiter, bool(dialect.skipinitialspace)
    except csv.Error:
        pass
    best, best_score = ",", 0
    for delimiter in ",;\t|":
        counts = [line.count(delimiter) for line in lines if line.strip()]
        if counts and min(counts) > 0:
            score = sum(counts)
            if score > best_score:
                best, best_score = delimiter, score
    return best, False


def _csv_sheets(data: bytes, kind: str, budget: _CellBudget, limits: ExtractLimits) -> tuple[int, Iterator[RawSheet]]:
    if looks_binary(data):
        raise UnsupportedFormat(NOT_TEXT)
    limit = min(max(limits.max_bytes, 1 << 20), 2**31 - 1)
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)  # a single cell may be as long as the file
    encoding, start = detect_encoding(data)
    blocks = iter_decode(data, encoding, start=start)
    first = next(blocks, "")
    if kind == sniff.TSV:
        delimiter, skip_space = "\t", False
    else:
        delimiter, skip_space = sniff_delimiter(first[: 32 * 1024])

    def all_blocks() -> Iterator[str]:
        yield first
        yield from blocks

    def rows() -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(
            _lines(all_blocks()),
            delimiter=delimiter,
            quotechar='"',
            doublequote=True,
            skipinitialspace=skip_space,
            strict=False,
        )
        try:
            for index, values in enumerate(reader, 1):
                budget.spend(len(values))
                yield index, [" ".join(v.split()) for v in values]
        except csv.Error as exc:
            raise CorruptDocument(damaged_message("This CSV file")) from exc

    return 1, iter([(None, rows())])


def raw_sheets(data: bytes, kind: str, limits: ExtractLimits) -> tuple[int, Iterator[RawSheet]]:
    """``(number of sheets, sheets)``; a CSV file is one sheet without a name."""
    budget = _CellBudget(limits)
    if kind == sniff.XLSX:
        return _xlsx_sheets(data, budget, limits)
    if kind == sniff.XLS:
        return _xls_sheets(data, budget)
    return _csv_sheets(data, kind, budget, limits)


# --- structure -----------------------------------------------------------------------------------


def _header_names(header: tuple[str, ...]) -> list[str]:
    names: list[str] = []
    last = ""
    for i, name in enumerate(header):
        if name:
            last = name
        names.append(name or last or f"Column {i + 1}")
    return names


def render_data(cells: tuple[str, ...], header: tuple[str, ...]) -> str:
    names = _header_names(header)
    parts: list[tuple[str, list[str]]] = []
    previous = -2
    for i, value in enumerate(cells):
        if not value:
            continue
        name = names[i] if i < len(names) else f"Column {i + 1}"
        if parts and parts[-1][0] == name and previous == i - 1:
            parts[-1][1].append(value)
        else:
            parts.append((name, [value]))
        previous = i
    return "; ".join(f"{name}: {', '.join(values)}" for name, values in parts)


class _Structure:
    """The title/header/data state machine, sheet by sheet (see the module docstring)."""

    def __init__(self, name_sheets: bool) -> None:
        self.name_sheets = name_sheets
        self.offset = 0

    def start_sheet(self, number: int, name: str | None) -> None:
        self.sheet, self.name = number, name
        self.named = not self.name_sheets
        self.header: tuple[str, ...] | None = None
        self.header_index = 0
        self.header_shown = False  # a header row is yielded once a data row follows (or alone at the end)
        self.titles: list[tuple[int, tuple[str, ...]]] = []
        self.after_blank = True

    def _row(self, index: int, kind: str, cells: tuple[str, ...], header: tuple[str, ...], text: str) -> SheetRow:
        row = SheetRow(self.sheet, self.name, index, kind, cells, header, text, self.offset)  # type: ignore[arg-type]
        if text:
            self.offset += len(text) + 1
        return row

    def _emit(
        self, out: list[SheetRow], index: int, kind: str, cells: tuple[str, ...], header: tuple[str, ...], text: str
    ) -> None:
        if not self.named:
            self.named = True
            out.append(self._row(0, "title", (self.name or "",), (), f"Sheet: {self.name}"))
        out.append(self._row(index, kind, cells, header, text))

    def _data(self, out: list[SheetRow], index: int, cells: tuple[str, ...]) -> None:
        assert self.header is not None
        if not self.header_shown:
            self.header_shown = True
            self._emit(out, self.header_index, "header", self.header, (), "")
        self._emit(out, index, "data", cells, self.header, render_data(cells, self.header))

    def _flush_titles(self, out: list[SheetRow]) -> None:
        for index, cells in self.titles:
            self._emit(out, index, "title", cells, (), next(c for c in cells if c))
        self.titles.clear()

    def _flush_header(self, out: list[SheetRow]) -> None:
        if self.header is not None and not self.header_shown:
            self.header_shown = True
            self._emit(out, self.header_index, "header", self.header, (), "; ".join(c for c in self.header if c))

    def row(self, index: int, raw: list[str]) -> list[SheetRow]:
        out: list[SheetRow] = []
        while raw and not raw[-1]:
            raw.pop()
        cells = tuple(raw)
        filled = sum(1 for c in cells if c)
        if not filled:
            self._flush_titles(out)
            self.after_blank = True
            return out
        if filled == 1 and (self.header is None or self.after_blank or self.titles):
            self.titles.append((index, cells))
            self.after_blank = False
            if len(self.titles) > _MAX_TITLE_RUN:  # a one-column table, not titles
                run = list(self.titles)
                self.titles.clear()
                if self.header is None:
                    (self.header_index, self.header), run = run[0], run[1:]
                    self.header_shown = False
                for data_index, data_cells in run:
                    self._data(out, data_index, data_cells)
            return out
        if self.titles:  # titles, then a row of several cells: a new table starts with its header
            self._flush_titles(out)
            self._flush_header(out)
            self.header = None
        self.after_blank = False
        if self.header is None:
            self.header, self.header_index, self.header_shown = cells, index, False
            return out
        self._data(out, index, cells)
        return out

    def end_sheet(self) -> list[SheetRow]:
        out: list[SheetRow] = []
        self._flush_titles(out)
        self._flush_header(out)
        return out


def structure(sheets: Iterable[RawSheet], *, name_sheets: bool, deadline: Deadline | None = None) -> Iterator[SheetRow]:
    """Rows with their kind, header, rendered text and offset in the extracted text.

    With ``name_sheets`` (workbooks of several sheets) each sheet's rows start with a title row
    ``Sheet: <name>``.
    """
    state = _Structure(name_sheets)
    for sheet_number, (sheet_name, raw_rows) in enumerate(sheets, 1):
        state.start_sheet(sheet_number, sheet_name)
        for index, raw in raw_rows:
            if deadline is not None and index % 1024 == 0:
                deadline.check()
            yield from state.row(index, raw)
        yield from state.end_sheet()


def blocks_from_rows(rows: Iterable[SheetRow], *, paged: bool) -> Iterator[TextBlock]:
    """The ``extract`` text of the rows: one line per row that has text, a block per sheet."""
    lines: list[str] = []
    size = 0
    sheet: int | None = None
    for r in rows:
        if r.sheet != sheet and lines:
            yield TextBlock("".join(lines), sheet if paged else None)
            lines, size = [], 0
        sheet = r.sheet
        if r.text:
            lines.append(r.text + "\n")
            size += len(r.text) + 1
            if size >= _BLOCK_CHARS:
                yield TextBlock("".join(lines), sheet if paged else None)
                lines, size = [], 0
    if lines:
        yield TextBlock("".join(lines), sheet if paged else None)
