"""Chunking as RAGFlow's chunk methods do it: naive (worked by hand), one, qa, table, and the dispatcher."""

from __future__ import annotations

import itertools

import pytest
from parsing_helpers import corpus_bytes, make_pdf, make_xlsx

from kb_ingest.domain.parsing import (
    Chunk,
    CorruptDocument,
    ParseError,
    TextBlock,
    chunk_document,
    count_tokens,
    extract,
    naive_chunks,
    one_chunk,
    parse_delimiters,
    qa_chunks,
    qa_pairs_from_text,
    table_chunks,
)


def chunks_of(text: str | list[TextBlock], limit: int, delimiters: str | None = None) -> list[Chunk]:
    blocks = [TextBlock(text)] if isinstance(text, str) else text
    kwargs = {} if delimiters is None else {"delimiters": delimiters}
    return list(naive_chunks(blocks, chunk_token_num=limit, **kwargs))


def texts(chunks: list[Chunk]) -> list[str]:
    return [c.text for c in chunks]


# --- naive, worked by hand ------------------------------------------------------------------
# "one two three\n" is 4 tokens; "one two three" is 3; "one two three\none two three" is 7.


def test_pieces_merge_greedily_up_to_the_limit():
    chunks = chunks_of("one two three\n" * 5, 8)  # 4 + 4 fits in 8, a third piece does not
    assert chunks == [
        Chunk("one two three\none two three", 7, None, 0),
        Chunk("one two three\none two three", 7, None, 28),
        Chunk("one two three", 3, None, 56),
    ]


def test_pieces_that_do_not_fit_together_are_chunks_of_their_own():
    chunks = chunks_of("one two three\n" * 5, 7)  # 4 + 4 > 7
    assert texts(chunks) == ["one two three"] * 5
    assert [c.offset for c in chunks] == [0, 14, 28, 42, 56]
    assert [c.token_count for c in chunks] == [3] * 5


def test_every_delimiter_character_ends_a_piece_and_stays_with_it():
    chunks = chunks_of("Stop! Go? Why?\nNext line.", 3)
    assert texts(chunks) == ["Stop!", "Go?", "Why?", "Next line."]
    assert [c.offset for c in chunks] == [0, 6, 10, 15]


def test_a_piece_longer_than_the_limit_is_cut_by_tokens():
    chunks = chunks_of("a b c d e f g h i j", 4)  # 10 tokens, no delimiter
    assert chunks == [Chunk("a b c d", 4, None, 0), Chunk("e f g h", 4, None, 8), Chunk("i j", 2, None, 16)]


def test_cjk_delimiters():
    # 今天天气很好。= 9 tokens, 我们走吧。= 6, 你好。= 3
    chunks = chunks_of("今天天气很好。我们走吧。你好。", 12)
    assert chunks == [Chunk("今天天气很好。", 9, None, 0), Chunk("我们走吧。你好。", 9, None, 7)]
    chunks = chunks_of("第一句；第二句！第三句？", 9)  # 5 tokens each
    assert texts(chunks) == ["第一句；", "第二句！", "第三句？"]
    assert texts(chunks_of("第一句；第二句！第三句？", 10)) == ["第一句；第二句！", "第三句？"]


def test_custom_delimiters_escapes_and_backticks():
    assert parse_delimiters("\\n!?") == ["\n", "!", "?"]
    assert parse_delimiters("`##`\\t") == ["##", "\t"]
    # "\\n" typed as two characters is the newline, not a backslash and the letter n.
    assert texts(chunks_of("banana\napple\n", 2, delimiters="\\n")) == ["banana", "apple"]
    # A backtick-quoted delimiter is RAGFlow's custom mode: every segment between two delimiters is
    # a chunk of its own whatever chunk_token_num says, and the delimiters are left out.
    assert texts(chunks_of("alpha##beta##gamma", 3, delimiters="`##`")) == ["alpha", "beta", "gamma"]
    # With only ";" as delimiter, newlines and "!" do not cut.
    assert texts(chunks_of("a b!\nc d; e f!\ng h;", 6, delimiters=";")) == ["a b!\nc d;", "e f!\ng h;"]


def test_no_delimiters_at_all_cuts_by_tokens_only():
    assert texts(chunks_of("a b c d e f g h i j", 5, delimiters="")) == ["a b c d e", "f g h i j"]


