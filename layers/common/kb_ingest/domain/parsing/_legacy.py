"""RTF, OpenDocument (.odt/.ods/.odp), EPUB, and the OLE2 formats: Outlook .msg, Word .doc, PowerPoint .ppt.

RTF goes through striprtf (pure Python); the OLE2 containers are opened with olefile (pure
Python) and their text read from the streams Microsoft's published specifications describe
([MS-OXMSG] properties, [MS-DOC] piece table, [MS-PPT] text atoms). No system binary (LibreOffice,
antiword, catdoc) is needed.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
from collections.abc import Iterator
from typing import Any

from ._markup import html_to_text
from ._text import clean_text, decode_all
from ._zipguard import check_zip
from .errors import CorruptDocument, PasswordProtected, damaged_message, password_message
from .model import Deadline, ExtractLimits, Table, TableCell, TextBlock

# --- RTF -----------------------------------------------------------------------------------------

_ANSI_CODEPAGE_RE = re.compile(rb"\\ansicpg(\d+)")


def extract_rtf(data: bytes) -> Iterator[TextBlock]:
    from striprtf.striprtf import rtf_to_text

    match = _ANSI_CODEPAGE_RE.search(data[:4096])
    encoding = f"cp{int(match.group(1))}" if match else "cp1252"
    try:
        "".encode(encoding)
    except LookupError:
        encoding = "cp1252"
    try:
        text = rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace")
    except Exception as exc:
        raise CorruptDocument(damaged_message("This RTF document")) from exc
    yield from _paragraphs(text)


def _paragraphs(text: str, page: int | None = None) -> Iterator[TextBlock]:
    for paragraph in re.split(r"\n\s*\n", clean_text(text)):
        paragraph = "\n".join(line.rstrip() for line in paragraph.strip("\n").split("\n"))
        if paragraph.strip():
            yield TextBlock(paragraph + "\n", page, kind="paragraph")


# --- OpenDocument --------------------------------------------------------------------------------

_ODF = {
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
}


def _odf(tag: str) -> str:
    prefix, name = tag.split(":")
    return f"{{{_ODF[prefix]}}}{name}"


def _odf_text(element: Any) -> str:
    """An element's text as a reader sees it: <text:s/> spaces, tabs and line breaks included."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if child.tag == _odf("text:s"):
                parts.append(" " * int(child.get(_odf("text:c"), "1")))
            elif child.tag == _odf("text:tab"):
                parts.append("\t")
            elif child.tag == _odf("text:line-break"):
                parts.append("\n")
            elif child.tag not in (_odf("text:note"),):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return "".join(parts).strip()


def _odf_table(element: Any) -> Table:
    rows: list[tuple[TableCell, ...]] = []
    header_rows = len(element.findall(f".//{_odf('table:table-header-rows')}/{_odf('table:table-row')}"))
    for row in element.iter(_odf("table:table-row")):
        repeat = min(int(row.get(_odf("table:number-rows-repeated"), "1")), 1000)
        cells: list[TableCell] = []
        for cell in row:
            if cell.tag == _odf("table:covered-table-cell"):
                continue
            if cell.tag != _odf("table:table-cell"):
                continue
            text = " ".join(_odf_text(p) for p in cell.iter(_odf("text:p")) if _odf_text(p))
            span = int(cell.get(_odf("table:number-columns-spanned"), "1"))
            times = min(int(cell.get(_odf("table:number-columns-repeated"), "1")), 1000)
            cells.extend(
                TableCell(text, span, int(cell.get(_odf("table:number-rows-spanned"), "1"))) for _ in range(times)
            )
        while cells and not cells[-1].text:
            cells.pop()  # spreadsheets repeat empty cells to the sheet's edge
        if cells:
            rows.extend([tuple(cells)] * (repeat if any(c.text for c in cells) else 1))
    return Table(tuple(rows), header_rows, None)


