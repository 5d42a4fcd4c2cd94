"""Every document of tests/fixtures/corpus through ``extract``, checked against what its README says a
user expects: the words in the file come out readable, the junk does not, and the files that cannot
be read fail with a reason."""

from __future__ import annotations

import pytest
from parsing_helpers import CORPUS, corpus_bytes, extracted_text

from kb_ingest.domain.parsing import (
    ParseError,
    PasswordProtected,
    TextBlock,
    chunk_document,
    extract,
)

# file -> (phrases that must be in the extracted text, phrases that must not)
READABLE: dict[str, tuple[list[str], list[str]]] = {
    "fake-text.txt": (["This is a test document to use for unit tests.", "Doylestown, PA 18901"], []),
    "book-war-and-peace-1p.txt": (["so Genoa and Lucca are now just family estates", "Antichrist"], []),
    # The file holds UTF-8 that was once decoded as Latin-1 and saved again ("â\x80\x93"): repaired.
    "norwich-city.txt": (["Iwan Roberts", "1986–1990 Watford", "1990–1993 Huddersfield Town"], ["â\x80", "â€"]),
    "fake-text-utf-16-le.txt": (["This is a test document", "Hamburgers are delicious", "Doylestown"], []),
    "fake-text-utf-32.txt": (["This is a test document", "I love fuzzy blankets", "Doylestown"], []),
    "umlauts-non-utf8.md": (["## können", "äöüß"], ["\ufffd"]),
    "fake-html-cp1252.html": (
        [
            "Die schöne Frau",
            '"Das war köstlich!"',
            "15,50 €",
            "L'été était très chaud",
            "El niño comió paella con ñoquis",
            "Mannen frågade",
            "O João comprou um café",
        ],
        ["\ufffd", "<pre>", "<p>"],
    ),
    "codeblock.md": (["## HTML Example", "```html", "<h1>Hello, World!</h1>", "<to>Tove</to>"], []),
    "simple-table.md": (["Item | Price | # In stock", "Juicy Apples | 1.99 | 739"], []),
    "example-10k-1p.html": (
        ["Galaxy Gaming, Inc.", "Commission file number: 000-30653"],
        ["<", "function(", "{"],
    ),
    "example-with-scripts.html": (
        ["Russian Offensive Campaign Assessment, December 13", "Karolina Hird"],
        ["<script", "function(", "jQuery", "{", "px;", "sharethis"],
    ),
    "ideas-page.html": (
        ["How to Get New Ideas", "Knowledge grows fractally."],
        ["csell", "YStore", "<", "function"],
    ),
    "docx-tables.docx": (
        [
            "<td>Header Col 1</td><td>Header Col 2</td>",
            "<td>Lorem ipsum</td><td>A link example</td>",
            "<td>a</td><td>&gt;b&lt;</td><td>c</td>",
            "Table with merged cells",
        ],
        [],
    ),
    "fake.docx": (["Lorem ipsum dolor sit amet."], []),
    # Header and footer text of the first page of a handbook.
    "handbook-1p.docx": (["US Trustee Handbook", "CHAPTER 1 – INTRODUCTION", "Copyright"], []),
    # Headers and footers, including tables in them; a vertically merged-away cell's text is not shown
    # by Word and is not extracted.
    "docx-hdrftr.docx": (
        ["First header para", "Last header para", "Table cell1 | Table cell2", "Main document", "para1", "para2"],
        ["I should not be included"],
    ),
    "fake-power-point.pptx": (["Adding a Bullet Slide", "Here is some text in a text box!"], []),
    "fake-power-point-table.pptx": (
        ["A Slide with a Table", "Column 1 | Column 2 | Column 3", "Tangerine | Pink | Aqua"],
        [],
    ),
    "fake-power-point-malformed.pptx": (["Test Slide"], []),
    "stanley-cups.xlsx": (
        ["Team: Blues; Location: STL; Stanley Cups: 1", "Team: Maple Leafs; Location: TOR; Stanley Cups: 0"],
        [],
    ),
    "vodafone.xlsx": (
        [
            "Topic: Quarterly revenue; Period: Nine quarters to 30 June 2023; Page: 1",
            "Topic: Mobile ARPU; Period: Nine quarters to 30 June 2023; Page: 13",
        ],
        ["None"],
    ),
    "stanley-cups.csv": (["Stanley Cups", "Team: Maple Leafs; Location: TOR; Stanley Cups: 13"], []),
    "semicolon-delimited.csv": (
        ["Lorem, ipsum: consectetur; dolor sit: adipiscing; amet: elit", "dolor sit: et, dolore"],
        [],
    ),
    "csv-with-long-lines.csv": (["SpearmanCorrelationCoefficient: 1Freq CD161CD8TfrequencyUnstim"], []),
    "simple.json": (["[0].text: These are a few of my favorite things:", "Parrots", "Hockey"], []),
    "simple.yaml": (["doe: a deer, a female deer", "xmas-fifth-day.partridges.location: a pear tree"], []),
    "factbook.xml": (["capital: Ottawa", "leader: Justin Trudeau", "name: Trinidad & Tobado"], ["&amp;"]),
    "fake-email.eml": (
        [
            "Subject: Test Email",
            "From: Matthew Robinson <mrobinson@unstructured.io>",
            "To: NotMatthew",
            "Roses are red",
        ],
        ["<div", "00000000000095c9b205eff92630"],
    ),
    "fake-email-attachment.eml": (
        [
            "Subject: Fake email with attachment",
            "From: Mallori Harrell",
            "Here's the attachments!",
            "Attachment: fake-attachment.txt",
        ],
        ["SGV5IHRoaXMgaXMgYSBmYWtlIGF0dGFjaG1lbnQh"],
    ),
    # Both parts hold the same facts; the plain one is the body.
    "mime-different-plain-html.eml": (
        ["Subject: Example MIME Email", "From: sender@example.com", "This is the text/plain part.", "Ray Tomlinson"],
        ["text/html part", "<p>"],
    ),
    "fake-memo.pdf": (["To Whom it May Concern:", "20,000 bottles of water"], []),
    "layout-parser-paper-fast.pdf": (["LayoutParser: A Unified Toolkit for Deep", "Allen Institute for AI"], []),
    "multi-column-2p.pdf": (["Dense Passage Retrieval for Open-Domain Question Answering"], []),
    "korean-text-with-tables.pdf": (["적립 제외 대상", "삼성카드 홈페이지", "빅포인트의 유효기간은 5년으로"], []),
    "fake.doc": (["Lorem ipsum dolor sit amet."], []),
    # A picture of a table saved as PDF: read by OCR.
    "single_table.pdf": (["Processing", "Chipper", "64,058"], []),
    # Encrypted with an owner password only: readable without asking for one.
    "copy-protected.pdf": (["LayoutParser: A Unified Toolkit", "Allen Institute for AI"], []),
}

