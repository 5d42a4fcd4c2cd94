"""PDF pages to blocks in reading order (PDFium through pypdfium2; OCR for pages without text).

PDFium reads a text layer in well under a millisecond per page and maps glyphs to Unicode
itself (no ``/C0`` glyph names), but gives its lines in content-stream order. The layout is
rebuilt here from those lines and their boxes:

- fragments on the same baseline are joined into one line (PDFs that place every word on its
  own give one line, not one word per line);
- a page whose narrow lines leave a vertical gutter free is read column by column, between the
  full-width lines (titles, figures, footers) that cross the gutter;
- lines in the top and bottom margins that repeat on many pages (running headers and footers,
  page numbers) are dropped;
- lines are grouped into paragraphs by their spacing; a larger font makes a heading;
- a hyphen at a line end is removed only where the word it splits is one word (see
  ``_Dehyphenator``).

A page with (almost) no text but with pictures is a scanned page: it is rendered and read by
OCR when the caller passes an ``ocr`` engine, as RAGFlow's DeepDOC does; with none, an all-
scanned PDF fails with a message that says so.
"""

from __future__ import annotations

import codecs
import ctypes
import re
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from .errors import (
    SCANNED_PDF,
    CorruptDocument,
    NoTextLayer,
    ParseError,
    PasswordProtected,
    ResourceLimitExceeded,
    damaged_message,
    password_message,
)
from .model import Deadline, ExtractLimits, TextBlock

_WHAT = "This PDF"

_LIGATURE_RE = re.compile("[\ufb00-\ufb06]")
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_SPACES_RE = re.compile(r"[ \t\u00a0]{2,}|\t")
_HYPHENATED_RE = re.compile(r"(?<=[a-z])-\n(?=[a-z])")
_TRAILING_SPACE_RE = re.compile(r"[ \t]+\n")
_LINE_BREAK_RE = re.compile(r"\r\n|\n|\r")
_DIGITS_RE = re.compile(r"\d+")
_WORD_RE = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_BULLET_RE = re.compile(r"^(?:[•●▪■◦‣∙·\-–*]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)])\s")
# PDFium marks a hyphen it judged to be a line-end (soft) hyphen with U+0002.
_MARKED_HYPHEN_RE = re.compile(r"(\w+)\ufffe(\w+)")
_SOFT_HYPHENS = ("\x02", "\u00ad", "-", "\u2010")

MARGIN = 0.09  # the share of the page height at the top and at the bottom where headers live
SCANNED_CHARS = 16  # a page with fewer text characters than this and a picture is a scanned page
OCR_SCALE = 200 / 72  # render scanned pages at 200 dpi (PDF units are 1/72 inch)


def page_numbers(pages: list[list[int]] | None, count: int) -> list[int]:
    """The sorted 1-based page numbers selected by ``[[from, to], ...]`` (inclusive), within ``count``."""
    if not pages:
        return list(range(1, count + 1))
    selected: set[int] = set()
    for bounds in pages:
        try:
            first, last = int(bounds[0]), int(bounds[1])
        except (TypeError, ValueError, IndexError):
            continue
        if first > last:
            first, last = last, first
        selected.update(range(max(first, 1), min(last, count) + 1))
    return sorted(selected)


def clean_page(text: str) -> str:
    """Ligatures expanded, runs of spaces collapsed, line-end hyphens between lowercase letters joined.

    Used for text that comes without word boxes (OCR lines); PDF text layers go through
    ``_Dehyphenator``, which asks a dictionary first.
    """
    text = text.translate(_LIGATURES)
    text = _SPACES_RE.sub(" ", text)
    text = _TRAILING_SPACE_RE.sub("\n", text)
    return _HYPHENATED_RE.sub("", text)


