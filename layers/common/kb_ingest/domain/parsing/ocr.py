"""OCR: pictures to lines of text, and which engine a parse uses.

An engine is any callable taking one image (PNG, JPEG, ... bytes) and returning its lines of
text in reading order. Two exist:

- ``local_engine()``: PP-OCR (detection, orientation, recognition) through rapidocr and ONNX
  Runtime in this process; the models ship inside rapidocr's wheel, so nothing is downloaded.
  The local stack and the OCR function use it.
- a remote one that the parse function installs with ``use_engine`` (``kb_ingest.dal.ocr``): it
  hands each page to the OCR function, because the OCR stack (~340 MB unpacked) does not fit in
  the parse function's zip.

``parser_config.layout_recognize`` chooses, as in RAGFlow: ``"DeepDOC"`` (the default, or
``true``) reads scanned pages and pictures with OCR; ``"Plain Text"`` (or ``false``) reads text
layers only. Any other value names an external parser or a vision model that is not available
here; the document is read as with ``"DeepDOC"`` and ``layout_note`` says so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

OcrEngine = Callable[[bytes], list[str]]

_lock = threading.Lock()
_configured: OcrEngine | None = None
_local: OcrEngine | None = None

PLAIN_TEXT_NAMES = frozenset({"plain text", "plaintext", "plain", "false"})
DEEPDOC_NAMES = frozenset({"deepdoc", "true", ""})


def use_engine(engine: OcrEngine | None) -> None:
    """Make ``engine`` the one ``engine_for`` returns (``None``: back to the local default)."""
    global _configured
    _configured = engine


def wants_ocr(layout_recognize: Any) -> bool:
    """Whether ``parser_config.layout_recognize`` asks for scanned pages to be read."""
    if isinstance(layout_recognize, bool):
        return layout_recognize
    if layout_recognize is None:
        return True
    return str(layout_recognize).strip().lower() not in PLAIN_TEXT_NAMES


def layout_note(layout_recognize: Any) -> str | None:
    """The progress note for a ``layout_recognize`` this deployment cannot honour, else ``None``."""
    if layout_recognize is None or isinstance(layout_recognize, bool):
        return None
    name = str(layout_recognize).strip()
    if name.lower() in PLAIN_TEXT_NAMES | DEEPDOC_NAMES:
        return None
    return (
        f"Layout recognizer '{name}' (an external parser or a vision model) is not available here; "
        "read with DeepDOC-style OCR and text layers instead."
    )


def engine_for(layout_recognize: Any = None) -> OcrEngine | None:
    """The engine to read pictures with, or ``None`` when OCR is off or not installed."""
    if not wants_ocr(layout_recognize):
        return None
    if _configured is not None:
        return _configured
    return local_engine()


def local_engine() -> OcrEngine | None:
    """PP-OCR in this process (loaded once, ~1 s), or ``None`` where rapidocr is not installed."""
    global _local
    if _local is not None:
        return _local
    with _lock:
        if _local is None:
            try:
                from rapidocr import RapidOCR
            except ImportError:
                return None
            import logging

            logging.getLogger("RapidOCR").setLevel(logging.ERROR)
            reader = RapidOCR(params={"Global.log_level": "error"})
            read_lock = threading.Lock()  # one ONNX session set; callers from threads take turns

            def read(image: bytes) -> list[str]:
                with read_lock:
                    result: Any = reader(image)
                return lines_from_boxes(getattr(result, "boxes", None), getattr(result, "txts", None))

            _local = read
    return _local


def lines_from_boxes(boxes: Any, texts: Any) -> list[str]:
    """OCR'd text boxes as lines: boxes on one line joined left to right, lines top to bottom.

    ``boxes`` are quadrilaterals (four ``[x, y]`` corners, y growing downwards) as PP-OCR's
    detector gives them, in the order of ``texts``.
    """
    if boxes is None or texts is None:
        return []
    items = []
    for box, text in zip(boxes, texts, strict=False):
        text = str(text).strip()
        if not text:
            continue
        ys = [float(point[1]) for point in box]
        xs = [float(point[0]) for point in box]
        items.append((min(ys), max(ys), min(xs), text))
    items.sort(key=lambda item: (item[0] + item[1]) / 2)
    lines: list[list[tuple[float, float, float, str]]] = []
    for item in items:
        if lines:
            last = lines[-1]
            top = sum(x[0] for x in last) / len(last)
            bottom = sum(x[1] for x in last) / len(last)
            middle = (item[0] + item[1]) / 2
            if top <= middle <= bottom:
                last.append(item)
                continue
        lines.append([item])
    return [" ".join(x[3] for x in sorted(line, key=lambda x: x[2])) for line in lines]
