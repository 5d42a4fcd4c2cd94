"""Word .docx (streamed with lxml) and PowerPoint .pptx (python-pptx)."""

from __future__ import annotations

import functools
import io
import posixpath
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Any

from . import sniff
from ._zipguard import check_zip
from .errors import CorruptDocument, damaged_message
from .model import Deadline, ExtractLimits, Table, TableCell, TextBlock

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_NS = {"w": _W, "mc": _MC}
_BLOCK_CHARS = 16 * 1024
_DEADLINE_EVERY = 4096  # paragraphs or tables read between two deadline checks

# Elements that only wrap block content (content controls, custom XML, tracked moves/insertions).
_WRAPPERS = {f"{{{_W}}}{name}" for name in ("sdt", "sdtContent", "customXml", "ins", "moveTo", "smartTag")}
_P, _TBL, _TR, _TC, _T = (f"{{{_W}}}{name}" for name in ("p", "tbl", "tr", "tc", "t"))
_DOCUMENT, _BODY = f"{{{_W}}}document", f"{{{_W}}}body"
_BODY_CONTAINER = frozenset({_BODY})
_HEADER_FOOTER_CONTAINERS = frozenset({f"{{{_W}}}hdr", f"{{{_W}}}ftr"})
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"

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


def _grid_span(tc: Any) -> int:
    span = tc.find(f"{{{_W}}}tcPr/{{{_W}}}gridSpan")
    try:
        return max(1, int(span.get(f"{{{_W}}}val", "1"))) if span is not None else 1
    except ValueError:
        return 1


def _table(tbl: Any) -> Table:
    """A body table's rows and cells: a horizontal merge (``w:gridSpan``) is one cell with its
    colspan, a vertical merge (``w:vMerge``) one cell with its rowspan, where each starts; a cell's
    text is its paragraphs (and any table nested in it, a row per line) on one line."""
    rows: list[list[list[Any]]] = []
    merging: dict[int, list[Any]] = {}  # grid column -> the cell a vertical merge started with
    for tr in _children(tbl):
        if tr.tag != _TR:
            continue
        row: list[list[Any]] = []
        column = 0
        for tc in _children(tr):
            if tc.tag != _TC:
                continue
            span = _grid_span(tc)
            merge = tc.find(f"{{{_W}}}tcPr/{{{_W}}}vMerge")
            if merge is not None and merge.get(f"{{{_W}}}val", "continue") != "restart" and column in merging:
                merging[column][2] += 1
                column += span
                continue
            cell = [" ".join(" ".join(line.split()) for line in _block_lines(tc)), span, 1]
            if merge is not None:
                merging[column] = cell
            else:
                merging.pop(column, None)
            row.append(cell)
            column += span
        if row:
            rows.append(row)
    return Table(tuple(tuple(TableCell(text, colspan, rowspan) for text, colspan, rowspan in row) for row in rows))


def _block_lines(container: Any) -> Iterator[str]:
    """Lines of the paragraphs and tables of a body, cell, header or footer, in document order."""
    for child in _children(container):
        if child.tag == _P:
            text = _paragraph_text(child)
            if text:
                yield text
        elif child.tag == _TBL:
            yield from _table_lines(child)


def _block_level(element: Any, containers: frozenset[str]) -> bool:
    """Whether ``_block_lines`` of a container would visit ``element``: only wrappers lie between them."""
    node = element.getparent()
    while node is not None and node.tag in _WRAPPERS:
        node = node.getparent()
    return node is not None and node.tag in containers


