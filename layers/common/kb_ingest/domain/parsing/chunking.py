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

import operator
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, compress, islice
from operator import not_
from typing import Any

from . import sniff, token_sums
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
    """One chunk. ``text``, ``token_count``, ``page`` and ``offset`` are always set.

    The optional fields carry what RAGFlow stores beside a chunk's content where a method yields
    it: ``kind`` is ``"text"``, ``"table"`` (``text`` is the table's HTML), ``"qa"`` (a question
    and its answer) or ``"image"`` (text read from a picture), RAGFlow's ``doc_type_kwd``;
    ``question`` is a qa chunk's question alone; ``important_keywords`` RAGFlow's
    ``important_kwd`` (the paper method marks the abstract with them); ``titles`` the headings
    the chunk sits under, outermost first, where a method cut the document by its headings;
    ``tags`` a tag-set entry's tags (RAGFlow's ``tag_kwd``, the tag method).
    """

    text: str
    token_count: int
    page: int | None
    offset: int
    kind: str = "text"
    question: str | None = None
    important_keywords: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


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


def piece_pattern(delimiters: Iterable[str]) -> re.Pattern[str] | None:
    """A regex matching one piece: text up to and including the next run of delimiters.

    ``findall`` with it cuts where ``delimiter_pattern``'s matches end, without a match object per
    piece; ``None`` for no delimiters.
    """
    delimiters = list(delimiters)
    run = delimiter_pattern(delimiters)
    if run is None:
        return None
    if all(len(d) == 1 for d in delimiters):
        inner = "".join(re.escape(c) for c in delimiters)
        return re.compile(f"[^{inner}]*[{inner}]+")
    return re.compile("(?s:.*?)" + run.pattern)


# Characters of text cut into pieces at a time (the window grows for a piece longer than this).
_WINDOW = 1 << 16


def _after_last_delimiter(text: str, start: int, end: int, delimiters: Sequence[str]) -> int:
    """Where the last delimiter of ``text[start:end]`` ends (``start`` when there is none)."""
    last = start
    for delimiter in delimiters:
        found = text.rfind(delimiter, start, end)
        if found >= 0:
            last = max(last, found + len(delimiter))
    return last


def _pieces_in_windows(
    pattern: re.Pattern[str], text: str, delimiters: Sequence[str]
) -> Iterator[tuple[list[str], int]]:
    """The complete pieces of ``text`` a window at a time, each list with where it starts.

    ``findall`` reads only up to the window's last delimiter: past it, the pattern would be tried
    from every position of a stretch that holds no delimiter, each try reading to the stretch's
    end, which is quadratic (120,000 characters of ``"half. "`` took minutes)."""
    position, n, size = 0, len(text), _WINDOW
    while position < n:
        end = min(n, position + size)
        stop = _after_last_delimiter(text, position, end, delimiters)
        pieces = pattern.findall(text, position, stop) if stop > position else []
        if end < n:
            if len(pieces) < 2:  # the one piece may go on past the window: look further
                size *= 2
                continue
            pieces.pop()  # its run of delimiters may go on past the window
            size = _WINDOW
        if not pieces:
            return
        yield pieces, position
        position += sum(map(len, pieces))


# --- naive ---------------------------------------------------------------------------------------


def has_wrapped_delimiter(spec: str) -> bool:
    """Whether the ``delimiter`` setting holds a backtick-quoted delimiter (RAGFlow's custom mode)."""
    return bool(spec) and re.search(r"`[^`]+`", spec) is not None


def _safe_counter() -> Callable[[str], int]:
    fast = _counter()

    def count(text: str) -> int:
        return fast(text) if len(text) <= MAX_PIECE_CHARS else count_tokens(text)

    return count


def _stripped_count(text: str, tokens: int, lead: bool, trail: bool, count: Callable[[str], int]) -> int:
    """The exact count of ``text`` with its leading and/or trailing whitespace removed.

    ``tokens`` is the count of ``text`` itself. Only a short window at each stripped edge is
    counted again (from the edge to the nearest cut where counts add up, see ``token_sums``);
    where no such cut is near, the stripped text is counted as a whole.
    """
    lo = len(text) - len(text.lstrip()) if lead and text[0].isspace() else 0
    hi = len(text.rstrip()) if trail and text[-1].isspace() else len(text)
    if lo == 0 and hi == len(text):
        return tokens
    total = tokens
    q1 = 0
    if lo:
        found = token_sums.first_stable_after(text, lo)
        if found is None or found > hi:
            return count(text[lo:hi])
        window = text[:found]
        total -= count(window) - count(window[lo:])
        q1 = found
    if hi < len(text):
        found = token_sums.last_stable_before(text, hi, q1)
        if found is None:
            return count(text[lo:hi])
        window = text[found:]
        total -= count(window) - count(window[: hi - found])
    return total


