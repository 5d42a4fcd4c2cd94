"""Text blocks to chunks, as RAGFlow's parsers (chunk methods) cut them.

Offsets: a chunk's ``offset`` is where its text starts in the document's extracted text (the
concatenation of ``extract``'s blocks). Chunk text is stripped of surrounding whitespace and
``offset`` points at its first non-whitespace character, so for ``naive`` and ``one`` chunks
``extracted_text[c.offset : c.offset + len(c.text)] == c.text`` always holds. ``qa`` and
``table`` chunks are built from a row or a question line: their offset is where that source
starts in the extracted text.

``token_count`` is the exact cl100k_base count of ``text``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import sniff
from .errors import ParseError
from .extract import extract, extract_rows
from .model import ExtractLimits, SheetRow, TextBlock
from .ocr import layout_note
from .tokens import MAX_PIECE_CHARS, _counter, count_tokens, split_by_tokens

DEFAULT_CHUNK_TOKEN_NUM = 128
DEFAULT_DELIMITER = "\n!?。；！？"
PARSERS = ("naive", "one", "qa", "table")

# Text after the last delimiter of a block waits for the next block (a sentence that crosses a
# page break stays one piece) up to this many characters.
_MAX_CARRY = 32 * 1024


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    token_count: int
    page: int | None
    offset: int


@dataclass(frozen=True, slots=True)
class QAPair:
    question: str
    answer: str
    page: int | None
    offset: int


@dataclass(frozen=True)
class ChunkingResult:
    """What ``chunk_document`` will produce: iterate ``chunks`` (lazily parsed; raises ``ParseError``).

    ``parser_id`` is the parser actually used; ``notes`` are sentences for the document's progress
    message (a parser that is not available here, a fallback).
    """

    parser_id: str
    chunks: Iterator[Chunk]
    notes: tuple[str, ...] = field(default=())


# --- delimiters ----------------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\([ntr\\])")


def parse_delimiters(spec: str) -> list[str]:
    """The delimiters of RAGFlow's ``delimiter`` setting.

    Every character is a delimiter; text between backticks is one multi-character delimiter
    (``"`##`\\n"`` is ``["##", "\\n"]``); the escapes ``\\n``, ``\\t``, ``\\r`` and ``\\\\`` typed
    as two characters (as a web form or JSON string gives them) are the characters they name.
    """
    spec = _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(1)], spec)
    found: list[str] = []
    pos = 0
    for match in re.finditer(r"`([^`]+)`", spec):
        found.extend(spec[pos : match.start()])
        found.append(match.group(1))
        pos = match.end()
    found.extend(spec[pos:])
    return list(dict.fromkeys(d for d in found if d))


def delimiter_pattern(delimiters: Iterable[str]) -> re.Pattern[str] | None:
    """A regex matching a run of delimiters, longest alternatives first; ``None`` for no delimiters."""
    singles = [d for d in delimiters if len(d) == 1]
    multis = sorted((d for d in delimiters if len(d) > 1), key=len, reverse=True)
    alternatives = [re.escape(d) for d in multis]
    if singles:
        alternatives.append("[" + "".join(re.escape(c) for c in singles) + "]")
    if not alternatives:
        return None
    return re.compile("(?:" + "|".join(alternatives) + ")+")


# --- naive ---------------------------------------------------------------------------------------


class _Merger:
    """Greedy merging of counted pieces into chunks of at most ``limit`` tokens.

    Each piece is counted once; the running sum decides where a chunk ends; the finished chunk is
    counted once more, exactly. Token counts are not additive (BPE can merge across a boundary),
    so if the finished chunk counts more than the limit its last pieces move to the next chunk.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pieces: list[tuple[str, int | None, int]] = []  # (text, page, tokens)
        self.start = 0
        self.tokens = 0
        self.ready: list[Chunk] = []
        self._fast: Any = None  # the tokenizer loads with the first piece, not for an empty document

    def count(self, text: str) -> int:
        if self._fast is None:
            self._fast = _counter()
        return self._fast(text) if len(text) <= MAX_PIECE_CHARS else count_tokens(text)

    def add(self, text: str, offset: int, page: int | None) -> None:
        tokens = self.count(text)
        if tokens <= self.limit:
            self._add_counted(text, offset, page, tokens)
            return
        for sub in split_by_tokens(text, self.limit):
            self._add_counted(sub, offset, page, self.count(sub))
            offset += len(sub)

    def _add_counted(self, text: str, offset: int, page: int | None, tokens: int) -> None:
        while self.pieces and self.tokens + tokens > self.limit:
            self.flush()
        if not self.pieces:
            self.start = offset
        self.pieces.append((text, page, tokens))
        self.tokens += tokens

    def flush(self) -> None:
        pieces, start = self.pieces, self.start
        self.pieces, self.tokens = [], 0
        carried: list[tuple[str, int | None, int]] = []
        while pieces:
            text = "".join(p[0] for p in pieces)
            stripped = text.strip()
            if not stripped:
                break
            lead = len(text) - len(text.lstrip())
            page = next((p[1] for p in pieces if p[0].strip()), pieces[0][1])
            tokens = self.count(stripped)
            if tokens <= self.limit:
                self.ready.append(Chunk(stripped, tokens, page, start + lead))
                break
            if len(pieces) == 1:  # stripping changed the tokenization: cut the stripped text
                position = start + lead
                for sub in split_by_tokens(stripped, self.limit):
                    inner = sub.strip()
                    if inner:
                        inner_lead = len(sub) - len(sub.lstrip())
                        self.ready.append(Chunk(inner, self.count(inner), page, position + inner_lead))
                    position += len(sub)
                break
            carried.insert(0, pieces.pop())
        if carried:
            self.pieces = carried
            self.start = start + sum(len(p[0]) for p in pieces)
            self.tokens = sum(p[2] for p in carried)

    def finish(self) -> None:
        while self.pieces:
            self.flush()