def _release(element: Any) -> None:
    """Free a block already read, and whatever came before it in its parent (read or skipped)."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _iterparse(source: IO[bytes], tags: tuple[str, ...]) -> Any:
    """End events of ``tags`` in an XML stream; no DTD, no entity expansion, no network."""
    from lxml import etree

    return etree.iterparse(
        source,
        events=("end",),
        tag=tags,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )


def _stream_lines(
    source: IO[bytes], containers: frozenset[str], deadline: Deadline, *, tables: bool = False
) -> Iterator[str | Table]:
    """``_block_lines`` of the container(s) in an XML part, read as a stream and freed as it goes;
    with ``tables``, each table at block level comes as a ``Table`` (one that holds text)."""
    events = _iterparse(source, (_P, _TBL))
    blocks = 0
    for _, element in events:
        if not _block_level(element, containers):
            continue  # a paragraph or table inside a cell or a text box: read with its block
        blocks += 1
        if blocks % _DEADLINE_EVERY == 0:
            deadline.check()  # also between blocks yielding no text (empty paragraphs)
        lines: list[str | Table]
        if element.tag == _P:
            text = _paragraph_text(element)
            lines = [text] if text else []
        elif tables:
            table = _table(element)
            lines = [table] if any(cell.text for row in table.rows for cell in row) else []
        else:
            lines = list(_table_lines(element))
        _release(element)
        yield from lines
    root = events.root
    if containers == _BODY_CONTAINER and (root is None or root.tag != _DOCUMENT or root.find(_BODY) is None):
        raise ValueError("the main document part is not a w:document with a w:body")


def _body_texts(source: IO[bytes]) -> Iterator[str]:
    """Every non-blank ``w:t`` of the body, wherever it lies."""
    for _, element in _iterparse(source, (_T,)):
        text = element.text
        if text and text.strip() and any(True for _ in element.iterancestors(_BODY)):
            yield text
        element.clear()


def _part_rels(zf: zipfile.ZipFile, partname: str) -> list[tuple[str, str]]:
    """(relationship type, target part name) of a part's internal relationships."""
    from lxml import etree

    folder, name = posixpath.split(partname)
    try:
        xml = zf.read(posixpath.join(folder, "_rels", name + ".rels"))
    except KeyError:
        return []
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    rels = []
    for rel in etree.fromstring(xml, parser).iter(f"{{{_RELS}}}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        rels.append((rel.get("Type", ""), posixpath.normpath(path)))
    return rels


def _main_partname(zf: zipfile.ZipFile) -> str:
    for reltype, target in _part_rels(zf, ""):  # the package's own relationships: _rels/.rels
        if reltype.endswith("/officeDocument"):
            return target
    return "word/document.xml"


def _header_footer_lines(zf: zipfile.ZipFile, rels: list[tuple[str, str]], kind: str, deadline: Deadline) -> list[str]:
    """Every distinct line of the document's headers (``kind="header"``) or footers."""
    seen: set[str] = set()
    lines: list[str] = []
    for partname in sorted({target for reltype, target in rels if reltype.endswith("/" + kind)}):
        with zf.open(partname) as part:
            for line in _stream_lines(part, _HEADER_FOOTER_CONTAINERS, deadline):
                if isinstance(line, str) and line not in seen:
                    seen.add(line)
                    lines.append(line)
    return lines


def extract_docx(data: bytes, limits: ExtractLimits, deadline: Deadline) -> Iterator[TextBlock]:
    """The document's lines: headers, then body paragraphs and tables in order, then footers.

    Body tables are ``kind="table"`` blocks (their HTML, see ``_table``); tables in headers and
    footers stay lines, cells separated by `` | ``.

    ``word/document.xml`` is parsed as a stream straight out of the zip, each paragraph or table
    freed once read, so memory stays flat however long the document is.
    """
    what = sniff.what(sniff.DOCX)
    check_zip(data, limits, what)
    from lxml import etree

    bad_input = (
        etree.LxmlError,
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        RuntimeError,  # an encrypted member
        NotImplementedError,  # an unsupported compression method
        ValueError,
        KeyError,
        AttributeError,
        TypeError,
    )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        main = _main_partname(zf)
        zf.getinfo(main)  # KeyError: not a Word document
        rels = _part_rels(zf, main)
        headers = _header_footer_lines(zf, rels, "header", deadline)
        footers = _header_footer_lines(zf, rels, "footer", deadline)
    except bad_input as exc:
        raise CorruptDocument(damaged_message(what)) from exc

    buffer: list[str] = []
    size = 0
    found = False

    def lines() -> Iterator[str | Table]:
        yield from headers
        with zf.open(main) as body:
            yield from _stream_lines(body, _BODY_CONTAINER, deadline, tables=True)
        yield from footers

    try:
        with zf:
            for line in lines():
                found = True
                if isinstance(line, Table):
                    # A table is a block of its own, in document order, rendered as RAGFlow's DOCX
                    # parser renders one (every cell a <td>): the chunkers keep it whole.
                    if buffer:
                        yield TextBlock("".join(buffer))
                        buffer, size = [], 0
                    yield TextBlock(line.html() + "\n", kind="table", table=line)
                    continue
                buffer.append(line + "\n")
                size += len(line) + 1
                if size >= _BLOCK_CHARS:
                    deadline.check()
                    yield TextBlock("".join(buffer))
                    buffer, size = [], 0
            if not found:
                # Text only in places the walk above does not visit (frames, unusual wrappers):
                # every w:t, read in a second pass over the body (only for such documents).
                with zf.open(main) as body:
                    texts = list(_body_texts(body))
                if texts:
                    buffer.append(" ".join(texts) + "\n")
    except bad_input as exc:
        raise CorruptDocument(damaged_message(what)) from exc
    if buffer:
        yield TextBlock("".join(buffer))


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
