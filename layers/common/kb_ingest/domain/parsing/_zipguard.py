"""Refuse Office files (zip packages) that would unpack to far more than they weigh."""

from __future__ import annotations

import io
import zipfile

from .errors import CorruptDocument, ResourceLimitExceeded, damaged_message, mebibytes
from .model import ExtractLimits

MAX_MEMBERS = 20_000
_RATIO_FLOOR = 1024 * 1024  # members smaller than this are not judged by their compression ratio


def check_zip(data: bytes, limits: ExtractLimits, what: str) -> None:
    """Raise before a library opens ``data`` if its declared sizes look like a zip bomb.

    Python's ``zipfile`` never returns more bytes for a member than its declared size (and fails
    on the CRC if the data disagrees), so judging the declared sizes is enough: the sum must stay
    under ``max_zip_uncompressed`` and no sizeable member may be compressed more than
    ``max_zip_ratio`` times.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CorruptDocument(damaged_message(what)) from exc
    if len(infos) > MAX_MEMBERS:
        raise ResourceLimitExceeded(
            f"{what} is made of {len(infos):,} parts, more than the {MAX_MEMBERS:,} this deployment opens."
        )
    total = 0
    for info in infos:
        total += info.file_size
        if total > limits.max_zip_uncompressed:
            raise ResourceLimitExceeded(
                f"{what} would unpack to more than {mebibytes(limits.max_zip_uncompressed)}, which looks "
                "like a zip bomb; it was not opened."
            )
        if info.file_size > _RATIO_FLOOR and info.file_size > limits.max_zip_ratio * max(info.compress_size, 1):
            raise ResourceLimitExceeded(
                f"{what} contains a part compressed {info.file_size // max(info.compress_size, 1):,} times "
                f"({mebibytes(info.file_size)} unpacked), which looks like a zip bomb; it was not opened."
            )
