"""HTML (visible text), XML (element text), JSON/YAML (``path: value`` lines) and e-mail."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from ._text import (
    bom_encoding,
    clean_text,
    declared_encoding_works,
    decode_all,
    detect_encoding,
    looks_binary,
)
from .errors import NOT_TEXT, CorruptDocument, ResourceLimitExceeded, UnsupportedFormat, damaged_message
from .model import ExtractLimits, TextBlock

_BLOCK_CHARS = 64 * 1024


def lines_to_blocks(lines: Iterator[str], page: int | None = None) -> Iterator[TextBlock]:
    buffer: list[str] = []
    size = 0
    for line in lines:
        buffer.append(line + "\n")
        size += len(line) + 1
        if size >= _BLOCK_CHARS:
            yield TextBlock("".join(buffer), page)
            buffer, size = [], 0
    if buffer:
        yield TextBlock("".join(buffer), page)


# --- HTML ----------------------------------------------------------------------------------------

_META_CHARSET_RE = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)|<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._:-]+)""",
    re.IGNORECASE,
)
_TAG_RE = re.compile(rb"<(?:script|style)\b.*?</(?:script|style)\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_XML_DECLARATION_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)

# Not rendered by a browser, or not text.
_SKIP_TAGS = frozenset({
    "head", "script", "style", "noscript", "template", "meta", "link", "base", "title", "svg", "math",
    "canvas", "iframe", "object", "embed", "applet", "audio", "video", "source", "track", "map", "area",
    "datalist", "dialog",
})  # fmt: skip
# <input> types whose value a user sees on the page (not hidden fields, passwords or checkboxes).
_VISIBLE_INPUTS = frozenset(
    {"", "text", "search", "email", "url", "tel", "number", "date", "submit", "button", "reset"}
)
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dir",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "frameset", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav", "ol", "p",
    "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
})  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_CELL = "\x00"  # marks the end of a table cell inside a line (the text has no NULs left)


def html_encoding(data: bytes) -> tuple[str, int]:
    """BOM, then a ``<meta charset>`` / XML declaration that decodes the bytes, then detection."""
    bom = bom_encoding(data)
    if bom:
        return bom
    match = _META_CHARSET_RE.search(data[:4096])
    if match:
        declared = (match.group(1) or match.group(2)).decode("ascii", "ignore")
        encoding = declared_encoding_works(data, declared)
        if encoding:
            return encoding, 0
    encoding, start = detect_encoding(data)
    if encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        return encoding, start
    # A legacy 8-bit page: judge the encoding on its text, not on the ASCII markup around it.
    return detect_encoding(_TAG_RE.sub(b" ", data[: 4 * 1024 * 1024]))


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.parts: list[str] = []

    def text(self, text: str) -> None:
        self.parts.append(text)

    def cell_end(self) -> None:
        self.parts.append(_CELL)

    def newline(self) -> None:
        if not self.parts:
            return
        raw = "".join(self.parts)
        self.parts.clear()
        cells = (" ".join(cell.split()) for cell in raw.split(_CELL))
        line = " | ".join(cell for cell in cells if cell)
        if line:
            self.lines.append(line)

    def preformatted(self, text: str) -> None:
        self.newline()
        for line in text.split("\n"):
            if line.strip():
                self.lines.append(line.rstrip())


def _hidden(element: Any) -> bool:
    if element.get("hidden") is not None:
        return True
    style = element.get("style")
    return bool(style and _HIDDEN_STYLE_RE.search(style))


def _shown_value(node: Any, tag: str) -> str:
    if tag == "img":
        return " ".join((node.get("alt") or "").split())
    if tag == "input":
        if (node.get("type") or "").strip().lower() not in _VISIBLE_INPUTS:
            return ""
        return " ".join((node.get("value") or "").split())
    options = node.findall(".//option")
    chosen = next((o for o in options if o.get("selected") is not None), options[0] if options else None)
    return " ".join(chosen.text_content().split()) if chosen is not None else ""


