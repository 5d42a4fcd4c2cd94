"""Text in any encoding a user's file may have comes out as the words they wrote: no NULs, no mojibake."""

from __future__ import annotations

import codecs

import pytest

from kb_ingest.domain.parsing import TextBlock, UnsupportedFormat, extract
from kb_ingest.domain.parsing._text import BLOCK_BYTES

SAMPLE = "Grüße aus Köln – “quoted” 世界 😀\nSecond line.\n"


def text_of(data: bytes, filename: str = "file.txt") -> str:
    return "".join(block.text for block in extract(data, filename))


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
    ],
)
def test_byte_order_marks(bom: bytes, encoding: str):
    assert text_of(bom + SAMPLE.encode(encoding)) == SAMPLE


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_wide_encodings_without_a_bom(encoding: str):
    text = "This is a plain English sentence without a byte order mark.\nAnd a second one, too.\n"
    assert text_of(text.encode(encoding)) == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("“Smart quotes” – an en dash, café, naïve, Straße, and 15,50 € in a Windows-1252 file.", "cp1252"),
        ("Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig. Dzień dobry, jak się masz?", "cp1250"),
        ("Příliš žluťoučký kůň úpěl ďábelské ódy. Dobrý den, jak se máte?", "cp1250"),
        ("Съешь же ещё этих мягких французских булок, да выпей чаю.", "cp1251"),
        ("Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.", "cp1253"),
        ("中华人民共和国是一个位于东亚的国家，首都北京。人口众多，历史悠久，文化灿烂。" * 2, "gb18030"),
        ("日本は東アジアに位置する島国です。首都は東京で、人口は約一億二千万人です。" * 2, "shift_jis"),
        ("대한민국은 동아시아에 위치한 민주공화국이다. 수도는 서울이며 인구는 약 오천만 명이다." * 2, "euc-kr"),
        ("臺灣位於東亞，首都是臺北市，人口約兩千三百萬人。" * 3, "big5"),
    ],
)
def test_legacy_encodings_are_detected(text: str, encoding: str):
    assert text_of(text.encode(encoding)) == text


def test_short_latin1_file_decodes_umlauts():
    assert text_of("## können\n\nkönnen\n\näöüß\n".encode("latin-1"), "notes.md") == "## können\n\nkönnen\n\näöüß\n"


def test_double_encoded_utf8_lines_are_repaired_and_correct_lines_left_alone():
    broken = "1986–1990 Watford — café".encode().decode("latin-1")  # the classic mojibake, C1 controls
    broken_1252 = "naïve “quote“".encode().decode("cp1252")  # "naÃ¯ve â€œquoteâ€œ"
    intact = "Ã is a letter; so is © a sign"
    data = f"{broken}\n{broken_1252}\n{intact}\n".encode()
    assert text_of(data) == f"1986–1990 Watford — café\nnaïve “quote“\n{intact}\n"


def test_nul_bytes_mean_binary_not_text():
    with pytest.raises(UnsupportedFormat, match="does not contain readable text"):
        list(extract(b"abc\x00\x01\x02def" * 100, "notes.txt"))


def test_large_text_is_decoded_in_blocks_that_end_at_line_breaks():
    line = "Ünïcödé line with some words in it, number {}.\n"
    text = "".join(line.format(i) for i in range(80_000))  # about 4 MiB
    blocks = list(extract(text.encode(), "big.txt"))
    assert len(blocks) >= 3
    assert all(isinstance(b, TextBlock) and b.text.endswith("\n") for b in blocks)
    assert "".join(b.text for b in blocks) == text


def test_large_text_in_a_legacy_encoding_and_one_endless_line():
    paragraph = (
        "L'été était très chaud cette année. J'ai acheté un café au lait pour 3,50 €. "
        "Die schöne Frau hat einen Kaffee mit Kuchen gegessen. El niño comió paella. "
    )
    text = paragraph * (3 * BLOCK_BYTES // len(paragraph))  # no line break anywhere
    assert text_of(text.encode("cp1252")) == text
    utf16 = ("Grüße 世界 " * (BLOCK_BYTES // 4)).encode("utf-16")
    assert text_of(utf16) == "Grüße 世界 " * (BLOCK_BYTES // 4)
