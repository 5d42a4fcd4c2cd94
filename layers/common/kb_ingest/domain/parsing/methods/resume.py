"""``resume`` (RAGFlow's ``rag/app/resume.py``): RAGFlow sends a résumé's text to an LLM that fills
in fields (name, contact, education, work experience, skills) and indexes them. No LLM runs here:
the résumé is chunked as ``naive`` and the progress message says so."""

from __future__ import annotations

from . import Chunked, Source
from ._common import naive

NOTE = (
    "The 'resume' method extracts a résumé's fields (name, education, experience, skills) with an LLM, "
    "which is not available here; the résumé was parsed with 'naive'."
)


def chunk(source: Source) -> Chunked:
    return naive(source, NOTE)