def test_long_stretches_without_a_delimiter_are_cut_by_tokens_in_one_pass():
    # 120,000 characters with no delimiter, then more after a lone one: the piece search used to
    # retry at every position of such a stretch (quadratic; a parse of it never ended).
    text = "half. " * 20_000 + "\n" + "tail words " * 10_000
    chunks = chunks_of(text, 128)
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "").replace("\n", "")
    assert all(c.token_count == count_tokens(c.text) <= 128 for c in chunks)
    assert chunks[-1].text.endswith("tail words")


def test_offsets_and_pages_across_blocks():
    blocks = [TextBlock("Hello world.\n", 1), TextBlock("Second page here.\n", 2)]
    assert chunks_of(blocks, 4) == [Chunk("Hello world.", 3, 1, 0), Chunk("Second page here.", 4, 2, 13)]
    # A sentence crossing a page break stays one piece and starts on its first page.
    blocks = [TextBlock("The cat", 1), TextBlock(" sat.\nThen it", 2), TextBlock(" slept.\n", 3)]
    assert chunks_of(blocks, 4) == [Chunk("The cat sat.", 4, 1, 0), Chunk("Then it slept.", 4, 2, 13)]


def test_whitespace_only_text_gives_no_chunk():
    assert chunks_of("\n\n  \n\t\n", 4) == []
    assert chunks_of([TextBlock("   "), TextBlock("\n")], 4) == []


def test_chunk_text_is_stripped_and_its_offset_points_at_it():
    chunks = chunks_of("   padded line   \n\n   next\n", 100)
    assert chunks == [Chunk("padded line   \n\n   next", count_tokens("padded line   \n\n   next"), None, 3)]


@pytest.mark.parametrize("name", ["norwich-city.txt", "multi-column-2p.pdf", "example-with-scripts.html",
                                  "korean-text-with-tables.pdf", "vodafone.xlsx", "docx-tables.docx"])  # fmt: skip
@pytest.mark.parametrize("limit", [16, 128, 512])
def test_naive_chunks_of_real_documents_keep_the_contract(name: str, limit: int):
    blocks = list(extract(corpus_bytes(name), name))
    full = "".join(b.text for b in blocks)
    chunks = list(naive_chunks(blocks, chunk_token_num=limit))
    assert chunks
    for chunk in chunks:
        assert full[chunk.offset : chunk.offset + len(chunk.text)] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
        assert chunk.token_count == count_tokens(chunk.text)
        assert chunk.token_count <= limit or chunk.kind == "table"  # a table is a chunk whole, as in RAGFlow
    assert [c.offset for c in chunks] == sorted(c.offset for c in chunks)
    # Nothing but whitespace is lost between chunks.
    assert "".join(full.split()) == "".join("".join(c.text for c in chunks).split())
    # Merging is greedy: on average chunks that text follows (not a table, not the end) are well filled.
    filled = [c.token_count for c, after in itertools.pairwise(chunks) if c.kind == after.kind == "text"]
    assert len(filled) < 3 or sum(filled) / len(filled) > 0.6 * limit


# Pieces that meet where cl100k's counts do not add up: CJK sentence punctuation glued to the
# next word, indented code lines after a line break, blank and CRLF lines, tabs, other spaces.
_MIXED_WORDS = ["word", "Hello", "12", "1234567", "a_b", "今天", "天气很好", "我们", "안녕", "하세요", " ", "  ",
                "\t", "\n", "\n\n", "\r\n", "  \n", ".", ",", "!", "?", "。", "；", "！", "？", "，", "...", "'s",
                "(", ")", "—", "\u3000", "\x0b", "<|endoftext|>", "    def f():\n", "1.5"]  # fmt: skip


@pytest.mark.parametrize("limit", [3, 8, 32, 128])
def test_chunk_counts_are_exact_where_pieces_meet_mid_token(limit: int):
    import random

    rng = random.Random(limit)
    for _ in range(60):
        blocks = [
            TextBlock("".join(rng.choice(_MIXED_WORDS) for _ in range(rng.randint(1, 150))), page)
            for page in range(1, rng.randint(2, 4))
        ]
        full = "".join(b.text for b in blocks)
        chunks = list(naive_chunks(blocks, chunk_token_num=limit))
        for chunk in chunks:
            assert full[chunk.offset : chunk.offset + len(chunk.text)] == chunk.text
            assert chunk.token_count == count_tokens(chunk.text)
            assert chunk.token_count <= limit or len(chunk.text) == 1
        assert "".join(full.split()) == "".join("".join(c.text for c in chunks).split())


