"""Which extractor reads a file: by its extension and by sniffing its first bytes (stdlib only).

Content wins over the name where the content is unambiguous (a PDF named ``.txt`` is read as a
PDF, an encrypted OOXML file is an OLE2 container whatever it is called); the extension decides
between the text formats, which cannot be told apart reliably by content.
"""

from __future__ import annotations

import io
import zipfile

from .errors import (
    IMAGE_NOT_READ,
    LEGACY_DOC,
    LEGACY_PPT,
    SPEECH_NOT_INCLUDED,
    VIDEO_NOT_SUPPORTED,
    CorruptDocument,
    PasswordProtected,
    UnsupportedFormat,
    damaged_message,
    password_message,
)

# The kinds ``extract`` dispatches on.
TEXT = "text"
MARKDOWN = "markdown"
HTML = "html"
XML = "xml"
JSON = "json"
JSONL = "jsonl"
YAML = "yaml"
CSV = "csv"
TSV = "tsv"
XLSX = "xlsx"
XLS = "xls"
DOCX = "docx"
PPTX = "pptx"
PDF = "pdf"
EML = "eml"
IMAGE = "image"  # read by OCR

SPREADSHEET_KINDS = frozenset({CSV, TSV, XLSX, XLS})

_CODE_AND_TEXT = {
    # prose
    "txt", "text", "rst", "adoc", "asciidoc", "org", "tex", "log", "nfo", "srt", "vtt",
    # code
    "py", "pyi", "pyw", "js", "mjs", "cjs", "jsx", "ts", "tsx", "java", "c", "cc", "cpp", "cxx", "h",
    "hh", "hpp", "hxx", "php", "go", "rs", "rb", "sh", "bash", "zsh", "fish", "ps1", "bat", "cmd",
    "cs", "kt", "kts", "swift", "scala", "sql", "r", "m", "mm", "pl", "pm", "lua", "dart", "groovy",
    "gradle", "vue", "svelte", "css", "scss", "sass", "less", "proto", "graphql", "tf", "hcl",
    # configuration
    "ini", "cfg", "conf", "toml", "properties", "env", "editorconfig", "gitignore", "dockerfile",
    "makefile", "mk", "cmake",
}  # fmt: skip

EXTENSION_KINDS: dict[str, str] = {ext: TEXT for ext in _CODE_AND_TEXT}
EXTENSION_KINDS.update(
    {
        "md": MARKDOWN, "markdown": MARKDOWN, "mdx": MARKDOWN, "mdown": MARKDOWN, "mkd": MARKDOWN,
        "html": HTML, "htm": HTML, "xhtml": HTML, "shtml": HTML, "mhtml": HTML,
        "xml": XML, "rss": XML, "atom": XML, "xsd": XML, "xsl": XML, "xslt": XML, "plist": XML,
        "json": JSON, "geojson": JSON, "ipynb": JSON, "jsonl": JSONL, "ndjson": JSONL,
        "yaml": YAML, "yml": YAML,
        "csv": CSV, "tsv": TSV, "tab": TSV,
        "xlsx": XLSX, "xlsm": XLSX, "xltx": XLSX, "xltm": XLSX, "xls": XLS,
        "docx": DOCX, "docm": DOCX, "dotx": DOCX, "dotm": DOCX,
        "pptx": PPTX, "pptm": PPTX, "ppsx": PPTX, "potx": PPTX,
        "pdf": PDF,
        "eml": EML,
    }
)  # fmt: skip

# Images that OCR reads (what Pillow decodes); the other image types are refused.
OCR_IMAGE_EXTENSIONS = frozenset(["jpg", "jpeg", "jpe", "jfif", "png", "gif", "tif", "tiff", "bmp", "dib", "webp"])
IMAGE_EXTENSIONS = frozenset(
    [
        "jpg",
        "jpeg",
        "jpe",
        "jfif",
        "png",
        "gif",
        "tif",
        "tiff",
        "bmp",
        "dib",
        "svg",
        "svgz",
        "webp",
        "ico",
        "icns",
        "heic",
        "heif",
        "avif",
        "psd",
        "raw",
        "cr2",
        "nef",
        "arw",
        "dng",
        "jp2",
        "j2k",
        "tga",
        "pcx",
        "ppm",
        "pgm",
        "pbm",
        "eps",
    ]
)
VIDEO_EXTENSIONS = frozenset(
    ["mp4", "m4v", "mov", "avi", "mkv", "webm", "wmv", "flv", "mpeg", "mpg", "3gp", "3g2", "ogv", "ts_video", "vob"]
)
AUDIO_EXTENSIONS = frozenset(
    ["wav", "flac", "mp3", "aac", "ogg", "oga", "opus", "m4a", "wma", "aiff", "aif", "amr", "mid", "midi", "ape"]
)

