"""RAGFlow's chunk methods on real documents: what a user of each method sees in the chunks.

The documents: the shared corpus (Unstructured-IO's example-docs), an Apache License 2.0 text (a
legal text numbered 1. to 9.), a page of a vendor's configuration guide and example-docs' README.
"""

from __future__ import annotations

import pytest
from parsing_helpers import FIXTURES, corpus_bytes

from kb_ingest.domain.parsing import ParseError, chunk_document, count_tokens, extract
from kb_ingest.domain.parsing.methods import METHODS
from kb_ingest.domain.parsing.methods._structure import (
    Line,
    bullets_category,
    remove_contents_table,
    tree_chunks,
)

METHOD_FILES = FIXTURES / "methods"
LICENSE = "apache-license-2.0.txt"


def method_bytes(name: str) -> bytes:
    return (METHOD_FILES / name).read_bytes()


def run(method: str, data: bytes, name: str, config: dict | None = None):
    result = chunk_document(data, name, method, config or {})
    return result, list(result.chunks)


def assert_counted(chunks) -> None:
    for chunk in chunks:
        assert chunk.text == chunk.text.strip() and chunk.text
        assert chunk.token_count == count_tokens(chunk.text)


# --- laws ----------------------------------------------------------------------------------------


def test_laws_cuts_a_legal_text_at_its_numbered_sections():
    result, chunks = run("laws", method_bytes(LICENSE), LICENSE)
    assert result.parser_id == "laws" and result.notes == ()
    assert_counted(chunks)
    starts = [c.text.split("\n", 1)[0] for c in chunks]
    # The preamble, then one chunk per section 1. to 9., each with all of its text however long.
    assert (
        starts[1:]
        == [
            "1. Definitions.",
            "2. Grant of Copyright License. Subject to the terms and conditions of",
            "3. Grant of Patent License. Subject to the terms and conditions of",
            "4. Redistribution. You may reproduce and distribute copies of the",
            "5. Submission of Contributions. Unless You explicitly state otherwise,",
            "6. Trademarks. This License does not grant permission to use the trade",
            "7. Disclaimer of Warranty. Unless required by applicable law or",
            "8. Limitation of Liability. In no event and under no legal theory,",
            "9. Accepting Warranty or Additional Liability. While redistributing",
        ][: len(starts) - 1]
    )
    definitions = chunks[1]
    assert '"Contribution" shall mean' in definitions.text and definitions.token_count > 512
    assert "2. Grant of Copyright" not in definitions.text
    # Offsets point at each section's first line in the extracted text.
    full = "".join(b.text for b in extract(method_bytes(LICENSE), LICENSE))
    assert full[definitions.offset :].startswith("1. Definitions.")


def test_laws_puts_the_chapter_above_each_article():
    # A Chinese statute's shape: chapters (第一章) over articles (第一条), restated from RAGFlow.
    text = [
        "第一章 总则",
        "第一条 为了保护公民的合法权益，制定本法。",
        "本法适用于中华人民共和国境内。",
        "第二条 国家保障公民的权利。",
        "第二章 附则",
        "第三条 本法自公布之日起施行。",
    ]
    lines = [Line(t, i * 40, None) for i, t in enumerate(text)]
    chunks = list(tree_chunks(bullets_category(text), lines, 2))
    assert [c.text for c in chunks] == [
        "第一章 总则\n第一条 为了保护公民的合法权益，制定本法。\n本法适用于中华人民共和国境内。",
        "第一章 总则\n第二条 国家保障公民的权利。",
        "第二章 附则\n第三条 本法自公布之日起施行。",
    ]
    assert chunks[1].titles == ("第一章 总则",) and chunks[1].offset == 3 * 40


def test_a_table_of_contents_is_dropped():
    text = ["Contents", "1. Scope", "2. Terms", "1. Scope", "This applies to all.", "2. Terms", "Words mean."]
    lines = [Line(t, i, None) for i, t in enumerate(text)]
    assert [line.text for line in remove_contents_table(lines, english=True)] == text[3:]


# --- book ----------------------------------------------------------------------------------------


def test_book_gives_every_line_its_chain_of_titles():
    result, chunks = run("book", method_bytes(LICENSE), LICENSE)
    assert result.parser_id == "book"
    assert_counted(chunks)
    under_definitions = [c for c in chunks if c.titles == ("1. Definitions.",)]
    assert len(under_definitions) > 20  # each line of section 1, prefixed by its title
    assert all(c.text.startswith("1. Definitions.\n") for c in under_definitions)
    assert any('"Licensor" shall mean' in c.text for c in under_definitions)
    assert [c.offset for c in chunks] == sorted(c.offset for c in chunks)  # document order


def test_book_without_numbering_is_chunked_as_naive():
    name = "book-war-and-peace-1p.txt"
    _, chunks = run("book", corpus_bytes(name), name, {"chunk_token_num": 128})
    _, naive = run("naive", corpus_bytes(name), name, {"chunk_token_num": 128})
    assert [c.text for c in chunks] == [c.text for c in naive]


# --- manual and paper ----------------------------------------------------------------------------


def test_manual_gathers_a_guide_page_by_its_sections():
    name = "interface-config-guide-p93.pdf"
    result, chunks = run("manual", method_bytes(name), name)
    assert result.parser_id == "manual"
    assert_counted(chunks)
    assert len(chunks) >= 2
    assert any(c.text.startswith("6.4 Internal PXC") for c in chunks)  # a section starts a chunk
    assert all(c.token_count < 1024 + 200 for c in chunks)
    assert all(c.page == 1 for c in chunks)