def extract_odf(data: bytes, limits: ExtractLimits, deadline: Deadline) -> Iterator[TextBlock]:
    """Headings, paragraphs, list items and tables of content.xml, in order; a presentation's
    pages (and a spreadsheet's sheets) are numbered as pages."""
    from lxml import etree

    what = "This OpenDocument file"
    check_zip(data, limits, what)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if "content.xml" not in zf.namelist():
                raise CorruptDocument(damaged_message(what))
            manifest = zf.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in zf.namelist() else b""
            if b"encryption-data" in manifest:
                raise PasswordProtected(password_message(what))
            root = etree.fromstring(zf.read("content.xml"), etree.XMLParser(resolve_entities=False, huge_tree=True))
    except (zipfile.BadZipFile, etree.XMLSyntaxError, KeyError, OSError) as exc:
        raise CorruptDocument(damaged_message(what)) from exc
    page: int | None = None
    pages = 0

    def walk(node: Any, depth: int) -> Iterator[TextBlock]:
        nonlocal page, pages
        for child in node:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if tag == _odf("draw:page") or (tag == _odf("table:table") and node.tag == _odf("office:spreadsheet")):
                pages += 1  # a presentation's page or a spreadsheet's sheet
                page = pages
            if tag == _odf("text:h"):
                text = _odf_text(child)
                if text:
                    level = int(child.get(_odf("text:outline-level"), "1"))
                    yield TextBlock(text + "\n", page, kind="heading", level=level)
            elif tag == _odf("text:p"):
                text = _odf_text(child)
                if text:
                    yield TextBlock(text + "\n", page, kind="list_item" if depth else "paragraph", level=depth)
            elif tag == _odf("table:table"):
                deadline.check()
                table = _odf_table(child)
                if table.rows:
                    name = child.get(_odf("table:name"))
                    table = Table(table.rows, table.header_rows or 1, name)
                    yield TextBlock(table.html() + "\n", page, kind="table", table=table)
            elif tag == _odf("text:list"):
                yield from walk(child, depth + 1)
            else:
                yield from walk(child, depth)

    body = root.find(_odf("office:body"))
    if body is not None:
        yield from walk(body, 0)


# --- EPUB ----------------------------------------------------------------------------------------


def extract_epub(data: bytes, limits: ExtractLimits, deadline: Deadline) -> Iterator[TextBlock]:
    """The book's documents in reading order (the package's spine), each as HTML text."""
    from lxml import etree

    what = "This EPUB e-book"
    check_zip(data, limits, what)
    parser = etree.XMLParser(resolve_entities=False, recover=True)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            if "META-INF/encryption.xml" in names and b"EncryptedData" in zf.read("META-INF/encryption.xml"):
                raise PasswordProtected("This EPUB e-book is protected by DRM and cannot be read.")
            container = etree.fromstring(zf.read("META-INF/container.xml"), parser)
            rootfile = next(e.get("full-path") for e in container.iter() if str(e.tag).endswith("rootfile"))
            package = etree.fromstring(zf.read(rootfile), parser)
            base = posixpath.dirname(rootfile)
            items = {
                e.get("id"): posixpath.normpath(posixpath.join(base, e.get("href", "")))
                for e in package.iter()
                if str(e.tag).endswith("}item")
            }
            spine = [items.get(e.get("idref")) for e in package.iter() if str(e.tag).endswith("}itemref")]
            for number, path in enumerate((p for p in spine if p and p in names), 1):
                deadline.check()
                raw = zf.read(path)
                text = html_to_text(decode_all(raw, "utf-8") if raw[:3] != b"\xef\xbb\xbf" else raw[3:].decode())
                if text.strip():
                    yield TextBlock(text.strip("\n") + "\n", number)
    except (zipfile.BadZipFile, KeyError, StopIteration, etree.XMLSyntaxError, OSError) as exc:
        raise CorruptDocument(damaged_message(what)) from exc


# --- OLE2: Outlook .msg --------------------------------------------------------------------------


def _open_ole(data: bytes, what: str) -> Any:
    import olefile

    try:
        return olefile.OleFileIO(io.BytesIO(data))
    except Exception as exc:
        raise CorruptDocument(damaged_message(what)) from exc


def _msg_string(ole: Any, prefix: str, prop: str) -> str:
    """A string property (``prop`` is the 4-hex-digit id) of a message or attachment storage."""
    for suffix, encoding in (("001F", "utf-16-le"), ("001E", "cp1252")):
        path = f"{prefix}__substg1.0_{prop}{suffix}"
        if ole.exists(path):
            return ole.openstream(path).read().decode(encoding, errors="replace").rstrip("\x00")
    return ""