def naive_chunks(
    blocks: Iterable[TextBlock],
    *,
    chunk_token_num: int = DEFAULT_CHUNK_TOKEN_NUM,
    delimiters: str = DEFAULT_DELIMITER,
) -> Iterator[Chunk]:
    """RAGFlow's ``naive`` chunking, streamed.

    The text is cut after every run of delimiter characters (the delimiters stay at the end of
    their piece); consecutive pieces are merged greedily into chunks of at most
    ``chunk_token_num`` cl100k tokens; a piece longer than that is cut with ``split_by_tokens``.
    Whitespace-only chunks are dropped. Memory stays bounded by the current chunk and block.
    """
    limit = max(1, int(chunk_token_num))
    pattern = delimiter_pattern(parse_delimiters(delimiters))
    merger = _Merger(limit)
    offset = 0  # where the current block starts in the extracted text
    rest, rest_start, rest_page = "", 0, None
    for block in blocks:
        text = block.text
        if not text:
            continue
        if rest:
            combined, base = rest + text, rest_start
            first_page = rest_page if rest.strip() else block.page
        else:
            combined, base, first_page = text, offset, block.page
        offset += len(text)
        position = 0
        if pattern is not None:
            for match in pattern.finditer(combined):
                end = match.end()
                merger.add(combined[position:end], base + position, first_page if position == 0 else block.page)
                position = end
                if merger.ready:
                    yield from merger.ready
                    merger.ready.clear()
        tail = combined[position:]
        tail_page = first_page if position == 0 else block.page
        if pattern is None or len(tail) > _MAX_CARRY:
            merger.add(tail, base + position, tail_page)
            rest = ""
        else:
            rest, rest_start, rest_page = tail, base + position, tail_page
        if merger.ready:
            yield from merger.ready
            merger.ready.clear()
    if rest:
        merger.add(rest, rest_start, rest_page)
    merger.finish()
    yield from merger.ready


# --- one -----------------------------------------------------------------------------------------


def one_chunk(blocks: Iterable[TextBlock]) -> Iterator[Chunk]:
    """The whole document as a single chunk (whatever its length), stripped and counted."""
    texts: list[str] = []
    page: int | None = None
    found = False
    for block in blocks:
        texts.append(block.text)
        if not found and block.text.strip():
            page, found = block.page, True
    text = "".join(texts)
    stripped = text.strip()
    if stripped:
        yield Chunk(stripped, count_tokens(stripped), page, len(text) - len(text.lstrip()))


# --- qa ------------------------------------------------------------------------------------------

_QUESTION_RE = re.compile(r"^\s*(?:q|question|问题?|問題?|질문)\s*\d*\s*[:：]\s*", re.IGNORECASE)
_ANSWER_RE = re.compile(r"^\s*(?:a|answer|ans|答案?|回答|답변?)\s*\d*\s*[:：]\s*", re.IGNORECASE)
_QUESTION_WORDS = {"q", "question", "questions", "问题", "問題", "问", "질문"}
_ANSWER_WORDS = {"a", "answer", "answers", "答案", "答", "回答", "답변", "답"}

