"""Choosing the extractor (extension and content) and what each format extractor gives a user."""

from __future__ import annotations

import io
import zipfile

import pytest
from parsing_helpers import FIXTURES, corpus_bytes, docx_paragraphs, make_ole2, make_pdf, make_xlsx

from kb_ingest.domain.parsing import (
    CorruptDocument,
    ParseError,
    PasswordProtected,
    UnsupportedFormat,
    count_tokens,
    extract,
    extract_rows,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


def text_of(data: bytes, filename: str, **kwargs) -> str:
    return "".join(block.text for block in extract(data, filename, **kwargs))


def failure(data: bytes, filename: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        list(extract(data, filename))
    return info.value


# --- choosing the extractor ------------------------------------------------------------------


def test_extension_is_case_insensitive():
    assert "20,000 bottles of water" in text_of(corpus_bytes("fake-memo.pdf"), "MEMO.PDF")
    assert "Lorem ipsum dolor sit amet." in text_of(corpus_bytes("fake.docx"), "Fake.DocX")


def test_content_wins_over_a_wrong_extension():
    assert "20,000 bottles of water" in text_of(corpus_bytes("fake-memo.pdf"), "memo.txt")
    assert "Lorem ipsum dolor sit amet." in text_of(corpus_bytes("fake.docx"), "download")
    assert "Tangerine | Pink | Aqua" in text_of(corpus_bytes("fake-power-point-table.pptx"), "slides.bin")
    assert "Team: Blues" in text_of(corpus_bytes("stanley-cups.xlsx"), "cups.docx")


@pytest.mark.parametrize(
    ("data", "filename"),
    [(PNG, "scan.png"), (JPEG, "photo.JPG"), (b"whatever", "picture.webp"), (b"II*\x00" + b"\x00" * 64, "fax.tiff"),
     (PNG, "scan.txt"), (JPEG, "noext")],
)  # fmt: skip
def test_damaged_images_fail_as_damaged(data: bytes, filename: str):
    error = failure(data, filename)
    assert isinstance(error, CorruptDocument)
    assert "image is damaged" in str(error)


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 32, "x.heic"),
    ],
)
def test_image_formats_ocr_cannot_read_say_which_it_can(data: bytes, filename: str):
    error = failure(data, filename)
    assert isinstance(error, UnsupportedFormat)
    assert "OCR reads JPEG, PNG, TIFF" in str(error)


def test_images_without_an_ocr_engine_say_ocr_is_missing(monkeypatch: pytest.MonkeyPatch):
    from kb_ingest.domain.parsing import ocr

    monkeypatch.setattr(ocr, "engine_for", lambda layout_recognize=None: None)
    png = (FIXTURES / "ocr" / "table-multi-row-column-cells.png").read_bytes()
    error = failure(png, "scan.png")
    assert isinstance(error, UnsupportedFormat)
    assert str(error) == "Images need OCR, which this deployment does not include."


@pytest.mark.parametrize(("data", "filename"), [(WAV, "talk.wav"), (b"ID3\x03" + b"\x00" * 64, "song.mp3"),
                                                 (b"x", "memo.m4a"), (b"OggS" + b"\x00" * 64, "voice.opus"),
                                                 (WAV, "recording.dat")])  # fmt: skip
def test_audio_needs_speech_recognition(data: bytes, filename: str):
    error = failure(data, filename)
    assert isinstance(error, UnsupportedFormat)
    assert "speech recognition" in str(error) and "does not include" in str(error)


def test_video_is_not_supported():
    error = failure(MP4, "clip.mp4")
    assert isinstance(error, UnsupportedFormat) and "OCR and speech recognition" in str(error)