FAILING: dict[str, tuple[type[ParseError], str]] = {
    "password.pdf": (PasswordProtected, "password-protected"),
    "password_protected.xlsx": (PasswordProtected, "password-protected"),
}


def test_every_corpus_file_has_an_expectation():
    files = {p.name for p in CORPUS.iterdir() if p.name != "README.md"}
    assert files == set(READABLE) | set(FAILING) | {"empty.txt"}


@pytest.mark.parametrize("name", sorted(READABLE))
def test_corpus_file_reads_as_a_user_expects(name: str):
    present, absent = READABLE[name]
    text = extracted_text(name)
    for phrase in present:
        assert phrase in text, f"{phrase!r} missing from {name}"
    for phrase in absent:
        assert phrase not in text, f"{phrase!r} should not be in {name}"
    assert "\x00" not in text
    assert not any(0x80 <= ord(c) <= 0x9F for c in text), "C1 control characters (mojibake) in the text"


@pytest.mark.parametrize("name", sorted(FAILING))
def test_corpus_file_fails_with_a_reason(name: str):
    error, words = FAILING[name]
    with pytest.raises(error) as info:
        list(extract(corpus_bytes(name), name))
    assert words in str(info.value)
    assert str(info.value).endswith(".")


def test_password_messages_name_the_kind_of_file():
    with pytest.raises(PasswordProtected, match=r"^This PDF is password-protected; remove the password"):
        list(extract(corpus_bytes("password.pdf"), "password.pdf"))
    with pytest.raises(PasswordProtected, match=r"^This Excel workbook is password-protected"):
        list(extract(corpus_bytes("password_protected.xlsx"), "password_protected.xlsx"))


def test_empty_file_yields_nothing_and_no_chunks():
    assert list(extract(b"", "empty.txt")) == []
    assert list(extract(corpus_bytes("empty.txt"), "empty.txt")) == []
    assert list(chunk_document(corpus_bytes("empty.txt"), "empty.txt", "naive", {}).chunks) == []


def test_utf16_and_utf32_text_is_the_same_as_the_utf8_original():
    original = extracted_text("fake-text.txt").split()
    assert extracted_text("fake-text-utf-16-le.txt").split() == original
    assert extracted_text("fake-text-utf-32.txt").split() == original


def test_pdf_blocks_are_paragraphs_page_by_page_in_order():
    for name in ("multi-column-2p.pdf", "copy-protected.pdf"):
        pages = [b.page for b in extract(corpus_bytes(name), name)]
        assert pages == sorted(pages) and set(pages) == {1, 2}
    blocks = list(extract(corpus_bytes("multi-column-2p.pdf"), "multi-column-2p.pdf"))
    assert blocks[0] == TextBlock("Dense Passage Retrieval for Open-Domain Question Answering\n", 1, "heading", 1)
    assert {b.kind for b in blocks} >= {"heading", "paragraph"}


def test_two_column_pdf_reads_column_by_column():
    text = extracted_text("multi-column-2p.pdf")
    abstract = text.index("Open-domain question answering relies on efficient passage retrieval")
    introduction = text.index("1 Introduction")
    right_column = text.index("Retrieval in open-domain QA is usually implemented")
    assert abstract < introduction < right_column


def test_pptx_blocks_are_slides():
    blocks = list(extract(corpus_bytes("fake-power-point-table.pptx"), "fake-power-point-table.pptx"))
    assert [b.page for b in blocks] == [1]


def test_workbook_blocks_are_sheets():
    blocks = list(extract(corpus_bytes("stanley-cups.xlsx"), "stanley-cups.xlsx"))
    assert [b.page for b in blocks] == [1, 2]
    assert blocks[0].text.startswith("Sheet: Stanley Cups\n")
    assert "Stanley Cups: 13" in blocks[0].text and "Stanley Cups: 0" in blocks[1].text


def test_csv_with_long_lines_has_a_line_per_row():
    lines = extracted_text("csv-with-long-lines.csv").splitlines()
    assert len(lines) == 10  # 11 lines: a header and 10 rows
    assert all(len(line) > 1000 for line in lines)
