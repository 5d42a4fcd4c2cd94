"""cl100k_base token counts, the way RAGFlow reports ``token_num``, for any length of text."""

from __future__ import annotations

import pytest

from kb_ingest.domain.parsing import count_tokens, get_encoder, split_by_tokens


def test_known_counts():
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    assert count_tokens("Hello world.\n") == 3
    assert count_tokens("今天天气很好。") == 9
    # Special-token text in a document is plain text, not an error.
    assert count_tokens("<|endoftext|>") == 7


def test_encoder_is_loaded_once():
    assert get_encoder() is get_encoder()
    assert get_encoder().name == "cl100k_base"


def test_count_agrees_with_the_encoder():
    text = "Grüße aus Köln! 你好，世界。 12345 + 678 = 13023\n\n  indented code();"
    assert count_tokens(text) == len(get_encoder().encode_ordinary(text))


def test_texts_of_a_million_characters_and_more_are_counted():
    line = "The quick brown fox jumps over the lazy dog.\n"  # 10 tokens
    text = line * 30_000  # 1,350,000 characters: too long for one bpe_openai call
    assert len(text) > 1_000_000
    assert count_tokens(text) == 10 * 30_000
    cjk = "中文字符" * 300_000  # 1.2 million characters without a space or line break
    assert count_tokens(cjk) > 0


@pytest.mark.parametrize("max_tokens", [1, 2, 5, 16, 128])
def test_split_by_tokens_keeps_every_character_and_respects_the_limit(max_tokens: int):
    text = "Unbelievable tokenization 😀😀 of 中文字符 and ünïcödé, repeated. " * 20
    pieces = split_by_tokens(text, max_tokens)
    assert "".join(pieces) == text
    assert all(pieces)
    for piece in pieces:
        piece.encode("utf-8")  # whole characters only: no lone surrogates, no broken sequences
        assert count_tokens(piece) <= max_tokens or len(piece) == 1


def test_split_by_tokens_of_a_short_text_is_the_text():
    assert split_by_tokens("hello world", 5) == ["hello world"]
    assert split_by_tokens("", 5) == []


def test_split_by_tokens_cuts_at_token_boundaries():
    assert split_by_tokens("a b c d e f g h i j", 4) == ["a b c d", " e f g h", " i j"]


def test_split_by_tokens_never_separates_the_bytes_of_a_character():
    emoji = "😀"  # two tokens, one character
    assert count_tokens(emoji) == 2
    assert split_by_tokens(emoji * 3, 1) == [emoji, emoji, emoji]
    assert split_by_tokens(emoji * 3, 3) == [emoji, emoji, emoji]
    assert split_by_tokens(emoji * 3, 4) == [emoji * 2, emoji]


def test_split_by_tokens_of_a_very_long_text():
    text = "word " * 300_000  # 1.5 million characters
    pieces = split_by_tokens(text, 1000)
    assert "".join(pieces) == text
    assert max(count_tokens(p) for p in pieces) <= 1000


def test_split_by_tokens_rejects_a_limit_below_one():
    with pytest.raises(ValueError):
        split_by_tokens("text", 0)