def test_a_character_spelled_in_more_tokens_than_the_limit_is_a_chunk_of_its_own():
    # 鬱 is 3 cl100k tokens: with a limit of 1 it cannot fit anywhere, so it stands alone.
    chunks = chunks_of("鬱。鬱。", 1)
    assert texts(chunks) == ["鬱", "。", "鬱", "。"]
    assert [c.token_count for c in chunks] == [3, 1, 3, 1]


def test_chunk_pages_follow_the_pdf_pages():
    data = make_pdf(["First page text.", "Second page text.", "Third page text."])
    chunks = list(naive_chunks(extract(data, "p.pdf"), chunk_token_num=4))
    assert [(c.text, c.page) for c in chunks] == [
        ("First page text.", 1),
        ("Second page text.", 2),
        ("Third page text.", 3),
    ]


def test_naive_chunks_stream_without_reading_the_whole_document():
    consumed = 0

    def blocks():
        nonlocal consumed
        for i in range(100_000):
            consumed += 1
            yield TextBlock(f"Line number {i} of a very long document.\n", None)

    stream = naive_chunks(blocks(), chunk_token_num=32)
    first = next(stream)
    assert first.text.startswith("Line number 0 of")
    assert consumed < 10


# --- one -------------------------------------------------------------------------------------


def test_one_chunk_is_the_whole_document():
    blocks = list(extract(corpus_bytes("fake-text.txt"), "fake-text.txt"))
    full = "".join(b.text for b in blocks).strip()
    assert list(one_chunk(blocks)) == [Chunk(full, count_tokens(full), None, 0)]
    assert list(one_chunk([TextBlock("\n  \n")])) == []
    chunks = list(one_chunk([TextBlock("\n", 1), TextBlock("  page two", 2)]))
    assert chunks == [Chunk("page two", 2, 2, 3)]


# --- qa --------------------------------------------------------------------------------------


def test_qa_from_marked_text_lines():
    text = (
        "FAQ\n\nQ: What is RAGFlow?\nA: A retrieval engine.\nIt reads documents.\n"
        "Question: Is it open source?\nAnswer: Yes.\n问题：支持中文吗？\n答案：支持。\n"
    )
    chunks = list(qa_chunks(qa_pairs_from_text([TextBlock(text)])))
    assert [c.text for c in chunks] == [
        "Question: What is RAGFlow?\tAnswer: A retrieval engine.\nIt reads documents.",
        "Question: Is it open source?\tAnswer: Yes.",
        "Question: 支持中文吗？\tAnswer: 支持。",
    ]
    assert [c.offset for c in chunks] == [text.index("Q: What"), text.index("Question: Is"), text.index("问题")]
    assert all(c.token_count == count_tokens(c.text) for c in chunks)


def test_qa_from_tab_separated_text():
    result = chunk_document(b"What is 2+2?\tFour\nCapital of France?\tParis\n", "faq.txt", "qa", {})
    assert [c.text for c in result.chunks] == [
        "Question: What is 2+2?\tAnswer: Four",
        "Question: Capital of France?\tAnswer: Paris",
    ]


def test_qa_from_csv_and_xlsx_rows():
    csv_data = b"Question,Answer\nWhat is RAG?,Retrieval-augmented generation\nWho?,Everyone\n"
    chunks = list(chunk_document(csv_data, "faq.csv", "qa", {}).chunks)
    assert [c.text for c in chunks] == [
        "Question: What is RAG?\tAnswer: Retrieval-augmented generation",  # the header row is skipped
        "Question: Who?\tAnswer: Everyone",
    ]
    no_header = b"What is RAG?,Retrieval-augmented generation\nWho?,Everyone\n"
    assert len(list(chunk_document(no_header, "faq.csv", "qa", {}).chunks)) == 2

    data = make_xlsx({"FAQ": [["Q", "A"], ["How old?", 42], ["Where?", "Here"]], "More": [["Why?", "Because"]]})
    chunks = list(chunk_document(data, "faq.xlsx", "qa", {}).chunks)
    assert [(c.text, c.page) for c in chunks] == [
        ("Question: How old?\tAnswer: 42", 1),
        ("Question: Where?\tAnswer: Here", 1),
        ("Question: Why?\tAnswer: Because", 2),
    ]


