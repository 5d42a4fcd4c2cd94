"""The OCR function as an OCR engine for the parsing domain (``kb_ingest.domain.parsing.ocr``)."""

from __future__ import annotations

import base64
import json
from typing import Any

from kb_ingest.dal.clients import client
from kb_ingest.domain.parsing.errors import ParseError

OCR_FAILED = "OCR of a scanned page failed"


class LambdaOcr:
    """Reads an image by invoking the OCR function synchronously (one page per invocation)."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name

    def __call__(self, image: bytes) -> list[Any]:
        payload = json.dumps({"image": base64.b64encode(image).decode("ascii")}).encode()
        try:
            response = client("lambda").invoke(FunctionName=self.function_name, Payload=payload)
            answer: Any = json.loads(response["Payload"].read() or b"{}")
        except Exception as exc:
            # Throttling and timeouts are worth another delivery of the parse message.
            raise RuntimeError(f"{OCR_FAILED}: the OCR function could not be reached") from exc
        if response.get("FunctionError") or not isinstance(answer, dict):
            raise RuntimeError(f"{OCR_FAILED}: the OCR function crashed")
        if "error" in answer:
            raise ParseError(f"{OCR_FAILED}: {answer['error']}")
        # Lines (str) and tables ({"table": ...}), as kb_ingest.domain.parsing.ocr.OcrItem.
        return [item for item in answer.get("lines") or [] if isinstance(item, str | dict)]


def install_ocr(function_name: str) -> None:
    """Hand scanned pages to the OCR function, unless OCR runs in this process.

    The local stack and tests have rapidocr installed and read pages in-process; the parse
    function's zip does not carry it (it is too big), so in AWS pages go to ``function_name``.
    """
    from importlib.util import find_spec

    from kb_ingest.domain.parsing import ocr

    if function_name and find_spec("rapidocr") is None:
        ocr.use_engine(LambdaOcr(function_name))
