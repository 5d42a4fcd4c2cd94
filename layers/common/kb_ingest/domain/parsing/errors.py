"""Why a document could not be parsed, in sentences a user understands.

Every failure of the parsing domain is a :class:`ParseError`; ``str(error)`` and
``error.message`` are the same complete sentence, meant to be shown as the document's progress
message as is. ``code`` is a stable machine-readable name for logs and metrics.
"""

from __future__ import annotations


class ParseError(Exception):
    """The document cannot be turned into text; ``message`` says why, for the user."""

    code = "parse_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UnsupportedFormat(ParseError):
    """The file's format is not read by this deployment (images, audio, legacy .doc, ...)."""

    code = "unsupported_format"


class NoTextLayer(ParseError):
    """A PDF whose pages carry no text at all: scanned pages need OCR."""

    code = "no_text_layer"


class PasswordProtected(ParseError):
    """The file needs a password to be opened."""

    code = "password_protected"


class CorruptDocument(ParseError):
    """The file is damaged, truncated, or not what its name says."""

    code = "corrupt_document"


class ResourceLimitExceeded(ParseError):
    """Too big, too many cells or pages, a zip bomb, or out of time."""

    code = "resource_limit_exceeded"


# Messages used in more than one place.
OCR_NOT_INCLUDED = "Images need OCR, which this deployment does not include."
IMAGE_NOT_READ = (
    "This image format cannot be read here; OCR reads JPEG, PNG, TIFF, BMP, WebP and GIF images: "
    "save it as one of those and upload it again."
)
VIDEO_NOT_SUPPORTED = "Video files need OCR and speech recognition, which this deployment does not include."
SPEECH_NOT_INCLUDED = "Audio files need speech recognition, which this deployment does not include."
LEGACY_DOC = "Legacy Word .doc files are not supported; save it as .docx."
LEGACY_PPT = "Legacy PowerPoint .ppt files are not supported; save it as .pptx."
NOT_TEXT = "This file does not contain readable text; it looks like binary data."
SCANNED_PDF = "This PDF has no text layer; it looks scanned and needs OCR, which this deployment does not include."


def password_message(what: str) -> str:
    """``what`` is a noun phrase with its article, e.g. ``"This PDF"``."""
    return f"{what} is password-protected; remove the password and upload it again."


def damaged_message(what: str) -> str:
    return f"{what} is damaged or incomplete and cannot be read; open and save it again, then upload it."


def mebibytes(n: int) -> str:
    value = n / (1024 * 1024)
    return f"{value:,.0f} MB" if value >= 10 else f"{value:,.1f} MB"
