"""The benchmark's documents, generated (deterministically) in the run: nothing is downloaded.

- `mixed_text(n_bytes)`: paragraphs of English, Chinese, Korean and Python code, interleaved.
- `pdf(pages)`: a PDF written by hand (one content stream of text per page, Helvetica).
- `docx(paragraphs)`: python-docx headings, paragraphs and tables.
- `xlsx(rows)`: an openpyxl write-only workbook with a header row and `rows` data rows.
- `small_texts(n)`: many small text files for the parse-everything run.
"""

from __future__ import annotations

import io
import random
import zlib

_WORDS = (
    "the a of to and in is for on with as by at from that this data model chunk token parse document "
    "serverless function queue table index bucket request response latency throughput memory page "
    "knowledge base retrieval embedding vector search answer question user client server cloud region "
    "quickly carefully every each some many few system process result value error retry limit"
)
_ENGLISH = _WORDS.split(" ")
# Common hanzi; Chinese sentences end with 。 and clauses with ，
_HANZI = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"
    "而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性"
    "好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第"
    "向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特"
    "件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南"
)
_CJK_PUNCT = "，，，、"


def _english_paragraph(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(2, 6)):
        words = [rng.choice(_ENGLISH) for _ in range(rng.randint(6, 24))]
        words[0] = words[0].capitalize()
        sentences.append(" ".join(words) + rng.choice([".", ".", ".", "?", "!"]))
    return " ".join(sentences)


def _chinese_paragraph(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(2, 6)):
        clauses = ["".join(rng.choice(_HANZI) for _ in range(rng.randint(4, 14))) for _ in range(rng.randint(1, 4))]
        sentences.append(rng.choice(_CJK_PUNCT).join(clauses) + rng.choice("。。。！？；"))
    return "".join(sentences)


def _korean_word(rng: random.Random) -> str:
    return "".join(chr(0xAC00 + rng.randrange(11172)) for _ in range(rng.randint(1, 4)))


def _korean_paragraph(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(2, 6)):
        words = [_korean_word(rng) for _ in range(rng.randint(4, 12))]
        sentences.append(" ".join(words) + rng.choice(["다.", "요.", "까?", "다!"]))
    return " ".join(sentences)


def _code_paragraph(rng: random.Random) -> str:
    name = "_".join(rng.choice(_ENGLISH) for _ in range(2))
    args = ", ".join(rng.sample(["data", "page", "limit", "offset", "client", "table", "key"], k=rng.randint(1, 3)))
    body = []
    for index in range(rng.randint(2, 8)):
        body.append(f"    value_{index} = {rng.choice(_ENGLISH)}_{index}({args}) + {rng.randint(0, 9999)}")
    body.append("    return " + " + ".join(f"value_{i}" for i in range(min(3, len(body)))))
    return f"def {name}({args}):\n" + "\n".join(body)


_KINDS = (_english_paragraph, _chinese_paragraph, _korean_paragraph, _code_paragraph)


def mixed_text(n_bytes: int, seed: int = 1) -> bytes:
    """About `n_bytes` of UTF-8 text: English, Chinese, Korean and code paragraphs, shuffled."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < n_bytes:
        paragraph = rng.choice(_KINDS)(rng) + "\n\n"
        parts.append(paragraph)
        size += len(paragraph.encode())
    return "".join(parts).encode()


def small_texts(count: int, n_bytes: int = 2048, seed: int = 7) -> list[bytes]:
    return [mixed_text(n_bytes, seed + index) for index in range(count)]


# ---------------------------------------------------------------- PDF
def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf(pages: int, lines_per_page: int = 45, seed: int = 3) -> bytes:
    """A valid PDF 1.4 with `pages` pages of English text (compressed content streams)."""
    rng = random.Random(seed)
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled once the page tree exists
    tree = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for number in range(1, pages + 1):
        lines = [f"Page {number}"]
        while len(lines) < lines_per_page:
            words = [rng.choice(_ENGLISH) for _ in range(rng.randint(8, 14))]
            lines.append(" ".join(words).capitalize() + ".")
        text = "BT /F1 10 Tf 12 TL 50 790 Td\n" + "\n".join(f"({_pdf_escape(line)}) Tj T*" for line in lines) + "\nET"
        stream = zlib.compress(text.encode("latin-1"))
        content = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> "
                b"/Contents %d 0 R >>" % (tree, font, content)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref))
    return out.getvalue()


# ---------------------------------------------------------------- DOCX and XLSX
def docx(paragraphs: int, seed: int = 5) -> bytes:
    """Headings every 50 paragraphs, mixed-language paragraphs, a 12x5 table every 100."""
    from docx import Document

    rng = random.Random(seed)
    document = Document()
    for index in range(paragraphs):
        if index % 50 == 0:
            document.add_heading(f"Section {index // 50 + 1}: {_english_paragraph(rng)[:60]}", level=1)
        kind = _KINDS[index % 3]  # no code in a word document
        document.add_paragraph(kind(rng))
        if index % 100 == 99:
            table = document.add_table(rows=12, cols=5)
            for row in table.rows:
                for cell in row.cells:
                    cell.text = " ".join(rng.choice(_ENGLISH) for _ in range(rng.randint(1, 4)))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx(rows: int, seed: int = 9) -> bytes:
    """One sheet: a header and `rows` rows of six columns (ids, names, cities, numbers, dates, notes)."""
    from openpyxl import Workbook

    rng = random.Random(seed)
    cities = ["Paris", "Seoul", "北京", "São Paulo", "Lagos", "Toronto", "Sydney", "Mumbai"]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("orders")
    sheet.append(["order_id", "customer", "city", "amount", "date", "note"])
    for index in range(rows):
        sheet.append(
            [
                index + 1,
                f"{rng.choice(_ENGLISH).capitalize()} {rng.choice(_ENGLISH).capitalize()}",
                rng.choice(cities),
                round(rng.uniform(1, 10_000), 2),
                f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                " ".join(rng.choice(_ENGLISH) for _ in range(rng.randint(0, 8))),
            ]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
