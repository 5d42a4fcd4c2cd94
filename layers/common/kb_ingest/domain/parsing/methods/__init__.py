"""RAGFlow's chunk methods beyond naive, one, qa and table: one module per ``rag/app/<method>.py``.

Each module has ``chunk(source) -> Chunked``: the document (``Source``: its blocks, its rows for
spreadsheets, its format and parser settings) in, chunks and progress notes out. Nothing here
imports a format library or the tokenizer at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..chunking import Chunk
from ..model import SheetRow, TextBlock


@dataclass(frozen=True)
class Source:
    """A document as the methods see it. ``blocks()`` and ``rows()`` parse it (again) when called."""

    filename: str
    kind: str | None  # sniff's format name; None when it could not be told
    blocks: Callable[[], Iterator[TextBlock]]
    rows: Callable[[], Iterator[SheetRow]]
    chunk_token_num: int
    delimiter: str
    overlapped_percent: int


@dataclass
class Chunked:
    """What a method gives back: its chunks (lazy), the parser actually used, progress notes."""

    chunks: Iterator[Chunk]
    parser_id: str
    notes: list[str] = field(default_factory=list)


METHODS = (
    "book",
    "laws",
    "manual",
    "paper",
    "presentation",
    "picture",
    "email",
    "resume",
    "tag",
    "knowledge_graph",
    "audio",
)


def run(method: str, source: Source) -> Chunked:
    """Chunk ``source`` with one of ``METHODS``."""
    from importlib import import_module

    module = import_module(f"{__name__}.{method}")
    result: Chunked = module.chunk(source)
    return result