def test_legacy_office_files_are_read_by_content_and_broken_containers_fail_as_damaged():
    # Content decides: a legacy Word file stays one under any name, and is never an empty success.
    assert text_of(corpus_bytes("fake.doc"), "fake.txt") == "Lorem ipsum dolor sit amet.\n"
    for stub, filename in [(make_ole2("PowerPoint Document"), "deck.ppt"), (make_ole2("__substg1.0_0037001F"), "mail.msg"),
                           (make_ole2("WordDocument"), "letter.doc")]:  # fmt: skip
        error = failure(stub, filename)
        assert isinstance(error, CorruptDocument) and "damaged" in str(error), filename
    assert text_of(b"{\\rtf1\\ansi Hello}", "letter.rtf") == "Hello\n"

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("notes/a.txt", "hello")
    assert "ZIP archives are not supported" in str(failure(archive.getvalue(), "bundle.zip"))

    odt = io.BytesIO()
    with zipfile.ZipFile(odt, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", "<office:document-content/>")
    assert "OpenDocument file is damaged" in str(failure(odt.getvalue(), "letter.odt"))


def test_encrypted_office_files_are_password_protected():
    for filename, kind in [("report.docx", "Word document"), ("deck.pptx", "PowerPoint presentation")]:
        error = failure(make_ole2("EncryptionInfo", "EncryptedPackage"), filename)
        assert isinstance(error, PasswordProtected)
        assert str(error) == f"This {kind} is password-protected; remove the password and upload it again."


def test_a_file_that_is_not_what_its_name_says_is_corrupt():
    assert isinstance(failure(b"just some words", "report.docx"), CorruptDocument)
    assert isinstance(failure(b"just some words", "report.pdf"), CorruptDocument)
    broken_zip = corpus_bytes("fake.docx")[:2000]
    assert isinstance(failure(broken_zip, "fake.docx"), CorruptDocument)


def test_unknown_extension_is_text_when_it_reads_as_text():
    assert text_of("Grüße aus Köln\nzweite Zeile\n".encode(), "notes.weird") == "Grüße aus Köln\nzweite Zeile\n"
    assert text_of(b"plain words", "README") == "plain words"
    assert text_of(b"<!DOCTYPE html><html><body><p>Hi <b>there</b></p></body></html>", "page") == "Hi there\n"


def test_binary_junk_is_unsupported():
    junk = bytes(range(256)) * 64
    error = failure(junk, "data.bin")
    assert isinstance(error, UnsupportedFormat) and "not in a format this deployment reads" in str(error)
    assert isinstance(failure(junk, "notes.txt"), UnsupportedFormat)
    assert isinstance(failure(b"MZ\x90\x00" + junk, "setup.exe"), UnsupportedFormat)


def test_extract_is_lazy_until_iterated():
    blocks = extract(PNG, "scan.png")  # nothing is read yet
    with pytest.raises(CorruptDocument):
        next(blocks)


# --- text and code ---------------------------------------------------------------------------


def test_code_and_config_files_are_text_as_written():
    source = b"def add(a, b):\n    return a + b  # sum\n"
    for name in ("add.py", "add.go", "add.ts", "Makefile", "settings.ini", "add.kt", "add.cs"):
        assert text_of(source, name) == source.decode()


def test_crlf_and_stray_control_characters_are_normalised():
    assert text_of(b"one\r\ntwo\rthree\x0cfour\x07\n", "a.txt") == "one\ntwo\nthree\nfour\n"


def test_markdown_keeps_code_blocks_and_tables():
    md = b"# Title\n\n```python\nprint('x')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert text_of(md, "readme.md") == md.decode()


# --- HTML ------------------------------------------------------------------------------------


def test_html_keeps_visible_text_only_with_blocks_on_their_own_lines():
    page = b"""<!DOCTYPE html><html><head><title>The Title</title><meta name="x" content="meta words">
    <style>body { color: red; }</style><script>var secret = function() { return 1; };</script></head>
    <body><noscript>Enable JS</noscript><template><p>template words</p></template>
    <h1>Heading</h1><p>First <b>bold</b> paragraph.</p><div hidden>hidden words</div>
    <p style="display: none">invisible words</p><ul><li>one</li><li>two</li></ul>
    <table><tr><th>Name</th><th>Age</th></tr><tr><td>Ada</td><td>36</td></tr></table>
    line<br>break<pre>  keep   spacing
  here</pre><!-- a comment --></body></html>"""
    text = text_of(page, "page.html")
    assert text.split("\n") == [
        "The Title", "Heading", "First bold paragraph.", "one", "two", "Name | Age", "Ada | 36",
        "line", "break", "  keep   spacing", "  here", "",
    ]  # fmt: skip
    for junk in ("secret", "color", "Enable JS", "template words", "hidden", "invisible", "meta words", "comment"):
        assert junk not in text


def test_html_encoding_from_meta_charset_and_detection():
    russian = "Москва является столицей Российской Федерации."
    page = f'<html><head><meta charset="windows-1251"></head><body><p>{russian}</p></body></html>'
    assert text_of(page.encode("cp1251"), "ru.html") == russian + "\n"
    # Declared Latin-1 is read as Windows-1252, as browsers do: its curly quotes survive.
    quoted = "“Quoted” – naïve café"
    page = f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head><p>{quoted}</p>'
    assert text_of(page.encode("cp1252"), "q.htm") == quoted + "\n"
    # No declaration at all: detected, on the page's text rather than its markup.
    sentence = f"{quoted} – déjà vu, señor, Müller’s Straße."
    page = f"<html><body><p>{sentence}</p></body></html>"
    assert text_of(page.encode("cp1252"), "q.html") == sentence + "\n"


# --- XML / JSON / YAML -----------------------------------------------------------------------


def test_xml_is_read_without_resolving_external_entities(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    xml = f"""<?xml version="1.0"?>
<!DOCTYPE note [<!ENTITY xxe SYSTEM "file://{secret}">]>
<note><to>Tove</to><body>&xxe; Remember me</body></note>""".encode()
    text = text_of(xml, "note.xml")
    assert "to: Tove" in text and "Remember me" in text
    assert "TOP-SECRET-CONTENT" not in text


def test_xml_entity_expansion_bomb_is_not_expanded():
    entities = '<!ENTITY a0 "ha">' + "".join(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    xml = f'<?xml version="1.0"?><!DOCTYPE bomb [{entities}]><bomb>&a9;</bomb>'.encode()
    assert len(text_of(xml, "bomb.xml")) < 1000


def test_xml_attributes_are_kept():
    text = text_of(b'<items><item id="7" colour="red">Apple</item></items>', "items.xml")
    assert "item (id: 7; colour: red): Apple" in text


def test_json_flattens_to_path_value_lines_and_bad_json_stays_text():
    data = b'{"title": "Guide", "tags": ["a", "b"], "author": {"name": "Ada", "age": 36}, "draft": false, "x": null}'
    assert text_of(data, "doc.json").splitlines() == [
        "title: Guide", "tags[0]: a", "tags[1]: b", "author.name: Ada", "author.age: 36", "draft: false", "x: null",
    ]  # fmt: skip
    assert text_of(b'{"unterminated": "still readable', "broken.json") == '{"unterminated": "still readable\n'
    assert text_of(b'{"a": 1}\n{"a": 2}\n', "log.jsonl").splitlines() == ["[0].a: 1", "[1].a: 2"]


def test_yaml_alias_bomb_is_refused():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        previous = chr(ord("a") + i - 1)
        name = chr(ord("a") + i)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    with pytest.raises(ParseError, match="more than 2,000,000 values"):
        list(extract("\n".join(lines).encode(), "bomb.yaml"))


def test_invalid_yaml_stays_text():
    assert text_of(b"key: [unclosed\nsecond line", "bad.yml") == "key: [unclosed\nsecond line\n"


def test_yaml_never_constructs_python_objects():
    text = text_of(b"!!python/object/apply:os.system ['echo hacked']", "evil.yaml")
    assert "echo hacked" in text  # read as text, not executed


# --- e-mail ----------------------------------------------------------------------------------


def test_html_only_email_becomes_text_and_encoded_headers_are_decoded():
    message = (
        b"From: =?utf-8?q?Ren=C3=A9e_M=C3=BCller?= <renee@example.com>\r\n"
        b"To: team@example.com\r\nSubject: =?utf-8?b?UHLDvGZ1bmcg4pyU?=\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        b"--XX\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><body><p>Hello <b>team</b>,</p><script>alert(1)</script><p>see the report.</p></body></html>\r\n"
        b"--XX\r\nContent-Type: application/pdf; name=report.pdf\r\n"
        b"Content-Disposition: attachment; filename=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"JVBERi0xLjQK\r\n--XX--\r\n"
    )
    text = text_of(message, "mail.eml")
    assert "Subject: Prüfung ✔" in text
    assert "From: Renée Müller <renee@example.com>" in text
    assert "Hello team,\nsee the report." in text
    assert "Attachment: report.pdf" in text
    assert "<p>" not in text and "alert" not in text


# --- Office ----------------------------------------------------------------------------------


def test_docx_keeps_document_order_of_paragraphs_and_tables():
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    from parsing_helpers import make_docx

    body = (
        "<w:p><w:r><w:t>Before the table</w:t></w:r></w:p>"
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>A1</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>B1</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
        "<w:p><w:r><w:t>After</w:t></w:r><w:r><w:delText>deleted words</w:delText></w:r>"
        '<w:r><w:t xml:space="preserve"> the table</w:t></w:r></w:p>'
        "<w:sdt><w:sdtContent><w:p><w:r><w:t>Inside a content control</w:t></w:r></w:p></w:sdtContent></w:sdt>"
    )
    data = make_docx(f'<w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>'.encode())
    assert text_of(data, "order.docx") == (
        "Before the table\n<table>\n<tr><td>A1</td><td>B1</td></tr>\n</table>\nAfter the table\nInside a content control\n"
    )
    assert [block.kind for block in extract(data, "order.docx")] == ["text", "table", "text"]


def test_docx_tables_are_table_blocks_and_table_chunks_as_ragflow_renders_them():
    from kb_ingest.domain.parsing import chunk_document

    data = corpus_bytes("docx-tables.docx")
    blocks = list(extract(data, "docx-tables.docx"))
    assert [block.kind for block in blocks] == ["text", "table", "text", "table", "text", "table"]
    simple, nested, merged = (block.table for block in blocks if block.kind == "table")
    assert simple is not None and simple.cell_texts() == [
        ["Header Col 1", "Header Col 2"],
        ["Lorem ipsum", "A link example"],
    ]
    # A table nested in a cell is read into that cell, a row per line.
    assert nested is not None and nested.cell_texts()[1] == ["d", "e | f g&t | h", "i"]
    # Merged cells appear once, where they start, with their spans (Word's gridSpan and vMerge).
    assert merged is not None and merged.cell_texts() == [["a", "b"], ["c", "d"], ["e"]]
    assert [(cell.colspan, cell.rowspan) for cell in merged.rows[0]] == [(1, 2), (2, 1)]
    # Every cell a <td>, as RAGFlow's DOCX parser writes tables; each table is one chunk of its own.
    chunks = list(chunk_document(data, "docx-tables.docx", "naive", {"chunk_token_num": 512}).chunks)
    assert [chunk.kind for chunk in chunks] == ["text", "table", "text", "table", "text", "table"]
    assert (
        chunks[1].text
        == "<table>\n<tr><td>Header Col 1</td><td>Header Col 2</td></tr>\n<tr><td>Lorem ipsum</td><td>A link example</td></tr>\n</table>"
    )
    assert "<td rowspan=2>a</td><td colspan=2>b</td>" in chunks[5].text
    assert all(chunk.token_count == count_tokens(chunk.text) for chunk in chunks)


def test_generated_docx_reads():
    assert text_of(docx_paragraphs("Hello", "World"), "hello.docx") == "Hello\nWorld\n"


# --- spreadsheets ----------------------------------------------------------------------------


def test_xlsx_values_are_formatted_as_a_user_sees_them():
    import datetime as dt

    data = make_xlsx(
        {"People": [["Name", "Born", "Active", "Score", "Note"], ["Ada", dt.datetime(1815, 12, 10), True, 9.5, None],
                    ["Alan", dt.datetime(1912, 6, 23, 14, 30), False, 10, "multi\nline"]]}
    )  # fmt: skip
    assert text_of(data, "people.xlsx").splitlines() == [
        "Name: Ada; Born: 1815-12-10; Active: TRUE; Score: 9.5",
        "Name: Alan; Born: 1912-06-23 14:30:00; Active: FALSE; Score: 10; Note: multi line",
    ]


def test_xlsx_rows_are_openpyxls_read_only_rows_for_irregular_sheets():
    """Rows left out, rows and cells without a reference, a row number repeated or going back,
    inline and shared strings, booleans and errors: as openpyxl's read-only iter_rows reads them."""
    import openpyxl

    from kb_ingest.domain.parsing import sniff
    from kb_ingest.domain.parsing._sheets import cell_text, raw_sheets
    from kb_ingest.domain.parsing.model import ExtractLimits

    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    sheet = (
        f'<worksheet xmlns="{ns}"><sheetData>'
        '<row r="2"><c r="B2" t="s"><v>0</v></c><c r="D2" t="inlineStr"><is><t>inline</t></is></c></row>'
        '<row><c t="b"><v>1</v></c><c t="e"><v>#DIV/0!</v></c><c><v>2.50</v></c></row>'
        '<row r="2"><c r="A2"><v>9</v></c></row>'
        '<row r="6" spans="1:3"/>'
        '<row r="8"><c r="C8" t="str"><v>text</v></c><c r="A8"><v>1</v></c></row>'
        "</sheetData></worksheet>"
    )
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="xml" ContentType="application/xml"/><Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.sharedStrings+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="r1" Type="{rels}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{ns}" xmlns:r="{rels}"><sheets><sheet name="Odd" sheetId="1" '
        'r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{rels}/worksheet" Target="worksheets/sheet1.xml"/>'
        "</Relationships>",
        "xl/sharedStrings.xml": f'<sst xmlns="{ns}"><si><r><t>rich </t></r><r><t>text</t></r></si></sst>',
        "xl/worksheets/sheet1.xml": sheet,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    data = buffer.getvalue()

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    expected = []
    for worksheet in workbook.worksheets:
        worksheet.reset_dimensions()
        expected.append((worksheet.title, list(worksheet.iter_rows(min_row=1, min_col=1, values_only=True))))
    workbook.close()
    count, sheets = raw_sheets(data, sniff.XLSX, ExtractLimits())
    got = [(title, [cells for _, cells in rows]) for title, rows in sheets]
    assert count == 1
    assert got == [(title, [[cell_text(v) for v in values] for values in rows]) for title, rows in expected]
    assert got[0][1][:3] == [[], ["", "rich text", "", "inline"], ["TRUE", "#DIV/0!", "2.5"]]


def test_rows_with_their_header_titles_and_merged_headers():
    csv_text = "Quarterly report,,,\n\nRegion,Sales,,Notes\nNorth,10,12,ok\nSouth,,7\n,,,\nTotal,17,,,extra\n"
    rows = list(extract_rows(csv_text.encode(), "report.csv"))
    assert [(r.kind, r.text) for r in rows] == [
        ("title", "Quarterly report"),
        ("header", ""),
        # The unnamed column belongs to "Sales", as a header merged over two columns does.
        ("data", "Region: North; Sales: 10, 12; Notes: ok"),
        ("data", "Region: South; Sales: 7"),
        # After an empty row the table goes on (no new title); a cell beyond the header is numbered.
        ("data", "Region: Total; Sales: 17; Column 5: extra"),
    ]
    assert rows[2].header == ("Region", "Sales", "", "Notes")
    assert [r.index for r in rows] == [1, 3, 4, 5, 7]
    assert all(r.page is None and r.sheet == 1 for r in rows)


def test_single_column_csv_is_a_table_not_titles():
    data = b"Name\nAda\nAlan\nGrace\nEdsger\nBarbara\nDonald\n"
    rows = list(extract_rows(data, "names.csv"))
    assert [r.text for r in rows if r.kind == "data"] == [
        "Name: Ada", "Name: Alan", "Name: Grace", "Name: Edsger", "Name: Barbara", "Name: Donald",
    ]  # fmt: skip


def test_csv_delimiters_are_sniffed_and_huge_fields_allowed():
    assert text_of(b"a;b;c\n1;2;3\n", "semi.csv") == "a: 1; b: 2; c: 3\n"
    assert text_of(b"a\tb\n1\t2\n", "tabs.tsv") == "a: 1; b: 2\n"
    assert text_of(b"a|b\n1|2\n", "bars.csv") == "a: 1; b: 2\n"
    big = "x" * 300_000
    assert text_of(f'k,v\none,"{big}"\n'.encode(), "big.csv") == f"k: one; v: {big}\n"
    assert text_of(b'k,v\n"quoted, comma","line\nbreak"\n', "q.csv") == "k: quoted, comma; v: line break\n"


def test_extract_rows_offsets_point_into_the_extracted_text():
    for name in ("vodafone.xlsx", "stanley-cups.xlsx", "stanley-cups.csv", "semicolon-delimited.csv"):
        data = corpus_bytes(name)
        text = "".join(b.text for b in extract(data, name))
        rows = [r for r in extract_rows(data, name) if r.text]
        assert rows
        for row in rows:
            assert text[row.offset : row.offset + len(row.text) + 1] == row.text + "\n"


def test_extract_rows_refuses_documents_that_are_not_tables():
    with pytest.raises(UnsupportedFormat, match="can be read as rows"):
        list(extract_rows(corpus_bytes("fake-memo.pdf"), "fake-memo.pdf"))


# --- PDF -------------------------------------------------------------------------------------


def test_pdf_pages_ranges_are_honoured():
    data = make_pdf(["Page one", "Page two", "Page three", "Page four"])
    assert [(b.page, b.text) for b in extract(data, "p.pdf", pages=[[2, 3]])] == [
        (2, "Page two\n"),
        (3, "Page three\n"),
    ]
    assert [b.page for b in extract(data, "p.pdf", pages=[[4, 4], [1, 1], [3, 100]])] == [1, 3, 4]
    assert list(extract(data, "p.pdf", pages=[[7, 9]])) == []
    blocks = list(extract(corpus_bytes("multi-column-2p.pdf"), "x.pdf", pages=[[2, 2]]))
    assert {b.page for b in blocks} == {2}
    assert blocks[0].text.startswith("QA datasets, it also suffers from two weaknesses.")


def test_truncated_or_garbled_pdf_is_corrupt():
    memo = corpus_bytes("fake-memo.pdf")
    for data in (memo[: len(memo) // 2], memo[:100], b"%PDF-1.7\n" + bytes(range(256)) * 20):
        error = failure(data, "memo.pdf")
        assert isinstance(error, CorruptDocument)
        assert str(error).startswith("This PDF is damaged or incomplete")


def test_pdf_text_cleanup_expands_ligatures_spaces_and_line_end_hyphens():
    from kb_ingest.domain.parsing._pdf import clean_page

    assert clean_page("Uni\ufb01ed  spaced\ttext and ef-\nficient") == "Unified spaced text and efficient"


def test_self_referencing_yaml_is_refused():
    with pytest.raises(ParseError, match="more than"):
        list(extract(b"a: &a [1, *a]\n", "loop.yaml"))


def test_yaml_with_shared_anchors_within_the_limit_reads():
    text = text_of(b"base: &b {x: 1, y: 2}\none: *b\ntwo: *b\n", "anchors.yaml")
    assert text.splitlines() == ["base.x: 1", "base.y: 2", "one.x: 1", "one.y: 2", "two.x: 1", "two.y: 2"]
