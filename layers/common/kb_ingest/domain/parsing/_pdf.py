"""PDF text layer, page by page (pypdf, plain extraction mode).

Plain mode follows the content stream, which for multi-column papers written by TeX, Word and
most tools is column by column, i.e. reading order; pypdf's layout mode reproduces the visual
page and interleaves the columns line by line, so it is not used.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

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

_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_SPACES_RE = re.compile(r"[ \t\u00a0]{2,}|\t")
_HYPHENATED_RE = re.compile(r"(?<=[a-z])-\n(?=[a-z])")
_TRAILING_SPACE_RE = re.compile(r"[ \t]+\n")


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
    text = text.translate(_LIGATURES)
    text = _SPACES_RE.sub(" ", text)
    text = _TRAILING_SPACE_RE.sub("\n", text)
    return _HYPHENATED_RE.sub("", text)


def _open(data: bytes):
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception as exc:
        raise CorruptDocument(damaged_message(_WHAT)) from exc
    if reader.is_encrypted:
        try:
            # Many PDFs are encrypted only to restrict copying or printing: their user password is
            # empty and they open without asking for one.
            opened = reader.decrypt("")
        except DependencyError as exc:
            raise ParseError(
                "This PDF is encrypted with AES, which needs the 'cryptography' package that this deployment lacks."
            ) from exc
        except NotImplementedError as exc:
            raise ParseError(
                "This PDF is encrypted with a method this deployment cannot read; save an unencrypted copy "
                "and upload it again."
            ) from exc
        except Exception as exc:
            raise CorruptDocument(damaged_message(_WHAT)) from exc
        if not opened:
            raise PasswordProtected(password_message(_WHAT))
    return reader


def extract_pdf(
    data: bytes, pages: list[list[int]] | None, limits: ExtractLimits, deadline: Deadline
) -> Iterator[TextBlock]:
    reader = _open(data)
    try:
        count = len(reader.pages)
    except Exception as exc:
        raise CorruptDocument(damaged_message(_WHAT)) from exc
    selected = page_numbers(pages, count)
    if len(selected) > limits.max_pages:
        raise ResourceLimitExceeded(
            f"This PDF has {len(selected):,} pages to read, more than the {limits.max_pages:,} this "
            "deployment reads at once; choose a page range or split the file."
        )
    # pypdf reports recoverable oddities of real-world files through logging; they are not errors.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    found_text = False
    failures = 0
    for number in selected:
        deadline.check()
        try:
            text = reader.pages[number - 1].extract_text() or ""
        except RecursionError as exc:
            raise CorruptDocument(damaged_message(_WHAT)) from exc
        except Exception:
            failures += 1  # one broken page does not lose the rest of the document
            continue
        text = clean_page(text).strip("\n")
        if not text.strip():
            continue
        found_text = True
        yield TextBlock(text + "\n", number)
    if not found_text and selected:
        if failures:
            raise CorruptDocument(damaged_message(_WHAT))
        raise NoTextLayer(SCANNED_PDF)
