"""Token counting with OpenAI's cl100k_base (what RAGFlow counts ``token_num`` with), offline.

The encoder (bpe_openai, a Rust BPE) is loaded on first use and kept for the life of the process.
bpe_openai refuses one input of 1,000,000 characters or more and one encoding of more than
200,000 tokens, so long texts are counted in pieces cut at line breaks or spaces: a cut right
after a line break (or before a space) is a cut between two of cl100k's pre-tokens, so the sum
of the pieces' counts is the count of the whole.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

ENCODING_NAME = "cl100k_base"

# At most 4 tokens per character, so a piece this long stays under bpe_openai's 200,000-token cap.
MAX_PIECE_CHARS = 40_000


@functools.cache
def get_encoder() -> Any:
    """The cl100k_base ``bpe_openai.Encoding`` (loaded once, about a second)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # bpe_openai's use of importlib.resources
        import bpe_openai

        return bpe_openai.get_encoding(ENCODING_NAME)


@functools.cache
def _counter() -> Callable[[str], int]:
    encoder = get_encoder()
    # The Rust backend counts without building the token list; use it when it is there and agrees.
    backend_count = getattr(getattr(encoder, "_backend", None), "count", None)
    if callable(backend_count):
        probe = "Hello, wörld! 你好 <|endoftext|>\n\n  x = 12345"
        try:
            if backend_count(probe) == len(encoder.encode_ordinary(probe)):
                return backend_count
        except Exception:  # pragma: no cover - a backend without a working count()
            pass

    def count(text: str) -> int:
        return len(encoder.encode_ordinary(text))

    return count


def _pieces(text: str, limit: int = MAX_PIECE_CHARS) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters, at a line break or space if possible."""
    pieces: list[str] = []
    start = 0
    n = len(text)
    while n - start > limit:
        end = start + limit
        cut = text.rfind("\n", start + limit // 2, end)
        if cut >= 0:
            cut += 1  # keep the line break with the text before it
        else:
            cut = text.rfind(" ", start + limit // 2, end)  # the space starts the next piece
            if cut <= start:
                cut = end
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def count_tokens(text: str) -> int:
    """The number of cl100k_base tokens in ``text`` (special-token text counts as plain text)."""
    if not text:
        return 0
    count = _counter()
    if len(text) <= MAX_PIECE_CHARS:
        return count(text)
    return sum(count(piece) for piece in _pieces(text))


def _encode(text: str) -> list[int]:
    return get_encoder().encode_ordinary(text)


def split_by_tokens(text: str, max_tokens: int) -> list[str]:
    """Cut ``text`` into consecutive pieces of at most ``max_tokens`` tokens each.

    ``"".join(result) == text``. Cuts fall on character boundaries (a token that is part of a
    multi-byte character is never separated from the rest of it), at the token boundaries of
    the encoding of the whole text; each piece is re-counted and shortened if the cut changed how
    it tokenizes. A single character that alone needs more than ``max_tokens`` tokens becomes a
    piece of its own.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if not text:
        return []
    out: list[str] = []
    for window in _pieces(text):
        out.extend(_split_window(window, max_tokens))
    return out


def _split_window(text: str, max_tokens: int) -> list[str]:
    encoder = get_encoder()
    tokens = _encode(text)
    if len(tokens) <= max_tokens:
        return [text]
    # Character offset at which each token starts (a token starting inside a multi-byte
    # character maps to that character's start).
    _, starts = encoder.decode_with_offsets(tokens)
    count = _counter()
    pieces: list[str] = []
    start = 0
    for index in range(max_tokens, len(tokens), max_tokens):
        cut = starts[index]
        if cut <= start:
            continue
        while cut > start + 1 and count(text[start:cut]) > max_tokens:
            cut -= 1
        pieces.append(text[start:cut])
        start = cut
    rest = text[start:]
    while rest:
        if count(rest) <= max_tokens:
            pieces.append(rest)
            break
        # The last cut moved back and left a little more than fits: cut again.
        sub = _split_window(rest, max_tokens) if len(rest) < len(text) else [rest]
        pieces.extend(sub)
        break
    return pieces