def test_qa_without_pairs_says_how_to_write_them():
    with pytest.raises(ParseError, match="No question-and-answer pairs were found"):
        list(chunk_document(corpus_bytes("fake-text.txt"), "fake-text.txt", "qa", {}).chunks)


# --- table -----------------------------------------------------------------------------------


def test_table_chunks_are_rows_with_their_header():
    data = corpus_bytes("stanley-cups.csv")
    result = chunk_document(data, "stanley-cups.csv", "table", {})
    assert result.parser_id == "table" and result.notes == ()
    chunks = list(result.chunks)
    assert [c.text for c in chunks] == [
        "Team: Blues; Location: STL; Stanley Cups: 1",
        "Team: Flyers; Location: PHI; Stanley Cups: 2",
        "Team: Maple Leafs; Location: TOR; Stanley Cups: 13",
    ]
    full = "".join(b.text for b in extract(data, "stanley-cups.csv"))
    assert all(full[c.offset : c.offset + len(c.text)] == c.text for c in chunks)
    assert all(c.token_count == count_tokens(c.text) and c.page is None for c in chunks)


def test_table_chunks_of_a_workbook_carry_the_sheet_number():
    chunks = list(chunk_document(corpus_bytes("stanley-cups.xlsx"), "stanley-cups.xlsx", "table", {}).chunks)
    assert [c.page for c in chunks] == [1, 1, 1, 2, 2, 2]
    assert chunks[-1].text == "Team: Maple Leafs; Location: TOR; Stanley Cups: 0"
    vodafone = list(chunk_document(corpus_bytes("vodafone.xlsx"), "vodafone.xlsx", "table", {}).chunks)
    assert len(vodafone) == 15
    assert vodafone[0].text == "Topic: Quarterly revenue; Period: Nine quarters to 30 June 2023; Page: 1"


def test_table_chunks_from_rows_directly():
    from kb_ingest.domain.parsing import extract_rows

    rows = extract_rows(b"name,age\nAda,36\n", "people.csv")
    assert list(table_chunks(rows)) == [Chunk("name: Ada; age: 36", count_tokens("name: Ada; age: 36"), None, 0)]


def test_table_parser_on_a_document_that_is_not_a_table_parses_naive_with_a_note():
    result = chunk_document(corpus_bytes("fake-memo.pdf"), "fake-memo.pdf", "table", {})
    assert result.parser_id == "naive"
    assert result.notes == ("The 'table' parser reads spreadsheets and CSV files only; parsed with 'naive'.",)
    assert "20,000 bottles" in " ".join(c.text for c in result.chunks)


# --- dispatch --------------------------------------------------------------------------------


def test_unknown_parser_falls_back_to_naive_with_a_note():
    data = corpus_bytes("fake-text.txt")
    result = chunk_document(data, "fake-text.txt", "lawz", {"chunk_token_num": 16})
    assert result.parser_id == "naive"
    assert result.notes == ("Parser 'lawz' is not available here; parsed with 'naive'.",)
    assert list(result.chunks) == list(chunk_document(data, "fake-text.txt", "naive", {"chunk_token_num": 16}).chunks)


def test_parser_config_is_honoured():
    data = corpus_bytes("book-war-and-peace-1p.txt")
    small = list(chunk_document(data, "b.txt", "naive", {"chunk_token_num": 32}).chunks)
    large = list(chunk_document(data, "b.txt", "naive", {"chunk_token_num": "256"}).chunks)
    default = list(chunk_document(data, "b.txt", "naive", None).chunks)
    assert max(c.token_count for c in small) <= 32 < max(c.token_count for c in default) <= 128
    assert len(large) < len(default) < len(small)
    by_comma = list(chunk_document(b"a, b, c", "t.txt", "naive", {"chunk_token_num": 2, "delimiter": ","}).chunks)
    assert [c.text for c in by_comma] == ["a,", "b,", "c"]


def test_pages_from_parser_config():
    data = make_pdf(["Page one", "Page two", "Page three"])
    result = chunk_document(data, "p.pdf", "naive", {"pages": [[2, 3]]})
    assert [(c.text, c.page) for c in result.chunks] == [("Page two\nPage three", 2)]
    one = chunk_document(data, "p.pdf", "one", {"pages": [[3, 3]]})
    assert [(c.text, c.page) for c in one.chunks] == [("Page three", 3)]


def test_one_parser():
    result = chunk_document(corpus_bytes("fake-power-point.pptx"), "deck.pptx", "one", {"chunk_token_num": 4})
    chunks = list(result.chunks)
    assert len(chunks) == 1 and chunks[0].text.startswith("Adding a Bullet Slide") and chunks[0].page == 1


