"""PDF layout rebuilt from line boxes: columns, running headers/footers, hyphenation."""

from __future__ import annotations

from collections import Counter

from parsing_helpers import corpus_bytes

from kb_ingest.domain.parsing._pdf import (
    Line,
    _Dehyphenator,
    _Page,
    _PageStore,
    furniture,
    join_fragments,
    reading_order,
)

WIDTH, HEIGHT = 600.0, 800.0


def line(text: str, x0: float, top: float, width: float = 240, size: float = 10) -> Line:
    return Line(text, x0, x0 + width, top, top - size, size)


def test_two_columns_are_read_one_after_the_other_between_full_width_lines():
    lines = [line("Title across both columns", 50, 760, 500, 16)]
    for i in range(8):
        lines.append(line(f"left {i}", 50, 700 - 14 * i))
        lines.append(line(f"right {i}", 320, 700 - 14 * i))
    lines.append(line("A footnote across the page", 50, 100, 500))
    order = [x.text for x in reading_order(lines, WIDTH)]
    assert order == ["Title across both columns", *(f"left {i}" for i in range(8)), *(f"right {i}" for i in range(8)),
                     "A footnote across the page"]  # fmt: skip


def test_a_table_of_short_cells_is_not_mistaken_for_columns():
    lines = []
    for i in range(8):
        lines += [line(f"name {i}", 50, 700 - 14 * i, 40), line(f"{i}", 320, 700 - 14 * i, 10)]
    order = [x.text for x in reading_order(lines, WIDTH)]
    assert order[:4] == ["name 0", "0", "name 1", "1"]  # row by row


def test_words_placed_one_by_one_on_a_baseline_become_one_line():
    words = [Line(w, 50 + 40 * i, 50 + 40 * i + 30, 700, 690, 10) for i, w in enumerate(["Here", "is", "a", "line."])]
    assert [x.text for x in join_fragments(words)] == ["Here is a line."]


def test_margin_lines_repeated_on_half_the_pages_are_running_headers():
    pages = []
    for n in range(1, 5):
        page = [line("is for Official Use Only", 50, 790), line(f"Page {n} of 4", 50, 20), line(f"Body {n}", 50, 400)]
        pages.append((page, HEIGHT))
    assert furniture(pages) == {"is for official use only", "page # of #"}


def test_hyphens_are_removed_only_where_the_word_is_one_word():
    words = Counter({"retrieval": 2, "dense": 3})
    dehyphenate = _Dehyphenator(words)
    assert dehyphenate.join("retri", "eval")  # spelled unbroken elsewhere in the document
    assert not dehyphenate.join("dual", "encoder")  # not a break point of "dualencoder"
    assert dehyphenate.join("hyphen", "ation")  # a break point LibreOffice's patterns allow
    words["self-attention"] = 1
    assert not dehyphenate.join("self", "attention")  # the document writes it with the hyphen


def test_pages_kept_for_the_second_pass_give_back_the_same_lines():
    lines = [
        Line("Résumé — 한국어 텍스트 ﬁ", 50.25, 310.125, 790.5, 780.0625, 10.4375),
        Line("", 0.0, 0.0, 0.0, 0.0, 0.0),
        Line("x\ufffey and a tab\there", -12.5, 1e6, 1 / 3, -2.0, 7.1),
    ]
    pages = [_Page(7, lines, WIDTH, HEIGHT, False), _Page(8, [], WIDTH, HEIGHT, True)]
    pages += [
        _Page(9 + n, [line(f"line {n} {i} " * 9, 50, 700 - i) for i in range(40)], 612, 792, False) for n in range(9)
    ]
    store = _PageStore()
    for page in pages:
        store.add(page)
    back = [(p.number, p.width, p.height, p.scanned, got) for p, got in store]
    assert back == [(p.number, p.width, p.height, p.scanned, p.lines) for p in pages]
    assert all(not p.packed for p in store.pages)  # let go once read back


def test_page_text_is_the_text_pypdfium2_reads():
    import pypdfium2 as pdfium

    from kb_ingest.domain.parsing._pdf import _page_text

    for name in ("multi-column-2p.pdf", "korean-text-with-tables.pdf", "layout-parser-paper-fast.pdf"):
        pdf = pdfium.PdfDocument(corpus_bytes(name))
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            assert _page_text(textpage) == textpage.get_text_range(errors="ignore"), (name, index)
            textpage.close()
            page.close()
        pdf.close()
