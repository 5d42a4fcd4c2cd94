"""Where counts add up: the chunker's exact token counts rest on these cuts, checked on the real encoder."""

from __future__ import annotations

import random

from parsing_helpers import corpus_bytes

from kb_ingest.domain.parsing import TextBlock, count_tokens, extract, naive_chunks
from kb_ingest.domain.parsing.token_sums import STABLE_CUT, stable_at, stable_between

# The characters cl100k's pre-tokenizer treats differently: letters (Latin, CJK, Hangul), digits and
# other numerals, punctuation (ASCII and CJK), every kind of whitespace, apostrophes before
# contraction letters, combining marks, and control characters Python calls whitespace.
_ALPHABET = [
    *"ab Zé中文你好한국  \t\n\n\r.,?!。；！？'\"()-_12309½²\u3000\xa0\x1c\x0b\u0301s",
    "'s", "'ll", "\r\n", "  ", "\n\n", "...", "ing", "the", "    ",
]  # fmt: skip


def test_every_stable_cut_adds_up_on_random_text():
    rng = random.Random(20261201)
    stable = 0
    for _ in range(20_000):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(2, 14)))
        positions = {q for q in range(1, len(text)) if stable_at(text, q)}
        assert positions == {m.start() for m in STABLE_CUT.finditer(text)} - {0, len(text)}, text
        q = rng.randint(1, len(text) - 1)
        assert stable_between(text[:q], text[q:]) == (q in positions)
        if q in positions:
            stable += 1
            assert count_tokens(text) == count_tokens(text[:q]) + count_tokens(text[q:]), (text[:q], text[q:])
    assert stable > 3_000  # the property was exercised, not vacuously true


def test_naive_counts_are_exact_on_random_text_of_every_kind():
    rng = random.Random(7)
    for _ in range(200):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(50, 400)))
        blocks = [TextBlock(text[i : i + 97]) for i in range(0, len(text), 97)]
        for limit in (3, 8, 30):
            for chunk in naive_chunks(blocks, chunk_token_num=limit):
                assert chunk.token_count == count_tokens(chunk.text) <= limit
                assert text[chunk.offset : chunk.offset + len(chunk.text)] == chunk.text


def test_naive_counts_are_exact_on_the_corpus_in_cjk_and_code():
    for name in ("korean-text-with-tables.pdf", "codeblock.md", "book-war-and-peace-1p.txt"):
        blocks = list(extract(corpus_bytes(name), name))
        for chunk in naive_chunks(blocks, chunk_token_num=64):
            assert chunk.token_count == count_tokens(chunk.text) <= 64
