"""RTF, OpenDocument, EPUB, Outlook .msg, Word .doc, PowerPoint .ppt, UTF-16 e-mails and what
HTML shows besides its text (files from Unstructured's example-docs, Apache 2.0)."""

from __future__ import annotations

import pytest
from parsing_helpers import FIXTURES, corpus_bytes

from kb_ingest.domain.parsing import CorruptDocument, extract

FORMATS = FIXTURES / "formats"


def blocks_of(name: str, data: bytes | None = None):
    return list(extract(data if data is not None else (FORMATS / name).read_bytes(), name))


def text_of(name: str, data: bytes | None = None) -> str:
    return "".join(b.text for b in blocks_of(name, data))


def test_rtf_reads_as_paragraphs():
    text = text_of("fake-doc.rtf")
    assert "My First Heading" in text and "My first paragraph." in text and "Row 2, Cell 2" in text
    assert "\\" not in text and "{" not in text  # no RTF control words left


def test_odt_keeps_its_table_as_a_table():
    blocks = blocks_of("fake.odt")
    assert blocks[0].text == "Lorem ipsum dolor sit amet.\n"
    (table,) = [b for b in blocks if b.kind == "table"]
    assert table.table is not None
    assert table.table.cell_texts()[0] == ["Header row", "Mon", "Wed", "Fri"]
    assert table.text.startswith("<table>\n<caption>Table1</caption>\n<tr><th>Header row</th>")


def test_odt_headings_and_list_items_say_what_they_are():
    kinds = {(b.kind, b.text.strip()) for b in blocks_of("simple.odt")}
    assert ("list_item", "• Parrots") in kinds or any(kind == "list_item" for kind, _ in kinds)
    assert any(kind == "heading" for kind, _ in kinds)


def test_epub_chapters_in_spine_order():
    blocks = blocks_of("winter-sports.epub")
    text = "".join(b.text for b in blocks)
    assert "Winter Sports in Switzerland" in text
    assert [b.page for b in blocks] == sorted(b.page for b in blocks)
    assert "<p" not in text and "xmlns" not in text


def test_msg_headers_body_and_attachment_text():
    blocks = blocks_of("fake-email-attachment.msg")
    text = "".join(b.text for b in blocks)
    assert "Subject: Fake email with attachment" in text and "Here's the attachments!" in text
    assert blocks[0].kind == "metadata"
    attached = [b for b in blocks if b.source == "fake-attachment.txt"]
    assert "Hey this is a fake attachment!" in "".join(b.text for b in attached)


def test_legacy_word_doc_reads():
    assert text_of("fake.doc", corpus_bytes("fake.doc")) == "Lorem ipsum dolor sit amet.\n"


def test_legacy_powerpoint_reads_slide_text():
    blocks = blocks_of("fake-power-point.ppt")
    assert blocks[0].page == 1
    assert "Adding a Bullet Slide" in blocks[0].text and "Here is some text in a text box!" in blocks[0].text
    assert "Click to edit Master" not in "".join(b.text for b in blocks)


def test_utf16_email_is_decoded_not_raw_mime():
    text = text_of("fake-email-utf-16-le.eml")
    assert text.startswith("Subject: Test Email\nFrom: Matthew Robinson")
    assert "Roses are red" in text and "Content-Type" not in text and "\x00" not in text


def test_eml_attachments_are_parsed_into_the_mail():
    blocks = blocks_of("fake-email-attachment.eml", corpus_bytes("fake-email-attachment.eml"))
    assert [b.text for b in blocks if b.source == "fake-attachment.txt"] == [
        "\nAttachment: fake-attachment.txt\n",
        "Hey this is a fake attachment!\n",
    ]


def test_an_unreadable_attachment_is_named_with_the_reason():
    mail = (
        b"Subject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\n"
        b"Body\n--B\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=broken.pdf\n"
        b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQKZ2FyYmFnZQ==\n--B--\n"
    )
    text = text_of("m.eml", mail)
    assert "Body" in text and "Attachment: broken.pdf (not read: This PDF is damaged" in text


def test_html_keeps_alt_text_form_values_and_chosen_options():
    html = (
        b"<html><body><p>Logo: <img src='a.png' alt='ACME Corporation'></p>"
        b"<form><input type='text' value='Jane Doe'><input type='hidden' value='secret-token'>"
        b"<input type='submit' value='Send'><select><option>Red</option><option selected>Blue</option></select>"
        b"<button>Click me</button></form></body></html>"
    )
    text = text_of("page.html", html)
    for seen in ("ACME Corporation", "Jane Doe", "Send", "Blue", "Click me"):
        assert seen in text
    assert "secret-token" not in text and "Red" not in text


def test_a_renamed_file_with_an_office_extension_is_damaged():
    with pytest.raises(CorruptDocument):
        blocks_of("mail.msg", b"not an outlook message at all")
