"""Bytes to clean text: encoding detection, incremental decoding, control-character and mojibake repair.

Detection order: a byte-order mark (UTF-8/16/32, LE/BE); BOM-less UTF-16/32 recognised by where
its NUL bytes fall; strict UTF-8 (validated over the whole input, incrementally); otherwise
charset_normalizer on a sample, preferring Windows-1252 among equally plausible Western code pages
(it is what legacy Western text almost always is, and cp1250 decodes its curly quotes and accents
into the wrong letters).
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Iterator

from .errors import NOT_TEXT, UnsupportedFormat

BLOCK_BYTES = 1024 * 1024  # a text block is about this much input
SAMPLE_BYTES = 256 * 1024  # what charset detection looks at

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    return None


def _wide_encoding(sample: bytes) -> str | None:
    """BOM-less UTF-16/32, recognised by where the NUL bytes of mostly-Latin text fall."""
    n = len(sample) - len(sample) % 4
    if n < 8:
        return None
    quarter = n // 4
    z = [sample[k:n:4].count(0) / quarter for k in range(4)]
    guess = None
    if z[2] > 0.9 and z[3] > 0.9 and z[0] < 0.1:
        guess = "utf-32-le"
    elif z[0] > 0.9 and z[1] > 0.9 and z[3] < 0.1:
        guess = "utf-32-be"
    else:
        even, odd = (z[0] + z[2]) / 2, (z[1] + z[3]) / 2
        if odd > 0.3 and even < 0.05:
            guess = "utf-16-le"
        elif even > 0.3 and odd < 0.05:
            guess = "utf-16-be"
    if guess is None:
        return None
    try:
        codecs.getincrementaldecoder(guess)("strict").decode(sample[:n], final=False)
    except UnicodeDecodeError:
        return None
    return guess


_BINARY_BYTES = bytes([*range(0, 9), 11, *range(14, 27), *range(28, 32), 127])


def looks_binary(data: bytes) -> bool:
    """True when the first 8 KiB are not text in any encoding we would decode."""
    sample = data[:8192]
    if not sample or bom_encoding(sample) or _wide_encoding(sample):
        return False
    if b"\x00" in sample:
        return True
    controls = len(sample) - len(sample.translate(None, _BINARY_BYTES))
    return controls > len(sample) * 0.05


def _is_utf8(data: bytes, start: int = 0) -> bool:
    if data.isascii():
        return True
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    view = memoryview(data)
    step = 4 * BLOCK_BYTES
    try:
        for pos in range(start, len(data), step):
            decoder.decode(view[pos : pos + step], final=pos + step >= len(data))
    except UnicodeDecodeError:
        return False
    return True


def _sample(data: bytes, start: int = 0) -> bytes:
    sample = data[start : start + SAMPLE_BYTES]
    if len(data) - start > SAMPLE_BYTES:
        # End the sample at a line break so a multi-byte character is not cut in two
        # (0x0A is never a trail byte in GBK, Shift_JIS, Big5 or EUC encodings).
        cut = sample.rfind(b"\n")
        if cut > SAMPLE_BYTES // 2:
            sample = sample[: cut + 1]
    return sample


_PREFERRED = ("utf_8", "cp1252", "ascii")


_SINGLE_BYTE_PREFIXES = ("cp12", "cp8", "cp7", "iso8859", "latin", "mac_", "hp_roman", "kz1048", "ptcp154")


def _charset_normalizer_guess(sample: bytes) -> str:
    from charset_normalizer import from_bytes

    results = from_bytes(sample)
    best = results.best()
    if best is None:
        return "cp1252"
    plausible = [m for m in results if m.chaos <= best.chaos + 0.01]

    def score(match) -> tuple[float, int]:
        aliases = set(match.could_be_from_charset) | {match.encoding}
        preference = max((len(_PREFERRED) - i for i, name in enumerate(_PREFERRED) if name in aliases), default=0)
        return (round(match.coherence, 3), preference)

    chosen = max(plausible, key=score)
    aliases = set(chosen.could_be_from_charset) | {chosen.encoding}
    if "cp1252" in aliases or chosen.encoding in ("latin_1", "iso8859_1", "ascii"):
        return "cp1252"
    if chosen.encoding.startswith(_SINGLE_BYTE_PREFIXES):
        # charset_normalizer stops at the first clean-looking code page, which for Western text is
        # often a Baltic or Central European one ("déją vu"): give Windows-1252 its chance on a tie.
        western = from_bytes(sample, cp_isolation=["cp1252"]).best()
        if (
            western is not None
            and western.chaos <= chosen.chaos + 0.01
            and western.coherence >= chosen.coherence - 0.01
        ):
            return "cp1252"
    return chosen.encoding


def detect_encoding(data: bytes) -> tuple[str, int]:
    """``(python codec name, number of BOM bytes to skip)``."""
    bom = bom_encoding(data)
    if bom:
        return bom
    wide = _wide_encoding(data[:8192])
    if wide:
        return wide, 0
    if _is_utf8(data):
        return "utf-8", 0
    return _charset_normalizer_guess(_sample(data)), 0


def declared_encoding_works(data: bytes, encoding: str | None, start: int = 0) -> str | None:
    """``encoding`` normalised to a Python codec if it decodes ``data`` strictly, else ``None``."""
    if not encoding:
        return None
    try:
        name = codecs.lookup(encoding.strip().strip("\"'")).name
    except LookupError:
        return None
    if name in ("latin-1", "iso8859-1", "ascii"):
        name = "cp1252"  # as browsers do: the declared Latin-1 is Windows-1252 in practice
    if name.startswith(("utf-16", "utf-32")):
        return None  # a declaration in ASCII bytes cannot be right for a wide encoding
    if name == "utf-8":
        return name if _is_utf8(data, start) else None
    try:
        codecs.getincrementaldecoder(name)("strict").decode(data[start : start + SAMPLE_BYTES], final=False)
    except UnicodeDecodeError:
        return None
    return name


# --- cleaning -------------------------------------------------------------------------------------

# Control characters other than tab and newline, DEL, C1 controls, BOMs/non-characters.
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")
_NEWLINE_LIKE_RE = re.compile("\r\n?|[\x0b\x0c\u2028\u2029]")

# Text that was UTF-8, decoded as Latin-1/cp1252 and saved again ("â€“", "Ã©", "â\x80\x93"):
# a lead byte of a UTF-8 sequence followed by what a continuation byte decodes to in cp1252/Latin-1.
_CP1252_HIGH = bytes(range(0x80, 0xC0)).decode("cp1252", errors="ignore")
_MOJIBAKE_RE = re.compile(f"[\u00c2-\u00f4][\u0080-\u00bf{re.escape(_CP1252_HIGH)}]")
_TO_BYTE: dict[str, int] = {chr(i): i for i in range(256)}
for _byte in range(0x80, 0xA0):
    with contextlib.suppress(UnicodeDecodeError):  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are unassigned
        _TO_BYTE[bytes([_byte]).decode("cp1252")] = _byte


def _unmojibake_line(line: str) -> str:
    try:
        raw = bytes(_TO_BYTE[c] for c in line)
        fixed = raw.decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return line
    return fixed


def fix_mojibake(text: str) -> str:
    """Repair lines whose UTF-8 was decoded as Latin-1/cp1252 (only when the repair is exact)."""
    if not _MOJIBAKE_RE.search(text):
        return text
    lines = text.split("\n")
    return "\n".join(_unmojibake_line(line) if _MOJIBAKE_RE.search(line) else line for line in lines)


def clean_text(text: str, *, mojibake: bool = False) -> str:
    """Normalise newlines to ``\\n`` and drop NULs and other control characters."""
    if _NEWLINE_LIKE_RE.search(text):
        text = _NEWLINE_LIKE_RE.sub("\n", text)
    if mojibake:
        text = fix_mojibake(text)
    if _CONTROL_RE.search(text):
        text = _CONTROL_RE.sub("", text)
    return text


# --- decoding -------------------------------------------------------------------------------------


def iter_decode(
    data: bytes, encoding: str | None = None, *, start: int = 0, block_bytes: int = BLOCK_BYTES
) -> Iterator[str]:
    """Decode ``data`` block by block, each block ending at a line break where there is one.

    Holds at most about two blocks of text at a time besides ``data`` itself. Yields cleaned text
    (see :func:`clean_text`). Raises ``UnsupportedFormat`` for binary data.
    """
    if encoding is None:
        if looks_binary(data):
            raise UnsupportedFormat(NOT_TEXT)
        encoding, start = detect_encoding(data)
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    view = memoryview(data)
    pending = ""
    end = len(data)
    pos = start
    while pos < end:
        final = pos + block_bytes >= end
        text = pending + decoder.decode(view[pos : pos + block_bytes], final=final)
        pos += block_bytes
        if final:
            pending = text
            break
        cut = text.rfind("\n")
        if cut < 0:
            if len(text) < 4 * block_bytes:
                pending = text  # a very long line: keep reading, up to a bound
                continue
            cut = text.rfind(" ", len(text) // 2)
            if cut < 0:
                cut = len(text) - 1
        block, pending = text[: cut + 1], text[cut + 1 :]
        if block:
            yield clean_text(block, mojibake=True)
    if pending:
        yield clean_text(pending, mojibake=True)


def decode_all(data: bytes, encoding: str | None = None, start: int = 0) -> str:
    """The whole of ``data`` as one cleaned string (for formats parsed in one piece)."""
    if encoding is None:
        if looks_binary(data):
            raise UnsupportedFormat(NOT_TEXT)
        encoding, start = detect_encoding(data)
    return clean_text(data[start:].decode(encoding, errors="replace"), mojibake=True)