NO_QA_PAIRS = (
    "No question-and-answer pairs were found; put questions and answers in the first two columns of a "
    "spreadsheet, or write them as lines starting with 'Q:' and 'A:' (or 'Question:' and 'Answer:')."
)


def _lines_with_offsets(blocks: Iterable[TextBlock]) -> Iterator[tuple[str, int, int | None]]:
    carry, carry_offset, carry_page = "", 0, None
    offset = 0
    for block in blocks:
        text = carry + block.text
        base = carry_offset if carry else offset
        page = carry_page if carry.strip() else block.page
        offset += len(block.text)
        position = 0
        while True:
            end = text.find("\n", position)
            if end < 0:
                break
            yield text[position:end], base + position, page if position == 0 else block.page
            position = end + 1
        carry, carry_offset = text[position:], base + position
        carry_page = page if position == 0 else block.page
    if carry:
        yield carry, carry_offset, carry_page


def qa_pairs_from_text(blocks: Iterable[TextBlock]) -> Iterator[QAPair]:
    """Question/answer pairs from text.

    Lines starting ``Q:``/``Question:`` open a question and ``A:``/``Answer:`` its answer (the
    lines that follow either belong to it until the next marker; Chinese and Korean markers such as
    ``问题：``/``答案：`` too). A document without markers whose first non-empty line contains a tab
    is read as ``question<TAB>answer`` lines, as RAGFlow reads .txt files for ``qa``.
    """
    mode: str | None = None
    question: list[str] | None = None
    answer: list[str] | None = None
    q_offset, q_page = 0, None

    def pair() -> QAPair | None:
        if question is None or answer is None:
            return None
        q = "\n".join(question).strip()
        a = "\n".join(answer).strip()
        return QAPair(q, a, q_page, q_offset) if q and a else None

    for line, offset, page in _lines_with_offsets(blocks):
        q_match = _QUESTION_RE.match(line)
        if mode is None:
            if q_match:
                mode = "marked"
            elif "\t" in line and line.strip():
                mode = "tab"
            else:
                continue
        if mode == "tab":
            question_text, _, answer_text = line.partition("\t")
            if question_text.strip() and answer_text.strip():
                lead = len(line) - len(line.lstrip())
                yield QAPair(question_text.strip(), answer_text.strip(), page, offset + lead)
            continue
        if q_match:
            done = pair()
            if done:
                yield done
            question, answer = [line[q_match.end() :]], None
            q_offset, q_page = offset + len(line) - len(line.lstrip()), page
            continue
        a_match = _ANSWER_RE.match(line)
        if a_match and question is not None and answer is None:
            answer = [line[a_match.end() :]]
        elif answer is not None:
            answer.append(line)
        elif question is not None:
            question.append(line)
    done = pair()
    if done:
        yield done


def qa_pairs_from_rows(rows: Iterable[SheetRow]) -> Iterator[QAPair]:
    """A pair per row with two or more filled cells: the first is the question, the second the answer.

    A header row reading like ``Question | Answer`` is skipped.
    """
    for row in rows:
        filled = [cell for cell in row.cells if cell]
        if len(filled) < 2:
            continue
        question, answer = filled[0], filled[1]
        if row.kind == "header" and question.lower() in _QUESTION_WORDS and answer.lower() in _ANSWER_WORDS:
            continue
        yield QAPair(question, answer, row.page, row.offset)


def qa_chunks(pairs: Iterable[QAPair]) -> Iterator[Chunk]:
    """A chunk per pair, ``Question: ...\\tAnswer: ...`` (RAGFlow's qa content)."""
    count = _counter()
    for qa in pairs:
        text = f"Question: {qa.question}\tAnswer: {qa.answer}"
        tokens = count(text) if len(text) <= MAX_PIECE_CHARS else count_tokens(text)
        yield Chunk(text, tokens, qa.page, qa.offset)


# --- table ---------------------------------------------------------------------------------------


def table_chunks(rows: Iterable[SheetRow]) -> Iterator[Chunk]:
    """A chunk per data row, ``Header1: v1; Header2: v2`` (titles and header rows are not chunks)."""
    for row in rows:
        if row.kind == "data" and row.text:
            yield Chunk(row.text, count_tokens(row.text), row.page, row.offset)


