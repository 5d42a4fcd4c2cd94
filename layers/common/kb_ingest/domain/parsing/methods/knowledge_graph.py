"""``knowledge_graph``: RAGFlow chunks the document as ``naive`` and then has an LLM extract
entities and relations into a graph. No LLM runs here: the chunks are made, the graph is not,
and the progress message says so."""

from __future__ import annotations

from . import Chunked, Source
from ._common import naive

NOTE = (
    "The 'knowledge_graph' method extracts entities and relations with an LLM, which is not available "
    "here; the document was chunked as 'naive' and no graph was built."
)


def chunk(source: Source) -> Chunked:
    return naive(source, NOTE)