def html_to_text(text: str) -> str:
    """The visible text of an HTML document, a line per block element, table cells ``a | b``."""
    import lxml.html
    from lxml import etree

    text = _XML_DECLARATION_RE.sub("", text, count=1)
    if not text.strip():
        return ""
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, huge_tree=True)
    try:
        root = lxml.html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError):
        return ""
    out = _Lines()
    title = root.find(".//title")
    if title is not None and title.text_content().strip():
        out.text(title.text_content())
        out.newline()

    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if closing:
            if tag in _CELL_TAGS:
                out.cell_end()
            if tag in _BLOCK_TAGS:
                out.newline()
            if node.tail:
                out.text(node.tail)
            continue
        if not tag or tag in _SKIP_TAGS or _hidden(node):
            if node.tail:
                out.text(node.tail)
            continue
        if tag in _BLOCK_TAGS or tag == "br":
            out.newline()
        if tag in ("img", "input", "select"):
            # What the page shows for them: a picture's alternative text, a field's value, the
            # chosen option of a list (the first one when none is marked selected).
            shown = _shown_value(node, tag)
            if shown:
                out.text(f" {shown} ")
            if node.tail:
                out.text(node.tail)
            continue
        if tag == "pre":
            out.preformatted(node.text_content())
            if node.tail:
                out.text(node.tail)
            continue
        if node.text:
            out.text(node.text)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node))
    out.newline()
    return "\n".join(out.lines)


def extract_html(data: bytes) -> Iterator[TextBlock]:
    if looks_binary(data):
        raise UnsupportedFormat(NOT_TEXT)
    encoding, start = html_encoding(data)
    text = html_to_text(decode_all(data, encoding, start))
    if text.strip():
        yield from lines_to_blocks(iter(text.split("\n")))


# --- XML -----------------------------------------------------------------------------------------


def extract_xml(data: bytes) -> Iterator[TextBlock]:
    from lxml import etree

    # XXE-safe: no entity expansion, no DTD loading, no network.
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=True,
        remove_comments=True,
        remove_pis=True,
        recover=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise CorruptDocument(damaged_message("This XML file")) from exc
    if root is None:
        raise CorruptDocument(damaged_message("This XML file"))

    def lines() -> Iterator[str]:
        for element in root.iter():
            if not isinstance(element.tag, str):
                if element.tail and element.tail.strip():
                    yield " ".join(element.tail.split())
                continue
            name = etree.QName(element).localname
            text = " ".join((element.text or "").split())
            attributes = "; ".join(
                f"{etree.QName(key).localname}: {' '.join(value.split())}"
                for key, value in element.attrib.items()
                if value.strip()
            )
            if attributes:
                name = f"{name} ({attributes})"
            if text or attributes:
                yield f"{name}: {text}" if text else name
            if element is not root and element.tail and element.tail.strip():
                yield " ".join(element.tail.split())

    yield from lines_to_blocks(clean_text(line, mojibake=True) for line in lines())


# --- JSON / YAML ---------------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def _too_many_values(limit: int) -> ResourceLimitExceeded:
    return ResourceLimitExceeded(f"This file describes more than {limit:,} values, the most this deployment reads.")


def _tree_size(value: Any, limit: int) -> int:
    """How many nodes ``flatten`` would visit, counting shared (aliased) subtrees once per use.

    Computed in time proportional to the distinct containers, so a YAML alias bomb (a few lines
    describing billions of values) is refused at once; a self-referencing structure is infinite.
    """
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        node, children_done = stack.pop()
        if not isinstance(node, dict | list | tuple) or (id(node) in sizes and not children_done):
            continue
        children = list(node.values()) if isinstance(node, dict) else list(node)
        if not children_done:
            if id(node) in in_progress:
                raise _too_many_values(limit)  # a cycle
            in_progress.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children if isinstance(child, dict | list | tuple))
            continue
        in_progress.discard(id(node))
        total = 1
        for child in children:
            total += sizes.get(id(child), 1) if isinstance(child, dict | list | tuple) else 1
        sizes[id(node)] = min(total, limit + 1)
    return sizes.get(id(value), 1)


def flatten(value: Any, limit: int, prefix: str = "") -> Iterator[str]:
    """``path: value`` lines (``a.b[0].c: 1``) of a JSON/YAML value; at most ``limit`` nodes.

    YAML aliases can make a small file describe an exponentially large tree: the node budget
    turns that into ``ResourceLimitExceeded`` instead of a hang.
    """
    if _tree_size(value, limit) > limit:
        raise _too_many_values(limit)
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            if not node:
                yield f"{path}: {{}}" if path else "{}"
            for key, child in reversed(list(node.items())):
                stack.append((f"{path}.{_scalar(key)}" if path else _scalar(key), child))
        elif isinstance(node, list | tuple):
            if not node:
                yield f"{path}: []" if path else "[]"
            for index in range(len(node) - 1, -1, -1):
                stack.append((f"{path}[{index}]", node[index]))
        else:
            text = _scalar(node)
            yield f"{path}: {text}" if path else text


def _as_text(text: str) -> Iterator[TextBlock]:
    if text.strip():
        yield from lines_to_blocks(iter(text.split("\n")))


