"""``presentation`` (RAGFlow's ``rag/app/presentation.py``): one chunk per slide or page.

PowerPoint slides (title, text, tables, notes) and PDF pages each become one chunk, whatever
their length, as RAGFlow does (it also stores a thumbnail of each page; no images are kept here).
Other formats have no pages: they are chunked as ``naive`` and the progress message says so.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import sniff
from ..chunking import Chunk
from ..tokens import count_tokens
from . import Chunked, Source
from ._common import naive

PAGED = frozenset({sniff.PPTX, sniff.PDF})


def chunk(source: Source) -> Chunked:
    if source.kind not in PAGED:
        return naive(
            source,
            "The 'presentation' method cuts PowerPoint and PDF files by slide or page; this file has no "
            "pages, so it was parsed with 'naive'.",
        )

    def chunks() -> Iterator[Chunk]:
        offset = 0
        page: int | None = None
        parts: list[str] = []
        start = 0

        def page_chunk() -> Chunk | None:
            text = "".join(parts)
            stripped = text.strip()
            if not stripped:
                return None
            return Chunk(stripped, count_tokens(stripped), page, start + len(text) - len(text.lstrip()))

        for block in source.blocks():
            if parts and block.page != page:
                done = page_chunk()
                if done is not None:
                    yield done
                parts = []
            if not parts:
                page, start = block.page, offset
            parts.append(block.text)
            offset += len(block.text)
        if parts and (done := page_chunk()) is not None:
            yield done

    return Chunked(chunks(), "presentation")
