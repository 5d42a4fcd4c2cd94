"""OCR: scanned PDF pages and image files are read; pages with a text layer are not OCRed.

Most tests use the real PP-OCR models shipped in rapidocr's wheel (loaded once per process,
a few seconds); the ones about *when* OCR runs use a recording engine instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from parsing_helpers import FIXTURES, corpus_bytes, make_pdf

from kb_ingest.domain.parsing import NoTextLayer, chunk_document, extract, ocr
from kb_ingest.domain.parsing.ocr import lines_from_boxes

TABLE_PNG = FIXTURES / "ocr" / "table-multi-row-column-cells.png"


class Recording:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.images: list[bytes] = []

    def __call__(self, image: bytes) -> list[str]:
        self.images.append(image)
        return self.lines


@pytest.fixture
def recording() -> Iterator[Recording]:
    engine = Recording(["Scanned line one", "Scanned line two"])
    ocr.use_engine(engine)
    yield engine
    ocr.use_engine(None)


def test_scanned_pdf_page_is_read_by_ocr_and_marked_as_image_text(recording: Recording):
    blocks = list(extract(corpus_bytes("single_table.pdf"), "single_table.pdf"))
    assert [(b.text, b.page, b.kind) for b in blocks] == [("Scanned line one\nScanned line two\n", 1, "image_text")]
    assert len(recording.images) == 1 and recording.images[0][:3] == b"\xff\xd8\xff"  # the page, as JPEG


def test_pages_with_a_text_layer_are_not_ocred(recording: Recording):
    text = "".join(b.text for b in extract(corpus_bytes("multi-column-2p.pdf"), "paper.pdf"))
    assert "Dense Passage Retrieval" in text
    assert recording.images == []


@pytest.mark.parametrize("plain", ["Plain Text", False, "plaintext"])
def test_layout_recognize_plain_text_reads_text_layers_only(recording: Recording, plain: object):
    result = chunk_document(corpus_bytes("single_table.pdf"), "single_table.pdf", "naive", {"layout_recognize": plain})
    with pytest.raises(NoTextLayer, match="OCR"):
        list(result.chunks)
    assert recording.images == []


def test_a_vision_model_layout_recognizer_falls_back_to_ocr_and_says_so(recording: Recording):
    result = chunk_document(
        corpus_bytes("single_table.pdf"), "single_table.pdf", "naive", {"layout_recognize": "gpt-4o@OpenAI"}
    )
    assert "Scanned line one" in "".join(chunk.text for chunk in result.chunks)
    assert any("gpt-4o@OpenAI" in note and "not available here" in note for note in result.notes)
    for default in ({}, {"layout_recognize": "DeepDOC"}, {"layout_recognize": True}):
        assert chunk_document(b"%PDF-1.4", "x.pdf", "naive", default).notes == ()


def test_boxes_become_lines_top_to_bottom_and_left_to_right():
    boxes = [
        [[200, 12], [300, 12], [300, 30], [200, 30]],  # right half of line 1
        [[10, 50], [90, 50], [90, 70], [10, 70]],  # line 2
        [[10, 10], [150, 10], [150, 31], [10, 31]],  # left half of line 1
    ]
    assert lines_from_boxes(boxes, ["world", "second", "Hello"]) == ["Hello world", "second"]
    assert lines_from_boxes(None, None) == []


# --- the real models ---------------------------------------------------------------------------


def test_real_ocr_reads_a_scanned_table_pdf():
    text = "".join(b.text for b in extract(corpus_bytes("single_table.pdf"), "single_table.pdf"))
    for expected in ("Processing", "Chipper", "64,058", "800.73", "96.20"):
        assert expected in text


def test_real_ocr_reads_a_png_image_file():
    blocks = list(extract(TABLE_PNG.read_bytes(), "cells.png"))
    assert blocks and all(b.kind == "image_text" and b.page is None for b in blocks)
    words = "".join(b.text for b in blocks).split()
    assert len(words) > 20


def test_real_ocr_reads_each_distinct_frame_of_a_multi_page_tiff():
    import io

    from PIL import Image

    page = Image.open(TABLE_PNG).convert("RGB")
    blank = Image.new("RGB", page.size, "white")
    out = io.BytesIO()
    page.save(out, format="TIFF", save_all=True, append_images=[blank, page.copy()])
    blocks = list(extract(out.getvalue(), "fax.tiff"))
    assert [b.page for b in blocks] == [1]  # the blank frame has no text, the repeat is skipped


def test_a_pdf_with_no_text_and_no_pictures_still_says_it_needs_ocr():
    with pytest.raises(NoTextLayer):
        list(extract(make_pdf([" "]), "blank.pdf"))