def test_chunk_document_is_lazy_and_failures_come_with_the_chunks():
    result = chunk_document(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "scan.png", "naive", {})
    with pytest.raises(CorruptDocument, match="image is damaged"):
        list(result.chunks)
    result = chunk_document(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "scan.png", "table", {})
    with pytest.raises(CorruptDocument, match="image is damaged"):
        list(result.chunks)


# --- naive: overlapped_percent, custom delimiters, tables ------------------------------------


def test_overlapped_percent_starts_each_chunk_with_the_end_of_the_one_before():
    name = "norwich-city.txt"
    blocks = list(extract(corpus_bytes(name), name))
    full = "".join(b.text for b in blocks)
    plain = list(naive_chunks(blocks, chunk_token_num=64))
    overlapped = list(naive_chunks(blocks, chunk_token_num=64, overlapped_percent=25))
    assert len(overlapped) > len(plain)  # the text after each prefix is held to 75% of the limit
    shares = []
    for before, chunk in itertools.pairwise(overlapped):
        assert full[chunk.offset : chunk.offset + len(chunk.text)] == chunk.text
        assert chunk.token_count == count_tokens(chunk.text)
        # The chunk starts inside the one before, at a word, and repeats its last quarter or so.
        assert before.offset < chunk.offset < before.offset + len(before.text)
        shared = before.offset + len(before.text) - chunk.offset
        assert 0 < shared < len(before.text)
        shares.append(shared / len(before.text))
        # At a word start, unless the end of the chunk before has no space to start at (a URL).
        assert full[chunk.offset - 1].isspace() or not any(ch.isspace() for ch in chunk.text[:shared])
        assert chunk.token_count <= 64 * 1.5
    assert 0.2 < sum(shares) / len(shares) < 0.3
    # Nothing but whitespace falls between two chunks.
    covered = sorted((c.offset, c.offset + len(c.text)) for c in overlapped)
    assert all(a[1] >= b[0] or not full[a[1] : b[0]].strip() for a, b in itertools.pairwise(covered))


def test_overlapped_percent_through_parser_config():
    data = corpus_bytes("fake-text.txt")
    config = {"chunk_token_num": 16, "overlapped_percent": 30}
    chunks = list(chunk_document(data, "fake-text.txt", "naive", config).chunks)
    plain = list(chunk_document(data, "fake-text.txt", "naive", {"chunk_token_num": 16}).chunks)
    assert chunks != plain and len(chunks) >= len(plain)
    assert list(chunk_document(data, "fake-text.txt", "naive", {"overlapped_percent": "x"}).chunks)


def test_backtick_delimiter_cuts_a_real_markdown_file_at_every_heading():
    name = "codeblock.md"
    data = corpus_bytes(name)
    blocks = list(extract(data, name))
    full = "".join(b.text for b in blocks)
    chunks = list(naive_chunks(blocks, chunk_token_num=2, delimiters="`##`"))
    # One chunk per "##" section, however long (chunk_token_num is ignored in this mode) ...
    assert len(chunks) == full.count("##") + (0 if full.lstrip().startswith("##") else 1)
    assert max(c.token_count for c in chunks) > 2
    for chunk in chunks:
        assert "##" not in chunk.text  # ... and the delimiter itself is left out
        assert full[chunk.offset : chunk.offset + len(chunk.text)] == chunk.text
        assert chunk.token_count == count_tokens(chunk.text)


def test_table_blocks_are_chunks_of_their_own():
    from kb_ingest.domain.parsing.model import Table

    table = Table.from_rows([["Team", "City"], ["Blues", "St. Louis"]], header_rows=1)
    blocks = [
        TextBlock("Before the table, one line.\n"),
        TextBlock(table.html() + "\n", kind="table", table=table),
        TextBlock("After the table, another line.\n"),
    ]
    chunks = list(naive_chunks(blocks, chunk_token_num=512))
    assert [c.kind for c in chunks] == ["text", "table", "text"]
    assert chunks[1].text.startswith("<table>") and "<th>Team</th>" in chunks[1].text
    assert chunks[1].offset == len(blocks[0].text)
    # Custom-delimiter mode keeps them apart too.
    assert [c.kind for c in naive_chunks(blocks, delimiters="`,`")] == ["text", "text", "table", "text", "text"]