def extract_msg(data: bytes, limits: ExtractLimits, depth: int = 0) -> Iterator[TextBlock]:
    """Subject, sender, recipients and body of an Outlook message, then its attachments parsed
    as their own type (as the email method does for .eml)."""
    from .extract import extract

    what = "This Outlook message"
    ole = _open_ole(data, what)
    try:
        fields = [
            ("Subject", _msg_string(ole, "", "0037")),
            ("From", _msg_string(ole, "", "0C1A") or _msg_string(ole, "", "0065")),
            ("To", _msg_string(ole, "", "0E04")),
            ("Cc", _msg_string(ole, "", "0E03")),
        ]
        headers = [f"{name}: {' '.join(value.split())}" for name, value in fields if value.strip()]
        if headers:
            yield TextBlock("\n".join(headers) + "\n", kind="metadata")
        body = _msg_string(ole, "", "1000")
        if not body.strip():
            html = ""
            for path in ("__substg1.0_10130102", "__substg1.0_1013001F"):
                if ole.exists(path):
                    html = decode_all(ole.openstream(path).read())
                    break
            body = html_to_text(html) if html else ""
        if body.strip():
            yield TextBlock(("\n" if headers else "") + clean_text(body).strip("\n") + "\n")
        storages = sorted(
            {entry[0] for entry in ole.listdir(streams=True, storages=False) if entry[0].startswith("__attach_")}
        )
        for storage in storages:
            prefix = storage + "/"
            name = _msg_string(ole, prefix, "3707") or _msg_string(ole, prefix, "3704") or "(unnamed attachment)"
            payload_path = prefix + "__substg1.0_37010102"
            payload = ole.openstream(payload_path).read() if ole.exists(payload_path) else b""
            yield TextBlock(f"\nAttachment: {name}\n", kind="metadata", source=name)
            if not payload or depth >= 3:
                continue
            try:
                for block in extract(payload, name, limits=limits):
                    text = block.text if block.text.endswith("\n") else block.text + "\n"
                    yield TextBlock(text, block.page, block.kind, block.level, block.table, name)
            except Exception as exc:  # an unreadable attachment does not lose the message
                yield TextBlock(f"(not read: {exc})\n", kind="metadata", source=name)
    finally:
        ole.close()


# --- OLE2: Word 97-2003 .doc ---------------------------------------------------------------------


def extract_doc(data: bytes, deadline: Deadline) -> Iterator[TextBlock]:
    """The document's main text from its piece table ([MS-DOC] 2.8.35 Clx): each piece is either
    UTF-16 or, when its fcCompressed bit is set, 8-bit text at half the offset."""
    what = "This Word document"
    ole = _open_ole(data, what)
    try:
        if not ole.exists("WordDocument"):
            raise CorruptDocument(damaged_message(what))
        word = ole.openstream("WordDocument").read()
        if len(word) < 0x1A2 + 8:
            raise CorruptDocument(damaged_message(what))
        flags = struct.unpack_from("<H", word, 0x0A)[0]
        if flags & 0x0100:  # fEncrypted
            raise PasswordProtected(password_message(what))
        table_name = "1Table" if flags & 0x0200 else "0Table"
        if not ole.exists(table_name):
            raise CorruptDocument(damaged_message(what))
        table = ole.openstream(table_name).read()
        ccp_text = struct.unpack_from("<i", word, 0x4C)[0]  # characters of the main document
        fc_clx, lcb_clx = struct.unpack_from("<II", word, 0x1A2)
        clx = table[fc_clx : fc_clx + lcb_clx]
        pos = 0
        while pos < len(clx) and clx[pos] == 0x01:  # Prc entries (formatting) come first
            pos += 3 + struct.unpack_from("<H", clx, pos + 1)[0]
        if pos >= len(clx) or clx[pos] != 0x02:
            raise CorruptDocument(damaged_message(what))
        size = struct.unpack_from("<I", clx, pos + 1)[0]
        plc = clx[pos + 5 : pos + 5 + size]
        pieces = (size - 4) // 12
        cps = struct.unpack_from(f"<{pieces + 1}I", plc, 0)
        parts: list[str] = []
        for i in range(pieces):
            deadline.check()
            start, end = cps[i], min(cps[i + 1], ccp_text)
            if start >= end:
                continue
            fc = struct.unpack_from("<I", plc, 4 * (pieces + 1) + 8 * i + 2)[0]
            if fc & 0x40000000:
                offset = (fc & 0x3FFFFFFF) // 2
                parts.append(word[offset : offset + end - start].decode("cp1252", errors="replace"))
            else:
                parts.append(word[fc : fc + 2 * (end - start)].decode("utf-16-le", errors="replace"))
    except (struct.error, OSError) as exc:
        raise CorruptDocument(damaged_message(what)) from exc
    finally:
        ole.close()
    text = "".join(parts)
    # Word's control characters: \r ends a paragraph, \x07 a table cell or row, \x0b a line,
    # \x0c a page; fields are \x13 code \x14 result \x15, of which the result is what shows.
    text = re.sub(r"\x13[^\x13\x14\x15]*\x14", "", text)
    text = re.sub(r"\x13[^\x13\x14\x15]*\x15", "", text)
    text = text.replace("\x07\r", "\n").replace("\x07", "\t").replace("\x0b", "\n").replace("\x0c", "\n")
    text = text.replace("\r", "\n").replace("\x15", "").replace("\x14", "")
    for line in text.split("\n"):
        line = " ".join(line.replace("\t", " | ").split()).strip(" |")
        if line:
            yield TextBlock(clean_text(line) + "\n", kind="paragraph")