def extract_json(data: bytes, limits: ExtractLimits, *, lines: bool = False) -> Iterator[TextBlock]:
    import json

    text = decode_all(data)
    if lines:

        def records() -> Iterator[str]:
            for number, line in enumerate(text.split("\n")):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    yield line
                    continue
                yield from flatten(record, limits.max_cells, f"[{number}]")

        yield from lines_to_blocks(records())
        return
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        yield from _as_text(text)  # not valid JSON: still readable text
        return
    yield from lines_to_blocks(flatten(value, limits.max_cells))


def extract_yaml(data: bytes, limits: ExtractLimits) -> Iterator[TextBlock]:
    import yaml

    text = decode_all(data)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        documents = [d for d in yaml.load_all(text, Loader=loader) if d is not None]
    except (yaml.YAMLError, RecursionError, ValueError):
        yield from _as_text(text)
        return

    def lines() -> Iterator[str]:
        for document in documents:
            yield from flatten(document, limits.max_cells)

    yield from lines_to_blocks(lines())


# --- e-mail --------------------------------------------------------------------------------------


def _part_text(part: Any) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):
        content = part.get_payload(decode=True) or b""
    if isinstance(content, bytes):
        content = decode_all(content) if content and not looks_binary(content) else ""
    return clean_text(str(content), mojibake=True)


MAX_ATTACHMENT_DEPTH = 3  # a mail attached to a mail attached to a mail ... is read this deep


def _mail_bytes(data: bytes) -> bytes:
    """MIME bytes: a mail saved as UTF-16 or UTF-32 text (some Windows tools do) is re-encoded."""
    head = data[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 64 and data[:64].count(b"\x00") > 16):
        for encoding in ("utf-32", "utf-16") if head in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff") else ("utf-16",):
            try:
                return data.decode(encoding).encode("utf-8")
            except UnicodeError:
                continue
        if data[1:2] == b"\x00":
            return data.decode("utf-16-le", errors="replace").encode("utf-8")
        return data.decode("utf-16-be", errors="replace").encode("utf-8")
    return data


def extract_eml(data: bytes, limits: ExtractLimits | None = None, depth: int = 0) -> Iterator[TextBlock]:
    """Headers (a ``metadata`` block), the body, then each attachment parsed as its own type.

    As RAGFlow's email method does, an attachment's text joins the mail's: its blocks carry the
    attachment's name in ``source``. One that cannot be read is named with the reason instead.
    """
    import email
    from email import policy

    try:
        message = email.message_from_bytes(_mail_bytes(data), policy=policy.default)
    except Exception as exc:  # the parser is lenient; this is a truly broken file
        raise CorruptDocument(damaged_message("This e-mail")) from exc

    headers: list[str] = []
    for name in ("Subject", "From", "To", "Cc", "Date"):
        try:
            value = message.get(name)
        except Exception:
            value = None
        if value:
            headers.append(f"{name}: {' '.join(str(value).split())}")
    if headers:
        yield TextBlock("\n".join(headers) + "\n", kind="metadata")

    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except Exception:  # a malformed MIME tree: headers and attachments are still worth having
        body = None
    if body is not None:
        text = _part_text(body)
        if body.get_content_subtype() == "html":
            text = html_to_text(text)
        text = "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))
        if text.strip():
            yield TextBlock(("\n" if headers else "") + text + "\n")

    for part in message.walk():
        if part.is_multipart() or part is body:
            continue
        filename = part.get_filename()
        if not (filename or part.get_content_disposition() == "attachment"):
            continue
        name = filename or f"(unnamed {part.get_content_type()})"
        yield from _attachment_blocks(part, name, limits, depth)


def _attachment_blocks(part: Any, name: str, limits: ExtractLimits | None, depth: int) -> Iterator[TextBlock]:
    from .errors import ParseError
    from .extract import extract

    title = TextBlock(f"\nAttachment: {name}\n", kind="metadata", source=name)
    payload = part.get_payload(decode=True)
    if part.get_content_type() == "message/rfc822" and not payload:
        inner = part.get_payload()
        payload = inner[0].as_bytes() if isinstance(inner, list) and inner else b""
    if depth >= MAX_ATTACHMENT_DEPTH or not payload:
        yield title
        return
    try:
        if part.get_content_type() == "message/rfc822" or name.lower().endswith(".eml"):
            blocks = list(extract_eml(payload, limits, depth + 1))
        else:
            blocks = list(extract(payload, name if "." in name else name + ".txt", limits=limits))
    except ParseError as exc:
        yield TextBlock(f"\nAttachment: {name} (not read: {exc})\n", kind="metadata", source=name)
        return
    yield title
    for block in blocks:
        text = block.text if block.text.endswith("\n") else block.text + "\n"
        yield TextBlock(text, block.page, block.kind, block.level, block.table, name)