SUPPORTED_SUMMARY = (
    "PDF, Word .docx, Excel .xlsx/.xls, PowerPoint .pptx, CSV, HTML, Markdown, plain text and code, "
    "JSON, YAML, XML and .eml e-mails"
)

_WHAT = {
    DOCX: "This Word document",
    XLSX: "This Excel workbook",
    XLS: "This Excel workbook",
    PPTX: "This PowerPoint presentation",
    PDF: "This PDF",
}


def extension(filename: str) -> str:
    """The lower-cased extension without its dot; a bare ``Makefile`` or ``Dockerfile`` is its name."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip().lower()
    if "." not in name.lstrip("."):
        return name if name in ("makefile", "dockerfile") else ""
    return name.rsplit(".", 1)[-1]


def what(kind_or_ext: str) -> str:
    """``"This Word document"``, ``"This PDF"``, ... for messages."""
    kind = EXTENSION_KINDS.get(kind_or_ext, kind_or_ext)
    return _WHAT.get(kind, "This file")


# Second byte of an MPEG audio frame header (MP3 layer III, v1/v2) or an ADTS AAC header; not 0xFE,
# which starts a UTF-16 byte-order mark.
_MPEG_AUDIO_SYNC = frozenset({0xFB, 0xFA, 0xF3, 0xF2, 0xE3, 0xE2, 0xF1, 0xF9})


def sniff_magic(data: bytes) -> str | None:
    """The container a file's first bytes announce, or ``None`` when they announce nothing."""
    head = data[:64]
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return None  # a byte-order mark: text
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole2"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if (
        head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"8BPS"))
        or head.startswith((b"II*\x00", b"MM\x00*", b"\x00\x00\x01\x00\x01\x00", b"\xff\x4f\xff\x51"))
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or (head[:2] == b"BM" and len(data) >= 26 and int.from_bytes(head[2:6], "little") == len(data))
    ):
        return "image"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"):
            return "image"
        if brand in (b"M4A ", b"M4B ", b"M4P ", b"F4A "):
            return "audio"
        return "video"
    if (
        (head[:4] == b"RIFF" and head[8:12] == b"WAVE")
        or (head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"))
        or head.startswith((b"fLaC", b"ID3", b"OggS", b"#!AMR", b"MThd", b"MAC "))
        or (len(head) > 2 and head[0] == 0xFF and head[1] in _MPEG_AUDIO_SYNC)
    ):
        return "audio"
    if (
        (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
        or head.startswith((b"\x1a\x45\xdf\xa3", b"FLV\x01", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"))
        or head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11")
    ):
        return "video"
    if (
        head.startswith((b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd"))
        or (head.startswith(b"BZh") and head[4:10] == b"1AY&SY")
        or data[257:262] == b"ustar"
    ):
        return "archive"
    if head.startswith((b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"\x00asm")):
        return "executable"
    return None


def detect_format(data: bytes, filename: str) -> str:
    """The kind of extractor for ``data``; raises ``ParseError`` for what cannot be read.

    Raises ``UnsupportedFormat`` (images, audio, video, legacy Office, archives, binary junk),
    ``PasswordProtected`` (encrypted Office files) or ``CorruptDocument`` (a file whose name
    promises a format its content does not have).
    """
    ext = extension(filename)
    magic = sniff_magic(data)
    if ext in OCR_IMAGE_EXTENSIONS and magic in ("image", None) and data:
        return IMAGE  # Pillow decides; a file that is no image fails as damaged
    if ext in IMAGE_EXTENSIONS:
        raise UnsupportedFormat(IMAGE_NOT_READ)
    if ext in VIDEO_EXTENSIONS:
        raise UnsupportedFormat(VIDEO_NOT_SUPPORTED)
    if ext in AUDIO_EXTENSIONS:
        raise UnsupportedFormat(SPEECH_NOT_INCLUDED)

    if magic == "pdf":
        return PDF
    if magic == "zip":
        return _zip_kind(data, ext)
    if magic == "ole2":
        return _ole2_kind(data, ext)
    if magic == "image":
        return IMAGE if _readable_image(data) else _refuse_image()
    if magic == "audio":
        raise UnsupportedFormat(SPEECH_NOT_INCLUDED)
    if magic == "video":
        raise UnsupportedFormat(VIDEO_NOT_SUPPORTED)
    if magic == "archive":
        raise UnsupportedFormat("Compressed archives are not supported; unpack it and upload the documents inside.")
    if magic == "rtf":
        raise UnsupportedFormat("RTF files are not supported; save it as .docx or PDF.")
    if magic == "executable":
        raise UnsupportedFormat(f"This is a program, not a document. Supported formats: {SUPPORTED_SUMMARY}.")

    kind = EXTENSION_KINDS.get(ext)
    if not data:
        return kind if kind in (TEXT, MARKDOWN, HTML, XML, JSON, JSONL, YAML, CSV, TSV, EML) else TEXT
    if kind == PDF:
        if b"%PDF-" in data[:1024]:  # the PDF specification tolerates junk before the header
            return PDF
        raise CorruptDocument("This file is named .pdf but does not contain a PDF; it is damaged or was renamed.")
    if kind in (DOCX, XLSX, PPTX):
        raise CorruptDocument(
            f"{what(kind)} is damaged or is not really a .{ext} file; open and save it again, then upload it."
        )
    if ext in ("doc", "dot", "wps"):
        if _looks_like_text(data):  # Word can save web pages and plain text under .doc
            return HTML if _looks_like_html(data) else TEXT
        raise UnsupportedFormat(LEGACY_DOC)
    if ext in ("ppt", "pps", "pot"):
        raise UnsupportedFormat(LEGACY_PPT)
    if kind == XLS:
        if _looks_like_text(data):  # many "xls" exports are HTML tables or tab-separated text
            return HTML if _looks_like_html(data) else CSV
        raise CorruptDocument(damaged_message(what(XLS)))
    if ext == "msg":
        raise UnsupportedFormat("Outlook .msg files are not supported; save the e-mail as .eml.")
    if kind is not None:
        return kind
    # Unknown or missing extension: text if it reads as text.
    if not _looks_like_text(data):
        raise UnsupportedFormat(f"This file is not in a format this deployment reads ({SUPPORTED_SUMMARY}).")
    if _looks_like_html(data):
        return HTML
    if data.lstrip()[:5].lower() == b"<?xml":
        return XML
    return TEXT


def _readable_image(data: bytes) -> bool:
    head = data[:16]
    return not head.startswith(b"8BPS") and head[4:8] != b"ftyp"  # Photoshop, HEIC and AVIF: no OCR here


def _refuse_image() -> str:
    raise UnsupportedFormat(IMAGE_NOT_READ)


def _zip_kind(data: bytes, ext: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            mimetype = b""
            if "mimetype" in names and zf.getinfo("mimetype").file_size < 200:
                mimetype = zf.read("mimetype")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise CorruptDocument(damaged_message(what(ext) if ext in EXTENSION_KINDS else "This archive")) from exc
    prefixes = {name.split("/", 1)[0] for name in names if "/" in name}
    if "word" in prefixes:
        return DOCX
    if "xl" in prefixes:
        return XLSX
    if "ppt" in prefixes:
        return PPTX
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        raise UnsupportedFormat(
            "OpenDocument files (.odt, .ods, .odp) are not supported; save it as .docx, .xlsx or .pptx."
        )
    if mimetype.startswith(b"application/epub"):
        raise UnsupportedFormat("EPUB e-books are not supported; convert it to PDF or .docx.")
    kind = EXTENSION_KINDS.get(ext)
    if kind in (DOCX, XLSX, PPTX):
        raise CorruptDocument(damaged_message(what(kind)))
    raise UnsupportedFormat("ZIP archives are not supported; unpack it and upload the documents inside.")


def _ole2_has_stream(data: bytes, name: str, *, prefix: bool = False) -> bool:
    # Directory entries hold UTF-16LE names terminated by a NUL character.
    needle = name.encode("utf-16-le") + (b"" if prefix else b"\x00\x00")
    return data.find(needle) >= 0


def _ole2_kind(data: bytes, ext: str) -> str:
    if _ole2_has_stream(data, "EncryptedPackage"):
        # An encrypted .docx/.xlsx/.pptx: the zip package sits encrypted inside an OLE2 container.
        raise PasswordProtected(password_message(what(ext) if ext in EXTENSION_KINDS else "This file"))
    if _ole2_has_stream(data, "WordDocument"):
        raise UnsupportedFormat(LEGACY_DOC)
    if _ole2_has_stream(data, "PowerPoint Document"):
        raise UnsupportedFormat(LEGACY_PPT)
    if _ole2_has_stream(data, "Workbook") or _ole2_has_stream(data, "Book"):
        return XLS
    if _ole2_has_stream(data, "__substg1.0_", prefix=True):
        raise UnsupportedFormat("Outlook .msg files are not supported; save the e-mail as .eml.")
    raise UnsupportedFormat(
        "This is an old Microsoft Office file format that is not supported; save it as .docx, .xlsx or .pptx."
    )


def _looks_like_text(data: bytes) -> bool:
    from ._text import looks_binary  # local: keeps this module's import light and acyclic

    return not looks_binary(data)


def _looks_like_html(data: bytes) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<table", b"<meta"))