# --- dispatch ------------------------------------------------------------------------------------


def _positive_int(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number >= 1 else default


def _page_ranges(value: Any) -> list[list[int]] | None:
    if not isinstance(value, list | tuple):
        return None
    ranges: list[list[int]] = []
    for item in value:
        if isinstance(item, list | tuple) and len(item) >= 2:
            try:
                ranges.append([int(item[0]), int(item[1])])
            except (TypeError, ValueError):
                continue
    return ranges or None


class _Seen:
    """Passes items through, noting whether any carried text."""

    def __init__(self) -> None:
        self.text = False

    def blocks(self, blocks: Iterable[TextBlock]) -> Iterator[TextBlock]:
        for block in blocks:
            self.text = self.text or bool(block.text.strip())
            yield block

    def rows(self, rows: Iterable[SheetRow]) -> Iterator[SheetRow]:
        for row in rows:
            self.text = self.text or any(row.cells)
            yield row


def _must_have_pairs(chunks: Iterator[Chunk], seen: _Seen) -> Iterator[Chunk]:
    found = False
    for chunk in chunks:
        found = True
        yield chunk
    if not found and seen.text:  # an empty document is the caller's "empty data", not this
        raise ParseError(NO_QA_PAIRS)


def _kind_or_none(data: bytes, filename: str) -> str | None:
    try:
        return sniff.detect_format(data, filename)
    except ParseError:
        return None  # the same error is raised again when the chunks are read


def chunk_document(
    data: bytes,
    filename: str,
    parser_id: str | None = "naive",
    parser_config: Mapping[str, Any] | None = None,
    *,
    limits: ExtractLimits | None = None,
) -> ChunkingResult:
    """Parse and chunk a document with one of RAGFlow's chunk methods.

    ``naive`` (text cut at delimiters, merged up to ``chunk_token_num`` tokens), ``one`` (the whole
    document), ``qa`` (question/answer pairs from spreadsheet rows or ``Q:``/``A:`` text), ``table``
    (one chunk per spreadsheet or CSV row). Any other parser parses as ``naive`` with a note saying
    so; ``table`` on a file that is not a table does too. ``parser_config`` keys:
    ``chunk_token_num`` (default 128), ``delimiter`` (default ``"\\n!?。；！？"``), ``pages``
    (``[[from, to], ...]`` for PDFs). Nothing is parsed until ``chunks`` is iterated.
    """
    config = dict(parser_config or {})
    requested = (parser_id or "naive").strip()
    notes: list[str] = []
    used = requested.lower()
    if used not in PARSERS:
        notes.append(f"Parser '{requested}' is not available here; parsed with 'naive'.")
        used = "naive"
    chunk_token_num = _positive_int(config.get("chunk_token_num"), DEFAULT_CHUNK_TOKEN_NUM)
    delimiter = config.get("delimiter")
    if not isinstance(delimiter, str):
        delimiter = DEFAULT_DELIMITER
    pages = _page_ranges(config.get("pages"))
    layout_recognize = config.get("layout_recognize")
    if note := layout_note(layout_recognize):
        notes.append(note)

    kind = _kind_or_none(data, filename) if used in ("qa", "table") else None
    tabular = kind in sniff.SPREADSHEET_KINDS
    if used == "table" and not tabular and kind not in (None, sniff.TEXT):
        notes.append("The 'table' parser reads spreadsheets and CSV files only; parsed with 'naive'.")
        used = "naive"

    def blocks() -> Iterator[TextBlock]:
        return extract(data, filename, pages=pages, limits=limits, layout_recognize=layout_recognize)

    def rows() -> Iterator[SheetRow]:
        return extract_rows(data, filename, limits=limits)

    chunks: Iterator[Chunk]
    if used == "one":
        chunks = one_chunk(blocks())
    elif used == "table":
        chunks = table_chunks(rows())
    elif used == "qa":
        seen = _Seen()
        pairs = qa_pairs_from_rows(seen.rows(rows())) if tabular else qa_pairs_from_text(seen.blocks(blocks()))
        chunks = _must_have_pairs(qa_chunks(pairs), seen)
    else:
        chunks = naive_chunks(blocks(), chunk_token_num=chunk_token_num, delimiters=delimiter)
    return ChunkingResult(parser_id=used, chunks=chunks, notes=tuple(notes))
