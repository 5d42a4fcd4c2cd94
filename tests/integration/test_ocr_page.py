"""The OCR function (functions/ocr_page) and the parse function's client for it."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
from pathlib import Path

import pytest

from infra.local.runtime import LambdaContext
from kb_ingest.dal import ocr as dal_ocr
from kb_ingest.domain.parsing import ParseError, ocr

ROOT = Path(__file__).resolve().parents[2]
TABLE_PNG = ROOT / "tests" / "fixtures" / "ocr" / "table-multi-row-column-cells.png"


@pytest.fixture(scope="module")
def ocr_app():
    spec = importlib.util.spec_from_file_location("ocr_page_app", ROOT / "functions" / "ocr_page" / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def context() -> LambdaContext:
    return LambdaContext("OcrPageFunction", 3008, 120)


def test_the_ocr_function_reads_a_page_image(ocr_app):
    answer = ocr_app.handler({"image": base64.b64encode(TABLE_PNG.read_bytes()).decode()}, context())
    (table,) = [item for item in answer["lines"] if isinstance(item, dict)]  # plain JSON: lines and tables
    assert table["table"][0][0] == {"text": "Disability Category", "colspan": 1, "rowspan": 2}
    json.dumps(answer)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"image": "not base64!"}, "not base64"),
        ({}, "must be 1 to"),
        ({"image": base64.b64encode(b"junk").decode()}, "damaged"),
    ],
)
def test_the_ocr_function_answers_bad_input_with_a_reason(ocr_app, event, message):
    assert message in ocr_app.handler(event, context())["error"]


class FakeLambda:
    def __init__(self, answer: dict, function_error: str | None = None) -> None:
        self.answer, self.function_error, self.calls = answer, function_error, []

    def invoke(self, **kwargs):
        self.calls.append(kwargs)
        response = {"Payload": io.BytesIO(json.dumps(self.answer).encode())}
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response


def test_the_client_sends_the_page_and_returns_its_lines(monkeypatch):
    fake = FakeLambda({"lines": ["first", "second"]})
    monkeypatch.setattr(dal_ocr, "client", lambda service: fake)
    assert dal_ocr.LambdaOcr("ocr-fn")(b"\xff\xd8\xffjpeg") == ["first", "second"]
    (call,) = fake.calls
    assert call["FunctionName"] == "ocr-fn"
    assert base64.b64decode(json.loads(call["Payload"])["image"]) == b"\xff\xd8\xffjpeg"


def test_the_client_turns_a_refusal_into_a_parse_error_and_a_crash_into_a_retry(monkeypatch):
    monkeypatch.setattr(dal_ocr, "client", lambda service: FakeLambda({"error": "The image could not be read"}))
    with pytest.raises(ParseError, match="could not be read"):
        dal_ocr.LambdaOcr("ocr-fn")(b"x")
    monkeypatch.setattr(dal_ocr, "client", lambda service: FakeLambda({"errorMessage": "boom"}, "Unhandled"))
    with pytest.raises(RuntimeError, match="crashed"):
        dal_ocr.LambdaOcr("ocr-fn")(b"x")


def test_pages_go_to_the_ocr_function_only_where_ocr_is_not_installed(monkeypatch):
    installed = {"rapidocr": True}
    monkeypatch.setattr("importlib.util.find_spec", lambda name: object() if installed.get(name) else None)
    try:
        dal_ocr.install_ocr("ocr-fn")
        assert ocr.engine_for() is ocr.local_engine()  # in-process, as on the local stack
        installed["rapidocr"] = False
        dal_ocr.install_ocr("ocr-fn")
        engine = ocr.engine_for()
        assert isinstance(engine, dal_ocr.LambdaOcr) and engine.function_name == "ocr-fn"
        assert ocr.engine_for("Plain Text") is None
    finally:
        ocr.use_engine(None)
