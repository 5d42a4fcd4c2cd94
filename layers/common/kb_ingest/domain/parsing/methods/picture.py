"""``picture`` (RAGFlow's ``rag/app/picture.py``): an image file as one chunk of its text.

RAGFlow OCRs the picture; when the text found is short (32 characters or fewer) it asks a vision
model to describe the picture and adds the description, and videos are described by a vision
model alone. No vision model runs here: the chunk is the OCR text, the progress message says so,
and a picture with no text at all fails with that reason. Files that are not pictures are
chunked as ``naive`` with a note.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import sniff
from ..chunking import Chunk
from ..errors import UnsupportedFormat
from ..tokens import count_tokens
from . import Chunked, Source
from ._common import failing, naive

NO_VISION = (
    "The 'picture' method adds a vision model's description of a picture whose text is short (32 "
    "characters or fewer); no vision model is available here, so the chunk is the text read from the "
    "picture (OCR) alone."
)
NO_TEXT = (
    "No text was found in this picture, and describing a picture needs a vision model, which is not available here."
)
NO_VIDEO = "Videos are described by a vision model in RAGFlow's 'picture' method; none is available here."


def chunk(source: Source) -> Chunked:
    ext = sniff.extension(source.filename)
    if ext in sniff.VIDEO_EXTENSIONS:
        return Chunked(failing(NO_VIDEO), "picture")
    if ext not in sniff.IMAGE_EXTENSIONS and source.kind != "image":
        return naive(source, "The 'picture' method reads image files; this is not one, so it was parsed with 'naive'.")

    def chunks() -> Iterator[Chunk]:
        texts: list[str] = []
        page: int | None = None
        for block in source.blocks():
            if block.text.strip() and page is None:
                page = block.page
            texts.append(block.text)
        text = "".join(texts)
        stripped = text.strip()
        if not stripped:
            raise UnsupportedFormat(NO_TEXT)
        yield Chunk(stripped, count_tokens(stripped), page, len(text) - len(text.lstrip()), kind="image")

    return Chunked(chunks(), "picture", [NO_VISION])
