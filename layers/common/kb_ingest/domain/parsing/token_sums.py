"""When the token count of a concatenation is the sum of its parts' counts (cl100k_base).

The chunker counts each delimiter-cut piece once and wants the exact count of a chunk made of
several pieces without handing the tokenizer the same text a second time. cl100k first cuts text
into pre-tokens with a regular expression (letter runs with one leading non-letter, digit runs,
punctuation runs with the line breaks after them, whitespace runs) and applies BPE inside each
pre-token only. So where a cut between ``a`` and ``b`` is a pre-token boundary both in ``a + b``
and at the ends of ``a`` and ``b`` read alone, ``count(a + b) == count(a) + count(b)``.

``stable_at(text, q)`` says whether the cut before ``text[q]`` is such a boundary, looking only at
the character before the cut and the start of what follows, so it holds for any text that ends and
starts that way. The cases (each argued from the pattern, and checked against the real encoder by
``tests/unit/parsing/test_token_sums.py`` on random text built from the characters that matter):

- a non-space character, then a space or tab: no pre-token runs from a non-space into a space;
- a line break, then a non-space character: a whitespace run ends at its last line break, and a
  letter run's leading character is never a line break;
- a line break, then spaces or tabs followed by a non-space character: the same, since no further
  line break follows in that run;
- a letter or number, then a line break or a punctuation character: letter and number runs end
  there, and the next pre-token starts at the cut.

Everything else (two letters, punctuation before a letter, which cl100k glues to the word, and
whitespace runs that hold another line break) is treated as unstable and the caller counts the
joined text instead. Whitespace other than spaces, tabs and line breaks (including control
characters Python calls whitespace and the pattern does not) never makes a cut stable.
"""

from __future__ import annotations

import re

_BREAKS = "\r\n"
_BLANKS = " \t"


def _non_space(ch: str) -> bool:
    return not ch.isspace()


def _letter_or_digit(ch: str) -> bool:
    return ch.isalnum()  # letters and numbers (Python's isalpha or isnumeric)


def _punctuation(ch: str) -> bool:
    return not (ch.isspace() or ch.isalnum())


def stable_at(text: str, q: int) -> bool:
    """Whether ``count(text) == count(text[:q]) + count(text[q:])`` for any text around this cut.

    ``0 < q < len(text)``; only ``text[q - 1]`` and the characters from ``q`` up to the first that
    is not a space or tab are looked at.
    """
    before = text[q - 1]
    after = text[q]
    if before in _BREAKS:
        if _non_space(after):
            return True
        if after in _BLANKS:
            j = q + 1
            n = len(text)
            while j < n and text[j] in _BLANKS:
                j += 1
            return j < n and _non_space(text[j])
        return False
    if before.isspace():
        return False
    if after in _BLANKS:
        return True
    if _letter_or_digit(before):
        return after in _BREAKS or _punctuation(after)
    return False


def stable_between(a: str, b: str) -> bool:
    """``stable_at(a + b, len(a))`` without building ``a + b`` (both non-empty)."""
    before = a[-1]
    after = b[0]
    if before in _BREAKS:
        if _non_space(after):
            return True
        if after in _BLANKS:
            rest = b.lstrip(_BLANKS)
            return bool(rest) and _non_space(rest[0])
        return False
    if before.isspace():
        return False
    if after in _BLANKS:
        return True
    if _letter_or_digit(before):
        return after in _BREAKS or _punctuation(after)
    return False


# How far into a piece the edge adjustments look for a stable cut before giving up.
_EDGE_WINDOW = 48

# The same cases as ``stable_at``, as a zero-width pattern (for searching): a non-space before a
# blank; a line break before optional blanks and a non-space; a letter or number before any space
# or punctuation (``[^\W_]`` is Python's letters and numbers, ``[^\w\s]|_`` everything else that is
# not a space).
STABLE_CUT = re.compile(r"(?<=\S)(?=[ \t])|(?<=[\r\n])(?=[ \t]*\S)|(?<=[^\W_])(?=[\r\n]|[^\w\s]|_)")


def first_stable_after(text: str, start: int) -> int | None:
    """The first stable cut ``q`` with ``start < q < len(text)``, looking a short way only."""
    match = STABLE_CUT.search(text, start + 1, min(len(text), start + _EDGE_WINDOW))
    return match.start() if match else None


def first_stable_cuts(texts: list[str]) -> list[int | None]:
    """``first_stable_after(text, 0)`` for each of ``texts``."""
    search = STABLE_CUT.search
    return [None if match is None else match.start() for match in (search(text, 1, _EDGE_WINDOW) for text in texts)]


def last_stable_before(text: str, end: int, floor: int = 0) -> int | None:
    """The last stable cut ``q`` with ``max(floor, 1) <= q <= end``, looking a short way only.

    ``0 < end < len(text)``; the cut is also stable in ``text[: end + 1]``.
    """
    low = max(floor, end - _EDGE_WINDOW, 1)
    for q in range(end, low - 1, -1):  # usually found within a few characters of the end
        if stable_at(text, q):
            if text[q - 1] in _BREAKS and text[q] in _BLANKS and not text[q : end + 1].strip(_BLANKS):
                continue
            return q
    return None