def test_paper_keeps_the_abstract_whole_and_marks_it():
    name = "layout-parser-paper-fast.pdf"
    result, chunks = run("paper", corpus_bytes(name), name)
    assert result.parser_id == "paper"
    assert_counted(chunks)
    abstract = chunks[0]
    assert abstract.text.startswith("Abstract.") and "abstract" in abstract.important_keywords
    assert "LayoutParser" in abstract.text and abstract.token_count > 100
    assert "Introduction" not in abstract.text
    # The title and authors before the abstract are not chunks; the sections after it are.
    assert not any(c.text.startswith("LayoutParser: A Unified Toolkit") for c in chunks)
    assert any(c.text.startswith("1 Introduction") for c in chunks)


# --- presentation, picture, email ----------------------------------------------------------------


def test_presentation_is_one_chunk_per_slide_and_page():
    name = "fake-power-point-table.pptx"
    _, slides = run("presentation", corpus_bytes(name), name)
    pages = [b.page for b in extract(corpus_bytes(name), name)]
    assert [c.page for c in slides] == sorted(set(p for p in pages if p is not None))
    name = "multi-column-2p.pdf"
    _, pdf_pages = run("presentation", corpus_bytes(name), name, {"chunk_token_num": 16})
    assert [c.page for c in pdf_pages] == [1, 2] and all(c.token_count > 16 for c in pdf_pages)
    assert_counted(pdf_pages)


def test_presentation_of_a_file_without_pages_says_it_parsed_naive():
    result, chunks = run("presentation", corpus_bytes("fake-text.txt"), "fake-text.txt")
    assert result.parser_id == "naive" and "no pages" in result.notes[0] and chunks


def test_picture_is_its_ocr_text_and_says_no_vision_model_described_it():
    name = "table-multi-row-column-cells.png"
    result, chunks = run("picture", (FIXTURES / "ocr" / name).read_bytes(), name)
    assert result.parser_id == "picture"
    assert any("vision model" in note for note in result.notes)
    assert len(chunks) == 1 and chunks[0].kind == "image" and "Ballots" in chunks[0].text
    assert_counted(chunks)


def test_picture_of_a_video_fails_with_the_reason():
    result = chunk_document(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "clip.mp4", "picture", {})
    with pytest.raises(ParseError, match="vision model"):
        list(result.chunks)


def test_email_chunks_each_attachment_apart_from_the_mail():
    name = "fake-email-attachment.eml"
    result, chunks = run("email", corpus_bytes(name), name, {"chunk_token_num": 512})
    assert result.parser_id == "email"
    assert_counted(chunks)
    assert chunks[0].text.startswith("Subject: Fake email with attachment")
    attachment = [c for c in chunks if "fake attachment" in c.text]
    assert len(attachment) == 1 and "Subject:" not in attachment[0].text
    full = "".join(b.text for b in extract(corpus_bytes(name), name))
    assert all(full[c.offset : c.offset + len(c.text)] == c.text for c in chunks)
    # Chunked as one text, naive puts the attachment into the mail's chunk.
    _, naive = run("naive", corpus_bytes(name), name, {"chunk_token_num": 512})
    assert len(naive) < len(chunks)


# --- qa from headings, tag -----------------------------------------------------------------------


def test_qa_reads_markdown_headings_as_questions():
    name = "unstructured-example-docs-README.md"
    result, chunks = run("qa", method_bytes(name), name)
    assert result.parser_id == "qa"
    assert [c.question for c in chunks] == ["Example Docs", "Example Docs\nXBRL 10-K"]
    assert all(c.kind == "qa" for c in chunks)
    assert chunks[1].text.startswith("Question: Example Docs\nXBRL 10-K\tAnswer: You can get an example 10-K")
    assert "```bash" in chunks[1].text  # a fenced block's lines are answer, never headings


def test_tag_reads_text_and_tags_from_rows():
    name = "stanley-cups.csv"
    result, chunks = run("tag", corpus_bytes(name), name)
    assert result.parser_id == "tag"
    assert [(c.text, c.tags) for c in chunks] == [("Blues", ("STL",)), ("Flyers", ("PHI",)), ("Maple Leafs", ("TOR",))]


def test_tag_without_entries_says_how_to_write_them():
    with pytest.raises(ParseError, match="tags"):
        list(chunk_document(b"just one line of text\n", "t.txt", "tag", {}).chunks)


# --- methods that need a model -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "needs"), [("resume", "LLM"), ("knowledge_graph", "LLM")])
def test_methods_that_need_an_llm_say_so_and_chunk_as_naive(method: str, needs: str):
    result, chunks = run(method, corpus_bytes("fake-text.txt"), "fake-text.txt")
    _, naive = run("naive", corpus_bytes("fake-text.txt"), "fake-text.txt")
    assert result.parser_id == "naive" and needs in result.notes[0] and method in result.notes[0]
    assert chunks == naive


def test_audio_needs_a_speech_model():
    result = chunk_document(b"ID3" + b"\x00" * 64, "talk.mp3", "audio", {})
    with pytest.raises(ParseError):
        list(result.chunks)


def test_every_chunk_method_ragflow_accepts_is_handled():
    # RAGFlow's document validation (api/utils/validation_utils.py) accepts these chunk_method values.
    ragflow = {"naive", "manual", "qa", "table", "paper", "book", "laws", "presentation", "picture", "one",
               "knowledge_graph", "email", "audio", "tag", "resume"}  # fmt: skip
    for method in ragflow:
        result = chunk_document(corpus_bytes("fake-text.txt"), "fake-text.txt", method, {})
        assert not any("not available here; parsed with 'naive'" in note for note in result.notes), method
    assert set(METHODS) | {"naive", "one", "qa", "table"} == ragflow