@dataclass(slots=True)
class Line:
    """One line of a page in PDF units, ``top`` > ``bottom`` (y grows upwards)."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float

    @property
    def height(self) -> float:
        return max(self.top - self.bottom, 1.0)


# --- opening ---------------------------------------------------------------------------------------


def _open(data: bytes) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == 4:  # FPDF_ERR_PASSWORD; an owner-password-only PDF opens without one
            raise PasswordProtected(password_message(_WHAT)) from exc
        if code == 6:  # FPDF_ERR_SECURITY: an encryption handler PDFium lacks
            raise ParseError(
                "This PDF is encrypted with a method this deployment cannot read; save an unencrypted copy "
                "and upload it again."
            ) from exc
        raise CorruptDocument(damaged_message(_WHAT)) from exc
    except Exception as exc:
        raise CorruptDocument(damaged_message(_WHAT)) from exc


# --- one page's lines ------------------------------------------------------------------------------


def _page_text(textpage: Any) -> str:
    """The page's text, as ``textpage.get_text_range(errors="ignore")`` gives it.

    pypdfium2 reads it into a ``ctypes.c_ushort * length`` buffer, and ctypes keeps every array
    type it makes for the life of the process: one type (about 2 KB) for each page length ever
    seen, a few hundred KB per long document. The buffer here is rounded up to a power of two.
    """
    import pypdfium2.raw as raw

    chars = raw.FPDFText_CountChars(textpage)
    if chars == -1:
        raise RuntimeError("Failed to get character count.")
    # The first and last characters that are in the text (PDFium may leave some out).
    first, last = 0, chars - 1
    while first <= last and (start := raw.FPDFText_GetTextIndexFromCharIndex(textpage, first)) == -1:
        first += 1
    while first <= last and (end := raw.FPDFText_GetTextIndexFromCharIndex(textpage, last)) == -1:
        last -= 1
    if first > last:
        return ""
    wanted = end + 2 - start  # with the NUL terminator
    buffer = (ctypes.c_ushort * (1 << (wanted - 1).bit_length()))()
    written = raw.FPDFText_GetText(textpage, first, last + 1 - first, buffer)
    return codecs.decode(memoryview(buffer)[: written - 1], "utf-16-le", errors="ignore")


def _page_lines(textpage: Any) -> list[Line]:
    """The page's lines as PDFium gives them, each with the box of its first and last character.

    The vertical extent (and so the font size) comes from the first character's loose box (the
    font's ascent to descent), which, unlike its glyph box, is the same for "a" and "H".
    """
    import pypdfium2.raw as raw

    text = _page_text(textpage)
    if not text.strip():
        return []
    left, right, bottom, top = ctypes.c_double(), ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    loose = raw.FS_RECTF()
    lines: list[Line] = []
    start = 0
    for match in [*_LINE_BREAK_RE.finditer(text), None]:
        end = match.start() if match else len(text)
        segment = text[start:end]
        first = start + (len(segment) - len(segment.lstrip()))
        last = start + len(segment.rstrip()) - 1
        start = match.end() if match else end
        if last < first:
            continue
        raw.FPDFText_GetCharBox(textpage, first, left, right, bottom, top)
        x0 = left.value
        if raw.FPDFText_GetLooseCharBox(textpage, first, loose):
            y_top, y_bottom = loose.top, loose.bottom
        else:
            y_top, y_bottom = top.value, bottom.value
        size = y_top - y_bottom  # PDFium's own font size ignores the text matrix's scale
        raw.FPDFText_GetCharBox(textpage, last, left, right, bottom, top)
        x1 = right.value
        y_bottom = min(y_bottom, bottom.value)  # a line PDFium joined across a soft hyphen is two high
        lines.append(Line(text[first : last + 1], min(x0, x1), max(x0, x1), y_top, y_bottom, size))
    return lines


def _same_baseline(a: Line, b: Line) -> bool:
    overlap = min(a.top, b.top) - max(a.bottom, b.bottom)
    return overlap > 0.5 * min(a.height, b.height)


def join_fragments(lines: list[Line]) -> list[Line]:
    """Consecutive fragments on one baseline, left to right and close together, as one line."""
    joined: list[Line] = []
    for line in lines:
        if joined:
            prev = joined[-1]
            gap = line.x0 - prev.x1
            if _same_baseline(prev, line) and -0.5 * prev.size <= gap < 1.5 * max(prev.size, line.size):
                space = "" if gap < 0.12 * prev.size or prev.text.endswith(" ") else " "
                joined[-1] = Line(
                    prev.text + space + line.text,
                    prev.x0,
                    max(prev.x1, line.x1),
                    max(prev.top, line.top),
                    min(prev.bottom, line.bottom),
                    max(prev.size, line.size),
                )
                continue
        joined.append(line)
    return joined


def _valid_columns(lines: list[Line], gutters: list[float]) -> bool:
    """Whether every column between the gutters holds running text that fills most of its width
    (table cells, labels and figure callouts do not)."""
    edges = [-1e9, *gutters, 1e9]
    for lo, hi in pairwise(edges):
        column = [line for line in lines if line.x0 >= lo - 1 and line.x1 <= hi + 1]
        if len(column) < 3:
            return False
        extent = max(line.x1 for line in column) - min(line.x0 for line in column)
        widths = sorted(line.x1 - line.x0 for line in column)
        if widths[len(widths) // 2] < 0.45 * extent:
            return False
    return True


def gutters(lines: list[Line], width: float) -> list[float]:
    """The x of each free vertical strip between columns of text, if the page has columns."""
    narrow = [line for line in lines if line.x1 - line.x0 < 0.55 * width and len(line.text) > 1]
    if len(narrow) < 6:
        return []
    lo = max(min(line.x0 for line in narrow), 0.0)
    hi = min(max(line.x1 for line in narrow), width)
    steps = int(hi - lo) + 1
    if steps < 20:
        return []
    covered = [0] * steps  # in 1-point steps, how many narrow lines cover each x
    for line in narrow:
        for i in range(max(int(line.x0 - lo), 0), min(int(line.x1 - lo) + 1, steps)):
            covered[i] += 1
    # A title or a figure caption may cross the gutter: a strip crossed by a few lines is free.
    few = max(2, len(narrow) // 8)
    candidates: list[tuple[int, float]] = []
    run_start = -1
    for i, count in enumerate([*covered, few + 1]):
        if count <= few and run_start < 0:
            run_start = i
        elif count > few and run_start >= 0:
            if i - run_start >= 6:
                candidates.append((i - run_start, lo + (run_start + i) / 2))
            run_start = -1
    if not candidates:
        return []
    every = sorted(x for _, x in candidates)
    if len(every) > 1 and _valid_columns(narrow, every):
        return every
    for _, x in sorted(candidates, reverse=True):
        if _valid_columns(narrow, [x]):
            return [x]
    return []


def reading_order(lines: list[Line], width: float) -> list[Line]:
    """Top to bottom; on a page with columns, each column in turn between the lines that span them."""
    lines = sorted(lines, key=lambda line: (-round(line.top / 2), line.x0))
    cuts = gutters(lines, width)
    if not cuts:
        return lines
    edges = [-1e9, *cuts, 1e9]
    columns: list[list[Line]] = [[] for _ in range(len(cuts) + 1)]
    ordered: list[Line] = []
    for line in lines:
        for index, (lo, hi) in enumerate(pairwise(edges)):
            if line.x0 >= lo - 1 and line.x1 <= hi + 1:
                columns[index].append(line)
                break
        else:  # spans a gutter: the columns above it are finished
            ordered += [x for column in columns for x in column] + [line]
            columns = [[] for _ in columns]
    return ordered + [x for column in columns for x in column]


# --- headers and footers ---------------------------------------------------------------------------


def _furniture_key(line: Line, height: float) -> str | None:
    """What identifies a line in the top or bottom margin across pages (digits ignored)."""
    if MARGIN * height < line.bottom and line.top < (1 - MARGIN) * height:
        return None
    return _DIGITS_RE.sub("#", line.text.strip().lower())


class _Furniture:
    """Counts, page by page, the pages each margin line appears on (see ``furniture``)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.pages = 0

    def add(self, lines: list[Line], height: float) -> None:
        self.pages += 1
        self.counts.update({key for line in lines if (key := _furniture_key(line, height))})

    def repeated(self) -> set[str]:
        if self.pages < 2:
            return set()
        needed = max(2, self.pages // 2)
        return {key for key, count in self.counts.items() if count >= needed}


def furniture(pages: list[tuple[list[Line], float]]) -> set[str]:
    """Margin lines repeated on at least half the pages (and on at least two): headers, footers."""
    seen = _Furniture()
    for lines, height in pages:
        seen.add(lines, height)
    return seen.repeated()


def _is_page_number(line: Line, height: float) -> bool:
    text = line.text.strip().lower()
    if _furniture_key(line, height) is None:
        return False
    return bool(re.fullmatch(r"(page\s*)?[-–]?\s*\d{1,4}\s*[-–]?(\s*(of|/)\s*\d{1,4})?|[ivxlc]{1,6}", text))


# --- hyphenation -----------------------------------------------------------------------------------


class _Dehyphenator:
    """Decides whether ``word-`` at a line end and ``rest`` on the next line are one word.

    The document is the first dictionary: a word it spells unbroken elsewhere is joined, a
    hyphenated compound it spells with the hyphen elsewhere (or whose parts it uses as words on
    their own) keeps its hyphen. Otherwise the hyphenation patterns of the document's language
    (pyphen, LibreOffice's dictionaries) must allow a break at that point, as a typesetter's
    would; ``dual-encoder`` is not a break point of "dualencoder", so its hyphen stays.
    """

    def __init__(self, words: Counter[str]) -> None:
        self.words = words
        self._patterns: Any = None

    def _breakable(self, head: str, tail: str) -> bool:
        if self._patterns is None:
            try:
                import pyphen

                self._patterns = pyphen.Pyphen(lang="en_US")
            except Exception:  # no dictionary: join, as PDF readers always did
                self._patterns = False
        if self._patterns is False:
            return True
        return len(head) in self._patterns.positions((head + tail).lower())

    def join(self, head: str, tail: str) -> bool:
        h, t = head.lower(), tail.lower()
        if (h + t) in self.words:
            return True
        if f"{h}-{t}" in self.words or (len(h) > 2 and len(t) > 2 and h in self.words and t in self.words):
            return False
        return self._breakable(h, t)


def _ends_hyphenated(text: str) -> bool:
    return len(text) > 2 and text[-1] in _SOFT_HYPHENS and text[-2].isalpha()


def _soft_hyphens(text: str, dehyphenate: _Dehyphenator) -> str:
    """PDFium joins a line that ends in a hyphen it judged soft to the next, marking it U+FFFE."""

    def decide(match: re.Match[str]) -> str:
        return "" if dehyphenate.join(match.group(1), match.group(2)) else "-"

    return _MARKED_HYPHEN_RE.sub(lambda m: m.group(1) + decide(m) + m.group(2), text).replace("\ufffe", "")


def _paragraph_text(lines: list[Line], dehyphenate: _Dehyphenator) -> str:
    out = ""
    for line in lines:
        text = line.text
        if _LIGATURE_RE.search(text):
            text = text.translate(_LIGATURES)
        if "\x02" in text:
            text = text.replace("\x02", "-")
        if "\ufffe" in text:
            text = _soft_hyphens(text, dehyphenate)
        if out.endswith("-") and text[:1].islower():
            head = re.search(r"(\w+)-$", out)
            tail = re.match(r"\w+", text)
            if head and tail and dehyphenate.join(head.group(1), tail.group(0)):
                out = out[:-1] + text
                continue
            out += text
            continue
        out += ("\n" if out else "") + text
    return _SPACES_RE.sub(" ", out)


def paragraphs(lines: list[Line], body_size: float) -> Iterator[tuple[list[Line], bool]]:
    """Lines grouped into paragraphs (a gap wider than the line spacing, a bullet, a font change)."""
    current: list[Line] = []
    for line in lines:
        if current:
            prev = current[-1]
            gap = prev.bottom - line.top
            heading = prev.size > 1.15 * body_size
            starts_new = (
                gap > 0.8 * max(prev.height, line.height)
                or gap < -2 * prev.height  # the next column or a jump back up the page
                or abs(line.size - prev.size) > 0.15 * body_size
                or _BULLET_RE.match(line.text) is not None
                or (heading != (line.size > 1.15 * body_size))
            )
            if starts_new:
                yield current, current[0].size > 1.15 * body_size
                current = []
        current.append(line)
    if current:
        yield current, current[0].size > 1.15 * body_size


# --- the document ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Page:
    number: int
    lines: list[Line]
    width: float
    height: float
    scanned: bool


_STORE_WBITS = 13  # an 8 KiB window: about two pages of text


@dataclass(slots=True)
class _PackedPage:
    """A page read in the first pass: its size, and its lines as a piece of the ``_PageStore`` stream."""

    number: int
    width: float
    height: float
    scanned: bool
    count: int
    packed: bytes


class _PageStore:
    """The pages of the first pass, their lines deflated as one stream page after page, and
    inflated in the same order in the second.

    Line objects take about 330 bytes a line, several times a compressed PDF's size; the stream
    of the lines' texts and boxes (doubles, a column for each field) takes about half the text.
    zlib at level 1 with an 8 KiB window and a small hash table holds 100 KiB of state for the
    whole pass, where its defaults hold 256 KiB.
    """

    def __init__(self) -> None:
        self.pages: list[_PackedPage] = []
        self._deflate: Any = zlib.compressobj(1, zlib.DEFLATED, _STORE_WBITS, 6)

    def add(self, page: _Page) -> None:
        lines = page.lines
        boxes = array("d", [line.x0 for line in lines])
        boxes.extend([line.x1 for line in lines])
        boxes.extend([line.top for line in lines])
        boxes.extend([line.bottom for line in lines])
        boxes.extend([line.size for line in lines])
        # Line texts hold no "\n" (PDFium's text is split at line breaks, fragments joined with spaces).
        text = "\n".join([line.text for line in lines]).encode("utf-8", "surrogatepass")
        packed = self._deflate.compress(boxes.tobytes() + text) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
        self.pages.append(_PackedPage(page.number, page.width, page.height, page.scanned, len(lines), packed))

    def __iter__(self) -> Iterator[tuple[_PackedPage, list[Line]]]:
        """Each page with its lines, once, in the order they were added."""
        self._deflate = None
        inflate = zlib.decompressobj(_STORE_WBITS)
        for page in self.pages:
            raw = inflate.decompress(page.packed)
            page.packed = b""  # a page read back is let go
            n = page.count
            if not n:
                yield page, []
                continue
            boxes = array("d")
            boxes.frombytes(raw[: 40 * n])
            texts = raw[40 * n :].decode("utf-8", "surrogatepass").split("\n")
            columns = (boxes[i * n : (i + 1) * n] for i in range(5))
            yield page, list(map(Line, texts, *columns))


def _has_pictures(page: Any) -> bool:
    import pypdfium2.raw as raw

    try:
        return any(obj.type == raw.FPDF_PAGEOBJ_IMAGE for obj in page.get_objects(max_depth=2))
    except Exception:
        return True


def _read_page(pdf: Any, number: int) -> _Page:
    page = pdf[number - 1]
    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        lines = _page_lines(textpage)
    finally:
        textpage.close()
    chars = sum(len(line.text.strip()) for line in lines)
    scanned = chars < SCANNED_CHARS and _has_pictures(page)
    page.close()
    return _Page(number, join_fragments(lines), width, height, scanned)


OcrPage = Callable[[bytes], list[Any]]
"""Reads a page image (JPEG bytes): its lines and tables in reading order (``ocr.OcrItem``)."""


def render_png(pdf: Any, number: int, scale: float = OCR_SCALE) -> bytes:
    """A page rendered for OCR: JPEG at quality 90 (a fraction of PNG's size, which matters when the
    page travels to the OCR function in a 6 MB invocation payload; PP-OCR reads it as well)."""
    import io

    page = pdf[number - 1]
    try:
        bitmap = page.render(scale=scale, may_draw_forms=True)
        image = bitmap.to_pil()
    finally:
        page.close()
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def extract_pdf(
    data: bytes,
    pages: list[list[int]] | None,
    limits: ExtractLimits,
    deadline: Deadline,
    ocr: Callable[[], OcrPage | None] | None = None,
) -> Iterator[TextBlock]:
    pdf = _open(data)
    try:
        yield from _extract(pdf, pages, limits, deadline, ocr)
    finally:
        pdf.close()


def _extract(
    pdf: Any,
    pages: list[list[int]] | None,
    limits: ExtractLimits,
    deadline: Deadline,
    ocr: Callable[[], OcrPage | None] | None,
) -> Iterator[TextBlock]:
    try:
        count = len(pdf)
    except Exception as exc:
        raise CorruptDocument(damaged_message(_WHAT)) from exc
    selected = page_numbers(pages, count)
    if len(selected) > limits.max_pages:
        raise ResourceLimitExceeded(
            f"This PDF has {len(selected):,} pages to read, more than the {limits.max_pages:,} this "
            "deployment reads at once; choose a page range or split the file."
        )
    # Every page is read first: headers and footers are found by comparing pages, and the
    # document's own words are the first dictionary for hyphenation. What the second pass needs
    # of each page is kept compressed (``_PageStore``), so memory stays a fraction of the text.
    read = _PageStore()
    failures = 0
    margins = _Furniture()
    words: Counter[str] = Counter()
    sizes: Counter[int] = Counter()
    for number in selected:
        deadline.check()
        try:
            current = _read_page(pdf, number)
        except Exception:
            failures += 1  # one broken page does not lose the rest of the document
            continue
        if not current.scanned:
            margins.add(current.lines, current.height)
        for line in current.lines:
            # The pieces of a word broken at a line end are not words of the document.
            text = line.text
            if "\ufffe" in text:
                text = _MARKED_HYPHEN_RE.sub(" ", text)
            found = _WORD_RE.findall(text)
            if found and _ends_hyphenated(text):
                found.pop()
            words.update(map(str.lower, found))
            sizes[round(line.size)] += len(line.text)
        read.add(current)
    repeated = margins.repeated()
    dehyphenate = _Dehyphenator(words)
    body_size = float(sizes.most_common(1)[0][0]) if sizes else 10.0
    # Heading levels: the largest font above the body's is level 1, the next level 2, ...
    # (Vertical text, such as arXiv's margin stamp, has a tall box and is no heading.)
    heading_sizes = sorted({size for size in sizes if 1.15 * body_size < size < 4 * body_size}, reverse=True)
    levels = {size: min(index + 1, 6) for index, size in enumerate(heading_sizes)}

    found_text = False
    scanned_pages = 0
    for page, lines in read:
        deadline.check()
        if page.scanned:
            scanned_pages += 1
            engine = ocr() if ocr is not None else None
            if engine is None:
                continue
            from .ocr import blocks_from_items

            for block in blocks_from_items(engine(render_png(pdf, page.number)), page.number):
                found_text = True
                yield block
            continue
        body = [
            line
            for line in lines
            if _furniture_key(line, page.height) not in repeated and not _is_page_number(line, page.height)
        ] or lines  # a page of nothing but margin lines keeps them: they are its content
        for group, heading in paragraphs(reading_order(body, page.width), body_size):
            text = _paragraph_text(group, dehyphenate).strip()
            if not text:
                continue
            found_text = True
            if heading and len(text) < 200:
                level = levels.get(round(group[0].size), len(levels) or 1)
                yield TextBlock(text + "\n", page.number, kind="heading", level=level)
            elif _BULLET_RE.match(text):
                yield TextBlock(text + "\n", page.number, kind="list_item", level=1)
            else:
                yield TextBlock(text + "\n", page.number, kind="paragraph")
    if not found_text and selected:
        if failures and not read.pages:
            raise CorruptDocument(damaged_message(_WHAT))
        if failures and not scanned_pages:
            raise CorruptDocument(damaged_message(_WHAT))
        raise NoTextLayer(SCANNED_PDF)
