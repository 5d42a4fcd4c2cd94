"""One parse run, from the worker's side: claim, fetch, extract, chunk, store, finish.

Every write is conditional on the run (see kb_ingest.dal.runs): when the user stops or
restarts the document, the next write fails, and the worker discards what it wrote and
stops quietly. Progress writes are throttled so a big document costs a handful of writes.
"""

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from kb_ingest.clock import now_ms
from kb_ingest.domain.chunks import StoredChunk, chunk_id, positions_of
from kb_ingest.domain.documents import Document, DocumentStore
from kb_ingest.domain.parse_runs import (
    DONE,
    FAIL,
    RunEvents,
    RunFailure,
    RunResult,
    RunStore,
    log_line,
    run_event,
)
from kb_ingest.domain.parsing import Chunk, ExtractLimits, ParseError, chunk_document

# Stop starting work when less than this is left of the invocation, and fail cleanly.
SAFETY_MARGIN_MS = 30_000
PROGRESS_EVERY_SECONDS = 2.0


@dataclass(frozen=True)
class ParseJob:
    tenant_id: str
    dataset_id: str
    document_id: str
    run_id: str
    attempt: int = 1
    max_attempts: int = 3


class ChunkSink(Protocol):
    count: int

    def add(self, chunk: StoredChunk) -> None: ...

    def close(self, summary: dict[str, Any]) -> None: ...

    def discard(self) -> None: ...


Chunker = Callable[[bytes, Document, float], tuple[Iterable[Chunk], list[str]]]


def chunk_with_parser_settings(
    data: bytes, document: Document, seconds_left: float
) -> tuple[Iterable[Chunk], list[str]]:
    """The document's own parser and parser_config, within the time the invocation has left."""
    result = chunk_document(
        data,
        document.name,
        document.parser_id,
        document.parser_config,
        limits=ExtractLimits(timeout_seconds=max(seconds_left, 1.0)),
    )
    return result.chunks, list(result.notes)


class RunStopped(Exception):
    """The run was stopped or superseded while this worker was on it."""


class _Progress:
    """The run's progress_msg and throttled progress writes."""

    def __init__(self, runs: RunStore, job: ParseJob, lines: str) -> None:
        self.runs, self.job = runs, job
        self.lines = lines
        self.value = 0.0
        self._last_write = time.monotonic()  # the claim has just written the run

    def note(self, message: str) -> None:
        """Add a line, written with the next progress write."""
        self.lines = f"{self.lines}\n{log_line(message)}".strip()

    def say(self, message: str, value: float, release: bool = False) -> None:
        """A line and a value, written when the last write is PROGRESS_EVERY_SECONDS old (a
        document parsed sooner shows them all with its outcome, in the same record: milestones
        written one by one were half the DynamoDB writes of a small document's parse), or now when
        the run is released for a retry."""
        self.note(message)
        self.set(value, force=release, release=release)

    def set(self, value: float, force: bool = False, release: bool = False) -> None:
        self.value = max(self.value, min(value, 0.99))
        if not force and time.monotonic() - self._last_write < PROGRESS_EVERY_SECONDS:
            return
        self._last_write = time.monotonic()
        job = self.job
        written = self.runs.progress(
            job.dataset_id, job.document_id, job.run_id, round(self.value, 4), self.lines, now_ms(), release
        )
        if not written:
            raise RunStopped


_CHUNK_FIELDS = {"text", "token_count", "page", "offset"}


def stored_chunk(chunk: Chunk, document: Document, index: int, taken: set[str], now: int) -> StoredChunk:
    """The record of the index-th chunk of a run; fields a chunker adds beyond the four every
    chunk has (issue 12's optional per-chunk fields) travel in `extra`."""
    identity = chunk_id(chunk.text, document.id, taken.__contains__)
    taken.add(identity)
    extra = {
        name: getattr(chunk, name)
        for name in (item.name for item in dataclasses.fields(chunk))  # type: ignore[arg-type]
        if name not in _CHUNK_FIELDS and getattr(chunk, name) not in (None, "", [], {}, ())
    }
    return StoredChunk(
        id=identity,
        document_id=document.id,
        dataset_id=document.kb_id,
        content=chunk.text,
        position=index,
        token_count=chunk.token_count,
        page=chunk.page,
        offset=chunk.offset,
        positions=positions_of(chunk.page),
        extra=extra,
        create_time=now,
        update_time=now,
    )


