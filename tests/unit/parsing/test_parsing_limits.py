"""Files that would cost too much fail fast with a clear reason instead of exhausting the Lambda."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from parsing_helpers import CONTENT_TYPES, ROOT_RELS, W_NS, corpus_bytes, docx_paragraphs, make_pdf, make_xlsx

from kb_ingest.domain.parsing import ExtractLimits, ResourceLimitExceeded, extract, extract_rows

MiB = 1024 * 1024


def read_all(data: bytes, filename: str, limits: ExtractLimits | None = None, **kwargs) -> str:
    return "".join(b.text for b in extract(data, filename, limits=limits, **kwargs))


def test_defaults():
    limits = ExtractLimits()
    assert (limits.max_bytes, limits.max_cells, limits.max_zip_uncompressed) == (200 * MiB, 2_000_000, 500 * MiB)
    assert (limits.max_zip_ratio, limits.max_pages, limits.timeout_seconds) == (200, 5000, None)


def test_file_larger_than_max_bytes():
    with pytest.raises(ResourceLimitExceeded, match=r"^This file is 2\.0 MB, more than the 1\.0 MB"):
        list(extract(b"x" * (2 * MiB), "big.txt", limits=ExtractLimits(max_bytes=MiB)))


def test_zip_bomb_docx_is_refused_before_it_is_unpacked():
    # 64 MiB of one repeated paragraph compress about a thousand times: a zip bomb's signature.
    paragraph = f"<w:p><w:r><w:t>{'A' * 100}</w:t></w:r></w:p>".encode()
    body = paragraph * (64 * MiB // len(paragraph))
    document = f'<w:document xmlns:w="{W_NS}"><w:body>'.encode() + body + b"</w:body></w:document>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", ROOT_RELS)
        zf.writestr("word/document.xml", document)
    del body, document
    data = buffer.getvalue()
    assert len(data) < MiB
    started = time.monotonic()
    with pytest.raises(ResourceLimitExceeded, match="zip bomb") as info:
        list(extract(data, "bomb.docx"))
    assert time.monotonic() - started < 1
    assert str(info.value).startswith("This Word document contains a part compressed")


def test_docx_unpacking_to_more_than_the_limit():
    data = docx_paragraphs(*(f"Paragraph number {i} with a few words." for i in range(20_000)))
    assert "Paragraph number 19999" in read_all(data, "long.docx")
    with pytest.raises(ResourceLimitExceeded, match=r"would unpack to more than 0\.1 MB"):
        list(extract(data, "long.docx", limits=ExtractLimits(max_zip_uncompressed=MiB // 10)))


def test_spreadsheet_with_too_many_cells():
    rows = [[f"r{r}c{c}" for c in range(10)] for r in range(300)]  # 3,000 cells
    data = make_xlsx({"Big": rows})
    assert "Column" not in read_all(data, "big.xlsx", ExtractLimits(max_cells=3_000))
    started = time.monotonic()
    with pytest.raises(ResourceLimitExceeded, match=r"more than 1,000 cells"):
        list(extract(data, "big.xlsx", limits=ExtractLimits(max_cells=1_000)))
    assert time.monotonic() - started < 1

    csv_data = "\n".join(",".join(row) for row in rows).encode()
    with pytest.raises(ResourceLimitExceeded, match=r"more than 1,000 cells"):
        list(extract_rows(csv_data, "big.csv", limits=ExtractLimits(max_cells=1_000)))


def test_spreadsheet_over_the_default_cell_limit():
    # 2,000,001 one-character cells: the default limit stops it while reading, quickly.
    data = b"\n".join([b",".join([b"x"] * 1000)] * 2001)
    started = time.monotonic()
    with pytest.raises(ResourceLimitExceeded, match=r"more than 2,000,000 cells"):
        list(extract(data, "huge.csv"))
    assert time.monotonic() - started < 10


def test_pdf_with_more_pages_than_allowed():
    data = make_pdf([f"Page {i}" for i in range(1, 11)])
    with pytest.raises(ResourceLimitExceeded, match=r"10 pages to read, more than the 5"):
        list(extract(data, "ten.pdf", limits=ExtractLimits(max_pages=5)))
    # A page range within the limit reads.
    assert read_all(data, "ten.pdf", ExtractLimits(max_pages=5), pages=[[6, 10]]).split("\n")[:2] == [
        "Page 6",
        "Page 7",
    ]


def test_parse_out_of_time():
    with pytest.raises(ResourceLimitExceeded, match="took longer than"):
        list(extract(corpus_bytes("multi-column-2p.pdf"), "x.pdf", limits=ExtractLimits(timeout_seconds=1e-9)))
