"""``audio`` (RAGFlow's ``rag/app/audio.py``): RAGFlow transcribes the recording with a
speech-to-text model and keeps the transcript as one chunk. No speech model runs here, so audio
files fail with that reason; a file with text chunked with this method is chunked as ``naive``."""

from __future__ import annotations

from .. import sniff
from . import Chunked, Source
from ._common import failing, naive

NO_SPEECH = "The 'audio' method transcribes recordings with a speech-to-text model, which is not available here."


def chunk(source: Source) -> Chunked:
    if sniff.extension(source.filename) in sniff.AUDIO_EXTENSIONS:
        return Chunked(failing(NO_SPEECH), "audio")
    return naive(source, "The 'audio' method reads recordings; this file has text, so it was parsed with 'naive'.")