def run_parse(
    job: ParseJob,
    documents: DocumentStore,
    runs: RunStore,
    read_file: Callable[[Document], tuple[bytes, str | None]],
    new_sink: Callable[[Document], ChunkSink],
    events: RunEvents,
    remaining_ms: Callable[[], int],
    chunker: Chunker = chunk_with_parser_settings,
) -> str:
    """Carry out one run; returns what happened (for the log). Raises on a transient failure,
    after recording it, so the queue delivers the message again."""
    document = runs.claim(job.dataset_id, job.document_id, job.run_id, now_ms(), remaining_ms())
    if document is None:
        return "skipped: the run is not current, or another worker holds it"
    progress = _Progress(runs, job, document.progress_msg)
    sink: ChunkSink | None = None
    try:
        attempt = f" (attempt {job.attempt} of {job.max_attempts})" if job.attempt > 1 else ""
        progress.say(f"Parsing started{attempt}.", 0.02)
        data, etag = read_file(document)
        progress.say(f"Fetched the file ({_size(len(data))}).", 0.1)
        seconds_left = (remaining_ms() - SAFETY_MARGIN_MS) / 1000
        chunks, notes = chunker(data, document, seconds_left)
        for note in notes:
            progress.say(note, 0.1)
        sink = new_sink(document)
        tokens = 0
        expected = max(len(data), 1)
        last_page = None
        taken: set[str] = set()
        started = now_ms()
        for index, chunk in enumerate(chunks):
            sink.add(stored_chunk(chunk, document, index, taken, started))
            tokens += chunk.token_count
            finished_page = last_page if chunk.page != last_page else None
            if finished_page is not None and (finished_page <= 3 or finished_page % 50 == 0):
                progress.note(f"Page {finished_page} chunked.")  # milestones only: the message stays short
            last_page = chunk.page
            progress.set(0.1 + 0.75 * min(1.0, chunk.offset / expected))
            if remaining_ms() < SAFETY_MARGIN_MS:
                raise TimeoutError("the function's time ran out")
        if not sink.count:
            raise ParseError("No text could be extracted from this file.")
        sink.close({"run_id": job.run_id, "tokens": tokens})
        progress.say(f"Stored {sink.count} chunks ({tokens} tokens).", 0.95)
        done_lines = f"{progress.lines}\n{log_line('Task done.')}"
        if not runs.finish(document, job.run_id, RunResult(sink.count, tokens, etag), done_lines, now_ms()):
            raise RunStopped
        finished = documents.get(job.dataset_id, job.document_id) or document
        events.run_ended(run_event(finished, DONE))
        return f"done: {sink.count} chunks, {tokens} tokens"
    except RunStopped:
        if sink is not None:
            sink.discard()
        return "stopped: the run was cancelled or superseded"
    except ParseError as error:
        if sink is not None:
            sink.discard()
        return _fail(runs, events, document, job, progress, RunFailure(type(error).__name__, str(error), False))
    except TimeoutError:
        if sink is not None:
            sink.discard()
        reason = "Parsing did not finish within the function's time limit; split the file into smaller ones."
        return _fail(runs, events, document, job, progress, RunFailure("Timeout", reason, False))
    except Exception as error:
        if sink is not None:
            sink.discard()
        reason = f"{type(error).__name__}: {error}"
        if job.attempt >= job.max_attempts:
            message = f"Parsing failed {job.attempt} times; last error: {reason}"
            _fail(runs, events, document, job, progress, RunFailure(type(error).__name__, message, True))
        else:
            try:
                progress.say(
                    f"Attempt {job.attempt} failed ({reason}); it will be retried.", progress.value, release=True
                )
            except RunStopped:
                return "stopped: the run was cancelled or superseded"
        raise


def _fail(
    runs: RunStore, events: RunEvents, document: Document, job: ParseJob, progress: _Progress, failure: RunFailure
) -> str:
    lines = f"{progress.lines}\n{log_line('[ERROR] ' + failure.message)}".strip()
    ended = runs.end(document, job.run_id, FAIL, lines, now_ms(), failure)
    if ended is not None:
        events.run_ended(run_event(ended, FAIL))
    return f"failed: {failure.message}"


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count} bytes"