# Window counts remembered per chunker: strings this short, this many of them.
_WINDOW_CACHE_CHARS = 16
_WINDOW_CACHE_SIZE = 4096  # a few hundred KiB at most, whatever the document
_SUFFIX = 12
# A cut whose correction is not known: far above any chunk's count, so a sum holding one shows it.
_UNKNOWN = 1 << 40
_KNOWN = _UNKNOWN >> 1  # a sum below this holds no unknown cut (corrections are a few tokens each)

# How far back from a guessed cut ``_split_long`` looks for a cut where counts add up.
_CUT_SEARCH = 256


def _split_long(text: str, tokens: int, limit: int, count: Callable[[str], int]) -> list[tuple[str, int]]:
    """``text`` (``tokens`` long, over ``limit``) cut into counted pieces of at most ``limit`` tokens.

    Cuts fall where counts add up (before a space, after a letter before punctuation, ...: see
    ``token_sums``), so words stay whole and the pieces' counts sum to ``tokens``: each cut is
    guessed from the characters per token of what is left, moved back to such a place, and the
    piece before it counted once (again from a little further back if it came out too long).
    Text with no such place near the guess is cut by tokens (``split_by_tokens``).
    """
    out: list[tuple[str, int]] = []
    start, left, n = 0, tokens, len(text)
    stable = token_sums.stable_at
    while left > limit:
        guess = start + max(1, (n - start) * limit // left)
        cut = -1
        floor = max(start, guess - _CUT_SEARCH)
        for q in range(min(guess, n - 1), floor, -1):
            if stable(text, q):
                cut = q
                break
        while cut > start:
            piece_tokens = count(text[start:cut])
            if piece_tokens <= limit:
                break
            # Too long: guess again, shorter in proportion (and shorter at all: one character
            # over the limit alone is left to split_by_tokens), and look back from there.
            guess = min(start + max(1, (cut - start) * limit // piece_tokens), cut - 1)
            floor = max(start, guess - _CUT_SEARCH)
            cut = next((q for q in range(guess, floor, -1) if stable(text, q)), -1)
        if cut <= start:
            out.extend((sub, count(sub)) for sub in split_by_tokens(text[start:], limit))
            return out
        out.append((text[start:cut], piece_tokens))
        left -= piece_tokens
        start = cut
    out.append((text[start:], left))
    return out


def _cut_long_pieces(
    texts: list[str],
    offsets: list[int],
    pages: list[int | None],
    counts: list[int],
    limit: int,
    count: Callable[[str], int],
) -> tuple[list[str], list[int], list[int | None], list[int]]:
    """The same pieces with each one over ``limit`` cut into counted pieces that fit."""
    long_ones = [k for k, tokens in enumerate(counts) if tokens > limit]
    out_texts: list[str] = []
    out_offsets: list[int] = []
    out_pages: list[int | None] = []
    out_counts: list[int] = []
    done = 0
    for k in long_ones:
        out_texts += texts[done:k]
        out_offsets += offsets[done:k]
        out_pages += pages[done:k]
        out_counts += counts[done:k]
        offset = offsets[k]
        for sub, sub_tokens in _split_long(texts[k], counts[k], limit, count):
            out_texts.append(sub)
            out_offsets.append(offset)
            out_pages.append(pages[k])
            out_counts.append(sub_tokens)
            offset += len(sub)
        done = k + 1
    out_texts += texts[done:]
    out_offsets += offsets[done:]
    out_pages += pages[done:]
    out_counts += counts[done:]
    return out_texts, out_offsets, out_pages, out_counts


def _indent_then_blank(text: str) -> bool:
    """Whether ``text`` (starting with a space or tab) is blanks up to its end or to other whitespace."""
    rest = text.lstrip(" \t")
    return not rest or rest[0].isspace()


class _Merger:
    """Greedy merging of counted pieces into chunks of at most ``limit`` tokens.

    Each piece is counted once, and the running sum decides where a chunk ends. A finished chunk's
    exact count is derived from its pieces' counts where the cuts between them are cuts at which
    counts add up (``token_sums``), with a few characters at its stripped ends counted again;
    otherwise it is counted as a whole. Token counts are not additive in general (BPE can merge
    across a cut), so if a finished chunk counts more than the limit its last pieces move to the
    next chunk.

    ``overlap`` (RAGFlow's ``overlapped_percent``): each chunk after the first starts with the last
    ``overlap`` percent of the previous chunk's characters (from a word start where there is one),
    and the text merged after that prefix is held to ``(100 - overlap)`` percent of the limit, so
    a chunk with its prefix is about ``limit`` tokens (it may exceed it by the prefix's share).
    """

    def __init__(self, limit: int, overlap: int = 0) -> None:
        self.limit = limit if not overlap else max(1, limit * (100 - overlap) // 100)
        self.overlap = overlap
        # The pieces held (they may merge with what comes next): text, page, count, offset.
        self.texts: list[str] = []
        self.pages: list[int | None] = []
        self.counts: list[int] = []
        self.offsets: list[int] = []
        self.ready: list[Chunk] = []
        self._count: Callable[[str], int] | None = None  # the tokenizer loads with the first piece
        self.gap = ""  # whitespace between the last chunk given out and the pieces held
        self.previous: Chunk | None = None
        self._windows: dict[str, int] = {}
        self._tails: dict[str, tuple[int, int]] = {}  # piece ending -> (cut from the end, delta)
        self._junction_deltas: dict[tuple[str, str], int] = {}  # the two sides of a cut -> what joining adds

    @property
    def count(self) -> Callable[[str], int]:
        if self._count is None:
            self._count = _safe_counter()
        return self._count

    def window_count(self, text: str) -> int:
        """The count of a few characters around a cut: the same endings and line breaks recur
        (``".\n\n"``, ``"。"``, an indentation before a word), so short ones are remembered."""
        known = self._windows.get(text)
        if known is not None:
            return known
        tokens = self.count(text) if text else 0
        if len(text) <= _WINDOW_CACHE_CHARS and len(self._windows) < _WINDOW_CACHE_SIZE:
            self._windows[text] = tokens
        return tokens

    def add(self, texts: list[str], offsets: list[int], pages: list[int | None]) -> None:
        """Count the pieces and give out every chunk that is complete; the rest is held."""
        count = self.count
        # One call into the tokenizer per piece, straight from map() (no Python frame per piece).
        counts = list(map(_counter() if max(map(len, texts)) <= MAX_PIECE_CHARS else count, texts))
        limit = self.limit
        if max(counts) > limit:
            texts, offsets, pages, counts = _cut_long_pieces(texts, offsets, pages, counts, limit, count)
        if self.texts:
            texts, offsets = self.texts + texts, self.offsets + offsets
            pages, counts = self.pages + pages, self.counts + counts
        i = self._merge(texts, offsets, pages, counts, final=False)
        self.texts, self.offsets, self.pages, self.counts = texts[i:], offsets[i:], pages[i:], counts[i:]

    def finish(self) -> None:
        texts, pages, counts, offsets = self.texts, self.pages, self.counts, self.offsets
        self.texts, self.pages, self.counts, self.offsets = [], [], [], []
        self._merge(texts, offsets, pages, counts, final=True)

    def _merge(
        self, texts: list[str], offsets: list[int], pages: list[int | None], counts: list[int], final: bool
    ) -> int:
        """Give out the chunks of these counted pieces; returns where the pieces still held start.

        Greedy merging: a chunk is the longest run of pieces whose counts sum to at most the limit,
        found on the running sums with a binary search. Its exact count is, in the common case, that
        sum plus what each cut inside it adds (``_junctions``, worked out once per cut for the whole
        batch, as running sums too) minus what stripping its two ends takes off: a few operations
        per chunk, none per piece. Anything else (a blank piece at an end, a cut whose correction is
        not known, a chunk over the limit once exactly counted, overlap) goes through ``_chunk``.
        """
        n = len(texts)
        if not n:
            return 0
        sums = list(accumulate(counts))
        limit = self.limit
        simple = not self.overlap and limit < _KNOWN
        if simple and n > 1:
            extras, heads, tails = self._junctions(texts)
            cut_sums = list(accumulate(extras))
        ready = self.ready
        window_count = self.window_count
        i = 0
        while i < n:
            base = sums[i - 1] if i else 0
            # At least one piece: a character cl100k spells in more tokens than the limit is a
            # piece (and a chunk) of its own.
            j = max(bisect_right(sums, base + limit, i), i + 1)
            if j >= n and not final:
                break
            if simple:
                first = texts[i]
                lead = 0
                if j - i == 1:
                    tokens = counts[i]
                    if (first[0].isspace() or first[-1].isspace()) and not first.isspace():
                        tokens = _stripped_count(first, tokens, True, True, window_count)
                        lead = len(first) - len(first.lstrip())
                    if tokens <= limit and not first.isspace():
                        ready.append(Chunk(first.strip(), tokens, pages[i], offsets[i] + lead))
                        i = j
                        continue
                else:
                    tokens = sums[j - 1] - base + cut_sums[j - 2] - (cut_sums[i - 1] if i else 0)
                    last = texts[j - 1]
                    if tokens < _KNOWN and first[0].isspace():
                        lead = len(first) - len(first.lstrip())
                        q = token_sums.first_stable_after(first, lead) if lead < len(first) else None
                        if q is None or q > tails.get(i, q):
                            tokens = _UNKNOWN
                        else:
                            window = first[:q]
                            tokens -= window_count(window) - window_count(window[lead:])
                    if tokens < _KNOWN and last[-1].isspace():
                        delta = self._end_delta(last, heads.get(j - 2, 0)) if not last.isspace() else None
                        tokens = _UNKNOWN if delta is None else tokens - delta
                    if tokens <= limit:
                        ready.append(Chunk("".join(texts[i:j]).strip(), tokens, pages[i], offsets[i] + lead))
                        i = j
                        continue
            i += self._chunk(texts[i:j], pages[i:j], counts[i:j], offsets[i])
        return i

    def _junctions(self, texts: list[str]) -> tuple[list[int], dict[int, int], dict[int, int]]:
        """What each cut between two consecutive pieces adds to the sum of their counts.

        ``extras[k]`` is for the cut between ``texts[k]`` and ``texts[k + 1]``: 0 where counts add
        up there (``token_sums``), the correction where a word's punctuation is glued to the next
        word ("。他", "?Then": the few characters around the cut counted joined and apart), and
        ``_UNKNOWN`` otherwise (the chunk is then counted by ``_chunk``). ``heads[k]`` and
        ``tails[k]`` are where the counted characters end in ``texts[k + 1]`` and start in
        ``texts[k]``, for the corrections at a chunk's ends not to count them twice.
        """
        # The commonest cuts, checked for every piece at once: a line break before a word (or
        # before an indented one), a word before a space.
        ends = [text[-1] for text in texts]
        starts = [text[0] for text in texts]
        quick = [
            (end == "\n" and (not start.isspace() or (start in " \t" and not _indent_then_blank(after))))
            or (start == " " and not end.isspace())
            for end, start, after in zip(ends, islice(starts, 1, None), islice(texts, 1, None), strict=False)
        ]
        extras = [0] * len(quick)
        heads: dict[int, int] = {}
        tails: dict[int, int] = {}
        slow = list(compress(range(len(quick)), map(not_, quick)))
        # The commonest cut that does not add up: a word's punctuation glued to the next word.
        glued = [
            k
            for k in slow
            if starts[k + 1].isalpha()
            and len(texts[k]) > 1
            and texts[k][-2].isalnum()
            and not (ends[k].isalnum() or ends[k].isspace())
        ]
        if len(glued) < len(slow):
            for k in set(slow).difference(glued):
                if not token_sums.stable_between(texts[k], texts[k + 1]):
                    extras[k] = _UNKNOWN
        if not glued:
            return extras, heads, tails
        # The punctuation (the cut before it adds up) and the next word up to where it does again,
        # counted joined and apart, all of them at once.
        found = token_sums.first_stable_cuts([texts[k + 1] for k in glued])
        for k, q in zip(glued, found, strict=True):
            if q is None:
                extras[k] = _UNKNOWN
            else:
                heads[k] = q
                tails[k] = len(texts[k]) - 1
        glued = list(heads)
        punctuation = [ends[k] for k in glued]
        words = [texts[k + 1][: heads[k]] for k in glued]
        count = _counter()
        # A few punctuation characters recur: each is counted once.
        punctuation_counts = {mark: count(mark) for mark in set(punctuation)}
        joined = map(count, map(operator.add, punctuation, words))
        apart = map(operator.add, map(punctuation_counts.__getitem__, punctuation), map(count, words))
        for k, delta in zip(glued, map(operator.sub, joined, apart), strict=True):
            extras[k] = delta
        return extras, heads, tails

    def _chunk(self, texts: list[str], pages: list[int | None], counts: list[int], start: int) -> int:
        """Give out the chunk of these pieces (or of as many of the first as fit, exactly counted);
        returns how many pieces it used."""
        used = len(texts)
        while True:
            joined = "".join(texts[:used]) if used > 1 else texts[0]
            stripped = joined.strip()
            if not stripped:
                if self.overlap:
                    self.gap += joined
                return used
            lead = len(joined) - len(joined.lstrip()) if joined[0].isspace() else 0
            trail = joined[lead + len(stripped) :] if self.overlap else ""
            page = (
                pages[0]
                if not texts[0].isspace()
                else next(p for t, p in zip(texts, pages, strict=True) if not t.isspace())
            )
            tokens = self._exact(texts[:used], counts[:used], stripped) if used > 1 else None
            if tokens is None:
                tokens = _stripped_count(joined, counts[0], True, True, self.window_count)
            if tokens <= self.limit:
                if self.overlap:
                    self._emit(stripped, tokens, page, start + lead, self.gap + joined[:lead])
                    self.gap = trail
                else:
                    self.ready.append(Chunk(stripped, tokens, page, start + lead))
                return used
            if used == 1:  # stripping changed the tokenization: cut the stripped text
                self.gap += joined[:lead]
                position = start + lead
                for sub in split_by_tokens(stripped, self.limit):
                    inner = sub.strip()
                    if inner:
                        inner_lead = len(sub) - len(sub.lstrip())
                        self._emit(inner, self.count(inner), page, position + inner_lead, self.gap + sub[:inner_lead])
                        self.gap = sub[inner_lead + len(inner) :]
                    else:
                        self.gap += sub
                    position += len(sub)
                self.gap += trail
                return 1
            used -= 1

    def _exact(self, texts: list[str], counts: list[int], stripped: str) -> int:
        """The exact count of ``stripped``, the held pieces joined and stripped.

        The sum of the pieces' counts, corrected where a cut between two pieces is not one where
        counts add up (by counting the few characters around it from the nearest cuts where they
        do, in both pieces) and at the stripped ends; counted as a whole where no such cut is near.
        """
        nonblank = [i for i, text in enumerate(texts) if not text.isspace()]
        first, last = nonblank[0], nonblank[-1]
        count = self.window_count
        if first == last:
            return _stripped_count(texts[first], counts[first], True, True, count)
        total = sum(counts[first : last + 1])
        piece = texts[first]
        lo = len(piece) - len(piece.lstrip()) if piece[0].isspace() else 0
        left = 0  # where the windows already counted in the current piece end
        if lo:
            q = token_sums.first_stable_after(piece, lo)
            if q is None:
                return self.count(stripped)
            window = piece[:q]
            total -= count(window) - count(window[lo:])
            left = q
        between = token_sums.stable_between
        for i in range(first, last):
            a, b = texts[i], texts[i + 1]
            # The two commonest cuts inline: a line break before a word, a word before a space.
            end, start = a[-1], b[0]
            if (end == "\n" and not start.isspace()) or (start == " " and not end.isspace()):
                left = 0
                continue
            if start.isalpha() and len(a) > 1 and a[-2].isalnum() and not (end.isalnum() or end.isspace()):
                # The commonest cut that does not add up: a word's punctuation glued to the next
                # word ("。他", "?Then"); the cut before that punctuation does.
                qa = len(a) - 1 if len(a) - 1 >= max(left, 1) else None
            elif between(a, b):
                left = 0
                continue
            else:
                qa = token_sums.last_stable_before(a, len(a) - 1, left) if len(a) > 1 else None
            qb = token_sums.first_stable_after(b, 0)
            if qa is None or qb is None:
                return self.count(stripped)
            tail, head = a[qa:], b[:qb]
            delta = self._junction_deltas.get((tail, head))
            if delta is None:
                delta = count(tail + head) - count(tail) - count(head)
                if len(tail) + len(head) <= _WINDOW_CACHE_CHARS * 2 and len(self._junction_deltas) < _WINDOW_CACHE_SIZE:
                    self._junction_deltas[tail, head] = delta
            total += delta
            left = qb
        piece = texts[last]
        if piece[-1].isspace():
            delta = self._trail_delta(piece, left)
            if delta is None:
                return self.count(stripped)
            total -= delta
        return total

    def _end_delta(self, piece: str, floor: int) -> int | None:
        """``_trail_delta`` for the two commonest endings, without a search.

        A word then spaces or line breaks ("word\n"), or a word, punctuation and line breaks
        ("end.\n", "吧。\n"): the cut before the whitespace (or before the punctuation) adds up,
        so only the characters after it are counted, and those recur.
        """
        hi = len(piece.rstrip())
        before, after = piece[hi - 1], piece[hi]
        if hi >= floor and (after in " \t" or (after in "\r\n" and before.isalnum())):
            return self.window_count(piece[hi:])
        cut = hi - 1
        while cut > 0 and not (piece[cut - 1].isalnum() or piece[cut - 1].isspace()):
            cut -= 1
        if (
            cut >= max(floor, 1)
            and piece[cut - 1].isalnum()
            and not (before.isalnum() or before.isspace())
            and hi - cut <= _WINDOW_CACHE_CHARS
        ):
            return self.window_count(piece[cut:]) - self.window_count(piece[cut:hi])
        return self._trail_delta(piece, floor)

    def _trail_delta(self, piece: str, floor: int) -> int | None:
        """How many tokens stripping ``piece``'s trailing whitespace takes off its count.

        Pieces end alike (``".\n\n"``, ``"word\n"``): the answer depends only on the characters
        from the nearest cut where counts add up, so it is remembered by the piece's last
        characters when that cut lies within them.
        """
        suffix = piece[-_SUFFIX:]
        known = self._tails.get(suffix)
        if known is not None and len(piece) - known[0] >= max(floor, 1):
            return known[1]
        hi = len(piece.rstrip())
        q = token_sums.last_stable_before(piece, hi, floor)
        if q is None:
            return None
        window = piece[q:]
        delta = self.window_count(window) - self.window_count(window[: hi - q])
        if q - 1 >= len(piece) - _SUFFIX and len(self._tails) < _WINDOW_CACHE_SIZE:
            self._tails[suffix] = (len(piece) - q, delta)
        return delta

    def _emit(self, text: str, tokens: int, page: int | None, offset: int, gap: str) -> None:
        previous = self.previous
        if self.overlap and previous is not None:
            cut = _overlap_cut(previous.text, self.overlap)
            if cut < len(previous.text):
                text = previous.text[cut:] + gap + text
                offset = previous.offset + cut
                tokens = self.count(text)
        chunk = Chunk(text, tokens, page, offset)
        self.ready.append(chunk)
        self.previous = chunk

    def break_overlap(self) -> None:
        """What comes next does not follow the last chunk (a table came between)."""
        self.previous = None
        self.gap = ""


def _overlap_cut(text: str, percent: int) -> int:
    """Where the overlap taken from ``text`` starts: the last ``percent`` of its characters (as
    RAGFlow cuts it), moved to the nearest word start if the cut falls inside a word."""
    cut = int(len(text) * (100 - percent) / 100)
    if 0 < cut < len(text) and not text[cut - 1].isspace() and not text[cut].isspace():
        after = next((i for i in range(cut, len(text)) if text[i].isspace()), None)
        before = next((i for i in range(cut - 1, 0, -1) if text[i].isspace()), None)
        if after is not None and (before is None or after - cut <= cut - before):
            cut = after
        elif before is not None:
            cut = before
    while cut < len(text) and text[cut].isspace():
        cut += 1
    return cut


def _overlap_percent(value: Any) -> int:
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        return 0
    return min(max(number, 0), 90)


def naive_chunks(
    blocks: Iterable[TextBlock],
    *,
    chunk_token_num: int = DEFAULT_CHUNK_TOKEN_NUM,
    delimiters: str = DEFAULT_DELIMITER,
    overlapped_percent: int = 0,
    start_offset: int = 0,
) -> Iterator[Chunk]:
    """RAGFlow's ``naive`` chunking, streamed.

    The text is cut after every run of delimiter characters (the delimiters stay at the end of
    their piece); consecutive pieces are merged greedily into chunks of at most
    ``chunk_token_num`` cl100k tokens; a piece longer than that is cut with ``split_by_tokens``.
    Whitespace-only chunks are dropped. A table block (``kind == "table"``) is a chunk of its
    own, as RAGFlow keeps tables. ``overlapped_percent`` starts each chunk with the end of the one
    before (see ``_Merger``). A delimiter setting with a backtick-quoted delimiter switches to
    RAGFlow's custom mode (``segment_chunks``). Memory stays bounded by the current chunk and
    block. ``start_offset`` is where the first block starts in the document's extracted text (for
    a caller chunking a part of a document).
    """
    if has_wrapped_delimiter(delimiters):
        yield from segment_chunks(blocks, delimiters, start_offset)
        return
    limit = max(1, int(chunk_token_num))
    piece_delimiters = parse_delimiters(delimiters)
    pieces_re = piece_pattern(piece_delimiters)
    merger = _Merger(limit, _overlap_percent(overlapped_percent))
    offset = start_offset  # where the current block starts in the extracted text
    rest, rest_start, rest_page = "", 0, None
    for block in blocks:
        text = block.text
        if not text:
            continue
        if block.kind == "table":
            if rest:
                merger.add([rest], [rest_start], [rest_page])
                rest = ""
            merger.finish()
            yield from merger.ready
            merger.ready.clear()
            table = _table_chunk(block, offset)
            if table is not None:
                yield table
            merger.break_overlap()
            offset += len(text)
            continue
        if rest:
            combined, base = rest + text, rest_start
            first_page = rest_page if rest.strip() else block.page
        else:
            combined, base, first_page = text, offset, block.page
        offset += len(text)
        position = 0
        if pieces_re is not None:
            # Pieces go to the merger a window of text at a time, so memory stays that of a window.
            page = block.page
            for pieces, start in _pieces_in_windows(pieces_re, combined, piece_delimiters):
                offsets = list(accumulate(map(len, pieces), initial=base + start))
                position = offsets.pop() - base
                pages = [page] * len(pieces)
                if not start:
                    pages[0] = first_page
                merger.add(pieces, offsets, pages)
                if merger.ready:
                    yield from merger.ready
                    merger.ready.clear()
        tail = combined[position:]
        tail_page = first_page if position == 0 else block.page
        if pieces_re is None or len(tail) > _MAX_CARRY:
            if tail:
                merger.add([tail], [base + position], [tail_page])
            rest = ""
        else:
            rest, rest_start, rest_page = tail, base + position, tail_page
        if merger.ready:
            yield from merger.ready
            merger.ready.clear()
    if rest:
        merger.add([rest], [rest_start], [rest_page])
    merger.finish()
    yield from merger.ready


def _table_chunk(block: TextBlock, offset: int) -> Chunk | None:
    stripped = block.text.strip()
    if not stripped:
        return None
    lead = len(block.text) - len(block.text.lstrip())
    return Chunk(stripped, count_tokens(stripped), block.page, offset + lead, kind="table")


def segment_chunks(blocks: Iterable[TextBlock], delimiters: str, start_offset: int = 0) -> Iterator[Chunk]:
    """RAGFlow's custom-delimiter mode: a chunk between every two delimiters, whatever its length.

    When the ``delimiter`` setting holds a backtick-quoted delimiter, RAGFlow cuts at every
    delimiter of the setting (quoted and single characters alike), leaves the delimiters out and
    makes each non-blank segment a chunk, ignoring ``chunk_token_num``. Table blocks are chunks of
    their own here too.
    """
    pattern = delimiter_pattern(parse_delimiters(delimiters))
    count = _safe_counter()
    offset = start_offset
    rest, rest_start, rest_page = "", 0, None

    def segment(text: str, start: int, page: int | None) -> Chunk | None:
        stripped = text.strip()
        if not stripped:
            return None
        return Chunk(stripped, count(stripped), page, start + len(text) - len(text.lstrip()))

    for block in blocks:
        text = block.text
        if not text:
            continue
        if block.kind == "table":
            if rest and (done := segment(rest, rest_start, rest_page)) is not None:
                yield done
            rest = ""
            table = _table_chunk(block, offset)
            if table is not None:
                yield table
            offset += len(text)
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
                page = first_page if position == 0 else block.page
                done = segment(combined[position : match.start()], base + position, page)
                if done is not None:
                    yield done
                position = match.end()
        rest, rest_start = combined[position:], base + position
        rest_page = first_page if position == 0 else block.page
    if rest and (done := segment(rest, rest_start, rest_page)) is not None:
        yield done


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
        yield Chunk(text, tokens, qa.page, qa.offset, kind="qa", question=qa.question)


_MD_HEADING = re.compile(r"(#{1,6})(?:[ \t]+|$)")
_QA_PREFIX = re.compile(r"^(问题|答案|回答|user|assistant|Q|A|Question|Answer|问|答)[\t:： ]+", re.IGNORECASE)


def qa_pairs_from_headings(blocks: Iterable[TextBlock], markdown: bool) -> Iterator[QAPair]:
    """Question/answer pairs from a document's headings, as RAGFlow reads Markdown (and DOCX) for ``qa``.

    Every heading is a question and the text under it, up to the next heading, its answer; the
    question of a nested heading is the path of headings down to it, one per line ("Install" then
    "On Linux"). A heading with no text under it only adds to the path of the headings below it;
    text before the first heading has no question and is left out. In Markdown, ``#`` to ``######``
    followed by a space start a heading (not inside a ``` fenced block); in other formats the
    blocks the extractor marks as headings do. The answer is kept as the Markdown text (RAGFlow
    renders it to HTML).
    """
    stack: list[tuple[int, str]] = []
    answer: list[str] = []
    anchor: tuple[int | None, int] = (None, 0)
    fenced = False

    def pair() -> QAPair | None:
        text = "\n".join(answer).strip()
        if not text or not stack:
            return None
        question = "\n".join(_QA_PREFIX.sub("", q) for _, q in stack)
        return QAPair(question, _QA_PREFIX.sub("", text), anchor[0], anchor[1])

    for line, offset, page, block in _lines_of_blocks(blocks):
        level, title = 0, ""
        if markdown:
            if line.lstrip().startswith("```"):
                fenced = not fenced
            elif not fenced and (match := _MD_HEADING.match(line)):
                level, title = len(match.group(1)), line[match.end() :].strip().rstrip("#").strip()
        elif block.kind == "heading":
            level, title = max(1, block.level), line.strip()
        if not level or not title:
            answer.append(line)
            continue
        if (done := pair()) is not None:
            yield done
        answer = []
        while stack and level <= stack[-1][0]:
            stack.pop()
        stack.append((level, title))
        anchor = (page, offset + len(line) - len(line.lstrip()))
    if (done := pair()) is not None:
        yield done


def _lines_of_blocks(blocks: Iterable[TextBlock]) -> Iterator[tuple[str, int, int | None, TextBlock]]:
    offset = 0
    for block in blocks:
        position = 0
        for line in block.text.split("\n"):
            yield line, offset + position, block.page, block
            position += len(line) + 1
        offset += len(block.text)


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


def _headings_or_markers(blocks: Callable[[], Iterator[TextBlock]], *, markdown: bool) -> Iterator[QAPair]:
    """Pairs from headings; a file with no heading over text is read for ``Q:``/``A:`` lines instead."""
    found = False
    for qa in qa_pairs_from_headings(blocks(), markdown):
        found = True
        yield qa
    if not found:
        yield from qa_pairs_from_text(blocks())


def _kind_of_method(data: bytes, filename: str, used: str) -> str | None:
    return _kind_or_none(data, filename) if used not in ("naive", "one") else None


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
    document), ``qa`` (question/answer pairs from spreadsheet rows, ``Q:``/``A:`` text or
    headings), ``table`` (one chunk per spreadsheet or CSV row), and the methods of ``methods``
    (book, laws, manual, paper, presentation, picture, email, tag; resume and knowledge_graph say
    they need an LLM and chunk as naive; audio needs speech recognition). An unknown parser parses
    as ``naive`` with a note saying so; ``table`` on a file that is not a table does too.
    ``parser_config`` keys: ``chunk_token_num`` (default 128), ``delimiter`` (default
    ``"\\n!?。；！？"``), ``overlapped_percent`` (0-90, default 0), ``pages`` (``[[from, to], ...]``
    for PDFs). Nothing is parsed until ``chunks`` is iterated.
    """
    from . import methods

    config = dict(parser_config or {})
    requested = (parser_id or "naive").strip()
    notes: list[str] = []
    used = requested.lower()
    if used not in PARSERS and used not in methods.METHODS:
        notes.append(f"Parser '{requested}' is not available here; parsed with 'naive'.")
        used = "naive"
    chunk_token_num = _positive_int(config.get("chunk_token_num"), DEFAULT_CHUNK_TOKEN_NUM)
    delimiter = config.get("delimiter")
    if not isinstance(delimiter, str):
        delimiter = DEFAULT_DELIMITER
    overlap = _overlap_percent(config.get("overlapped_percent"))
    pages = _page_ranges(config.get("pages"))
    layout_recognize = config.get("layout_recognize")
    if note := layout_note(layout_recognize):
        notes.append(note)

    kind = _kind_of_method(data, filename, used)
    tabular = kind in sniff.SPREADSHEET_KINDS
    if used == "table" and not tabular and kind not in (None, sniff.TEXT):
        notes.append("The 'table' parser reads spreadsheets and CSV files only; parsed with 'naive'.")
        used = "naive"

    def blocks() -> Iterator[TextBlock]:
        return extract(data, filename, pages=pages, limits=limits, layout_recognize=layout_recognize)

    def rows() -> Iterator[SheetRow]:
        return extract_rows(data, filename, limits=limits)

    chunks: Iterator[Chunk]
    if used in methods.METHODS:
        source = methods.Source(filename, kind, blocks, rows, chunk_token_num, delimiter, overlap)
        done = methods.run(used, source)
        return ChunkingResult(parser_id=done.parser_id, chunks=done.chunks, notes=tuple(notes + done.notes))
    if used == "one":
        chunks = one_chunk(blocks())
    elif used == "table":
        chunks = table_chunks(rows())
    elif used == "qa":
        seen = _Seen()
        if tabular:
            pairs = qa_pairs_from_rows(seen.rows(rows()))
        elif kind in (sniff.MARKDOWN, sniff.DOCX):
            pairs = _headings_or_markers(lambda: seen.blocks(blocks()), markdown=kind == sniff.MARKDOWN)
        else:
            pairs = qa_pairs_from_text(seen.blocks(blocks()))
        chunks = _must_have_pairs(qa_chunks(pairs), seen)
    else:
        chunks = naive_chunks(
            blocks(), chunk_token_num=chunk_token_num, delimiters=delimiter, overlapped_percent=overlap
        )
    return ChunkingResult(parser_id=used, chunks=chunks, notes=tuple(notes))
