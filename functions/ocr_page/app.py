"""OCR one page image (invoked by the parse function): {"image": base64} -> {"lines": [...]}.

An image-packaged function: PP-OCR with ONNX Runtime and OpenCV is ~340 MB unpacked, more than
a zip function may hold, so the parse function (a zip) hands scanned pages here. The models
ship inside rapidocr's wheel and are loaded once per container, during init.
"""

import base64
import binascii
from typing import Any

from kb_ingest.domain.parsing.ocr import local_engine
from kb_ingest.observability import logger

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # what fits in a 6 MB invocation once base64-encoded
read_image = local_engine()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        image = base64.b64decode(event.get("image") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        return {"error": "The request's 'image' is not base64."}
    if not image or len(image) > MAX_IMAGE_BYTES:
        return {"error": f"The image must be 1 to {MAX_IMAGE_BYTES} bytes."}
    if read_image is None:  # pragma: no cover - the image always installs rapidocr
        return {"error": "OCR is not installed in this function's image."}
    try:
        return {"lines": read_image(image)}
    except Exception:
        logger.exception("OCR failed")
        return {"error": "The image could not be read; it may be damaged."}
