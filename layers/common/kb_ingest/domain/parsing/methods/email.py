"""``email`` (RAGFlow's ``rag/app/email.py``): a mail's header fields and body chunked together,
each attachment chunked on its own.

The mail's own text (``From:``/``To:``/``Subject:`` lines and the body) is chunked as ``naive``;
each attachment the extractor read (its blocks name it in ``source``) is chunked as ``naive`` by
itself, so no chunk mixes the mail with an attachment or two attachments. Files that are not
e-mails are chunked as ``naive`` with a note.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby

from .. import sniff
from ..chunking import Chunk, naive_chunks
from . import Chunked, Source
from ._common import naive


def chunk(source: Source) -> Chunked:
    if source.kind != sniff.EML:
        return naive(source, "The 'email' method reads .eml files; this is not one, so it was parsed with 'naive'.")

    def chunks() -> Iterator[Chunk]:
        offset = 0
        for _, group in groupby(source.blocks(), key=lambda block: block.source):
            blocks = list(group)
            yield from naive_chunks(
                blocks,
                chunk_token_num=source.chunk_token_num,
                delimiters=source.delimiter,
                overlapped_percent=source.overlapped_percent,
                start_offset=offset,
            )
            offset += sum(len(block.text) for block in blocks)

    return Chunked(chunks(), "email")
