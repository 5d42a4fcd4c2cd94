"""Word .docx (python-docx) and PowerPoint .pptx (python-pptx)."""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from typing import Any

from . import sniff
from ._zipguard import check_zip
from .errors import CorruptDocument, damaged_message
from .model import Deadline, ExtractLimits, TextBlock

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_NS = {"w": _W, "mc": _MC}
_BLOCK_CHARS = 16 * 1024

# Elements that only wrap block content (content controls, custom XML, tracked moves/insertions).
_WRAPPERS = {f"{{{_W}}}{name}" for name in ("sdt", "sdtContent", "customXml", "ins", "moveTo", "smartTag")}
_P, _TBL, _TR, _TC = (f"{{{_W}}}{name}" for name in ("p", "tbl", "tr", "tc"))

# Text of a paragraph in document order: runs, hyperlinks, fields, text boxes drawn in it (the
# drawing's fallback copy for old readers is skipped), deleted text (w:delText) is not w:t.
_PARAGRAPH_TEXT_XPATH = (
    ".//w:t[not(ancestor::mc:Fallback)] | .//w:tab[not(ancestor::mc:Fallback)]"
    " | .//w:br[not(ancestor::mc:Fallback)] | .//w:cr[not(ancestor::mc:Fallback)]"
    " | .//w:noBreakHyphen[not(ancestor::mc:Fallback)]"
)


# --- docx ----------------------------------------------------------------------------------------


def _children(element: Any) -> Iterator[Any]:
    for child in element:
        if child.tag in _WRAPPERS:
            yield from _children(child)
        else:
            yield child


@functools.cache
def _paragraph_text_nodes() -> Any:
    from lxml import etree

    return etree.XPath(_PARAGRAPH_TEXT_XPATH, namespaces=_NS)


def _paragraph_text(p: Any) -> str:
    parts: list[str] = []
    for node in _paragraph_text_nodes()(p):
        tag = node.tag.rsplit("}", 1)[-1]
        if tag == "t":
            parts.append(node.text or "")
        elif tag == "tab":
            parts.append("\t")
        elif tag in ("br", "cr"):
            parts.append("\n")
        else:
            parts.append("-")
    return "".join(parts).strip()


def _merged_away(tc: Any) -> bool:
    """A cell continuing a vertical merge: Word shows the merge's first cell, not what this one holds."""
    merge = tc.find(f"{{{_W}}}tcPr/{{{_W}}}vMerge")
    return merge is not None and merge.get(f"{{{_W}}}val", "continue") != "restart"


def _table_lines(tbl: Any) -> Iterator[str]:
    """One line per row, cells separated by `` | ``; merged cells appear once (one ``w:tc``)."""
    for tr in _children(tbl):
        if tr.tag != _TR:
            continue
        cells: list[str] = []
        for tc in _children(tr):
            if tc.tag != _TC or _merged_away(tc):
                continue
            text = " ".join(" ".join(line.split()) for line in _block_lines(tc))
            if text:
                cells.append(text)
        if cells:
            yield " | ".join(cells)


def _block_lines(container: Any) -> Iterator[str]:
    """Lines of the paragraphs and tables of a body, cell, header or footer, in document order."""
    for child in _children(container):
        if child.tag == _P:
            text = _paragraph_text(child)
            if text:
                yield text
        elif child.tag == _TBL:
            yield from _table_lines(child)


def _header_footer_lines(document: Any, kind: str) -> list[str]:
    """Every distinct line of the document's headers (``kind="header"``) or footers."""
    parts = []
    for rel in document.part.rels.values():
        if rel.is_external or not rel.reltype.endswith("/" + kind):
            continue
        parts.append((str(rel.target_part.partname), rel.target_part))
    seen: set[str] = set()
    lines: list[str] = []
    for _, part in sorted(parts, key=lambda item: item[0]):
        for line in _block_lines(part.element):
            if line not in seen:
                seen.add(line)
                lines.append(line)
    return lines


def extract_docx(data: bytes, limits: ExtractLimits, deadline: Deadline) -> Iterator[TextBlock]:
    what = sniff.what(sniff.DOCX)
    check_zip(data, limits, what)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        body = document.element.body
        headers = _header_footer_lines(document, "header")
        footers = _header_footer_lines(document, "footer")
    except Exception as exc:
        raise CorruptDocument(damaged_message(what)) from exc

    buffer: list[str] = []
    size = 0
    found = False

    def lines() -> Iterator[str]:
        yield from headers
        yield from _block_lines(body)
        yield from footers

    try:
        for line in lines():
            found = True
            buffer.append(line + "\n")
            size += len(line) + 1
            if size >= _BLOCK_CHARS:
                deadline.check()
                yield TextBlock("".join(buffer))
                buffer, size = [], 0
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise CorruptDocument(damaged_message(what)) from exc
    if buffer:
        yield TextBlock("".join(buffer))
    if not found:
        # Text only in places the walk above does not visit (frames, unusual wrappers): every w:t.
        texts = [t.text for t in body.iter(f"{{{_W}}}t") if t.text and t.text.strip()]
        if texts:
            yield TextBlock(" ".join(texts) + "\n")


# --- pptx ----------------------------------------------------------------------------------------


def _shape_lines(shape: Any) -> Iterator[str]:
    from pptx.shapes.group import GroupShape

    if isinstance(shape, GroupShape):
        yield from _sorted_shapes_lines(shape.shapes)
        return
    if getattr(shape, "has_table", False):
        for row in shape.table.rows:
            cells: list[str] = []
            for cell in row.cells:
                if getattr(cell, "is_spanned", False):
                    continue  # covered by a merged cell; its text is in the merge origin
                text = " ".join(cell.text.split())
                if text:
                    cells.append(text)
            if cells:
                yield " | ".join(cells)
        return
    if getattr(shape, "has_text_frame", False):
        for paragraph in shape.text_frame.text.replace("\v", "\n").split("\n"):
            if paragraph.strip():
                yield paragraph.strip()


def _sorted_shapes_lines(shapes: Any) -> Iterator[str]:
    def position(shape: Any) -> tuple[int, int]:
        return (shape.top or 0, shape.left or 0)

    try:
        ordered = sorted(shapes, key=position)
    except Exception:  # a shape without a readable position: keep the file's order
        ordered = list(shapes)
    for shape in ordered:
        yield from _shape_lines(shape)


def extract_pptx(data: bytes, limits: ExtractLimits, deadline: Deadline) -> Iterator[TextBlock]:
    what = sniff.what(sniff.PPTX)
    check_zip(data, limits, what)
    import pptx

    try:
        presentation = pptx.Presentation(io.BytesIO(data))
        slides = list(presentation.slides)
    except Exception as exc:
        raise CorruptDocument(damaged_message(what)) from exc
    for number, slide in enumerate(slides, 1):
        deadline.check()
        try:
            lines = list(_sorted_shapes_lines(slide.shapes))
            if slide.has_notes_slide:
                notes = slide.notes_slide.notes_text_frame
                note_text = " ".join(notes.text.split()) if notes is not None else ""
                if note_text:
                    lines.append(f"Notes: {note_text}")
        except Exception as exc:
            raise CorruptDocument(damaged_message(what)) from exc
        if lines:
            yield TextBlock("\n".join(lines) + "\n", number)
