"""Image files (JPEG, PNG, TIFF, BMP, WebP, GIF) read by OCR, one block per frame or TIFF page."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

from .errors import OCR_NOT_INCLUDED, CorruptDocument, ResourceLimitExceeded, UnsupportedFormat
from .model import Deadline, ExtractLimits, TextBlock
from .ocr import OcrEngine

MAX_PIXELS = 60_000_000  # a 60-megapixel frame is ~180 MB decoded; bigger ones are refused, not swapped
OCR_LONG_SIDE = 2800  # pixels: PP-OCR's detector works at ~960, so larger frames only cost time


def frames_as_png(data: bytes, limits: ExtractLimits) -> Iterator[bytes]:
    """Each distinct frame of the image as PNG (an animated GIF's repeats are skipped)."""
    from PIL import Image, ImageSequence

    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
    except Exception as exc:
        raise CorruptDocument("This image is damaged or in a format that cannot be read.") from exc
    if width * height > MAX_PIXELS:
        raise ResourceLimitExceeded(
            f"This image is {width:,} x {height:,} pixels, more than the {MAX_PIXELS:,} pixels read at once; "
            "scale it down and upload it again."
        )
    seen: set[bytes] = set()
    for index, frame in enumerate(ImageSequence.Iterator(image)):
        if index >= limits.max_pages:
            break
        try:
            rgb = frame.convert("RGB")
        except Exception as exc:
            raise CorruptDocument("This image is damaged or in a format that cannot be read.") from exc
        fingerprint = rgb.resize((16, 16)).tobytes()
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        scale = OCR_LONG_SIDE / max(rgb.size)
        if scale < 1:
            rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)))
        out = io.BytesIO()
        rgb.save(out, format="PNG")
        yield out.getvalue()


def extract_image(
    data: bytes, limits: ExtractLimits, deadline: Deadline, ocr: Callable[[], OcrEngine | None]
) -> Iterator[TextBlock]:
    engine = ocr()
    if engine is None:
        raise UnsupportedFormat(OCR_NOT_INCLUDED)
    frames = list(frames_as_png(data, limits))
    for number, frame in enumerate(frames, 1):
        deadline.check()
        text = "\n".join(engine(frame)).strip()
        if text:
            yield TextBlock(text + "\n", number if len(frames) > 1 else None, kind="image_text")