# --- OLE2: PowerPoint 97-2003 .ppt ---------------------------------------------------------------

_SLIDE_LIST_WITH_TEXT = 0x0FF0
_SLIDE_PERSIST_ATOM = 0x03F3
_SLIDE = 0x03EE
_TEXT_CHARS_ATOM = 0x0FA0
_TEXT_BYTES_ATOM = 0x0FA8
_CSTRING = 0x0FBA


def extract_ppt(data: bytes, deadline: Deadline) -> Iterator[TextBlock]:
    """Slide text from the PowerPoint Document stream's text atoms ([MS-PPT] 2.9, 2.4.14).

    Text lives either in the slide list (a SlideListWithText of instance 0, where each
    SlidePersistAtom starts a slide) or, in files where the list holds no text, in each Slide
    container's text boxes; masters and notes (their own containers) are left out.
    """
    what = "This PowerPoint presentation"
    ole = _open_ole(data, what)
    try:
        if ole.exists("EncryptedSummary"):
            raise PasswordProtected(password_message(what))
        if not ole.exists("PowerPoint Document"):
            raise CorruptDocument(damaged_message(what))
        stream = ole.openstream("PowerPoint Document").read()
    finally:
        ole.close()
    listed: list[list[str]] = []  # from the slide list
    drawn: list[list[str]] = []  # from Slide containers
    list_end = slide_end = -1
    pos = 0
    while pos + 8 <= len(stream):
        ver_inst, rtype, length = struct.unpack_from("<HHI", stream, pos)
        body = pos + 8
        if rtype == _SLIDE_LIST_WITH_TEXT and ver_inst >> 4 == 0:  # instance 0: slides (1 masters, 2 notes)
            list_end = body + length
        elif rtype == _SLIDE and (ver_inst & 0x0F) == 0x0F:
            slide_end = body + length
            drawn.append([])
        elif rtype == _SLIDE_PERSIST_ATOM and pos < list_end:
            listed.append([])
        elif rtype in (_TEXT_CHARS_ATOM, _TEXT_BYTES_ATOM):
            raw = stream[body : body + length]
            text = raw.decode("utf-16-le" if rtype == _TEXT_CHARS_ATOM else "cp1252", errors="replace")
            text = text.replace("\r", "\n").replace("\x0b", "\n").strip()
            if text and pos < list_end and listed:
                listed[-1].append(text)
            elif text and pos < slide_end and drawn:
                drawn[-1].append(text)
        pos = body if (ver_inst & 0x0F) == 0x0F else body + length
    slides = listed if any(listed) else drawn
    for number, lines in enumerate(slides, 1):
        deadline.check()
        text = "\n".join(lines).strip()
        if text:
            yield TextBlock(clean_text(text) + "\n", number)
