"""The image-packaged OCR function: buildable from the template, narrow, and reachable only by
the parse function."""

import re
from pathlib import Path

from infra.local.template import DEFAULT_TEMPLATE, Template

TEMPLATE = Template(DEFAULT_TEMPLATE)
ROOT = Path(DEFAULT_TEMPLATE).resolve().parent
OCR = TEMPLATE.resources["OcrPageFunction"]


def test_the_ocr_function_is_an_image_sam_can_build():
    props, meta = OCR["Properties"], OCR["Metadata"]
    assert props["PackageType"] == "Image" and props["Architectures"] == ["arm64"]
    dockerfile = ROOT / meta["DockerContext"] / meta["Dockerfile"]
    assert dockerfile.is_file()
    text = dockerfile.read_text()
    # Every file the image copies exists in the build context, and the handler it runs is the app's.
    for source in re.findall(r"^COPY\s+(\S+)\s", text, flags=re.MULTILINE):
        assert (ROOT / meta["DockerContext"] / source).exists(), source
    module, attribute = props["ImageConfig"]["Command"][0].rsplit(".", 1)
    assert f"app.py ${{LAMBDA_TASK_ROOT}}/{module}.py" in text
    assert f"def {attribute}(" in (ROOT / "functions" / "ocr_page" / "app.py").read_text()
    assert 1 <= props["Timeout"] <= 900


def test_the_ocr_function_may_only_log_and_trace():
    role = TEMPLATE.resources[OCR["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
    assert "Policies" not in role
    managed = [arn["Fn::Sub"].rsplit("/", 1)[-1] for arn in role["ManagedPolicyArns"]]
    assert managed == ["AWSLambdaBasicExecutionRole", "AWSXRayDaemonWriteAccess"]


def test_only_the_parse_function_may_invoke_it_and_knows_its_name():
    invokers = [
        lid
        for lid, fn in TEMPLATE.functions.items()
        if any(isinstance(p, dict) and "LambdaInvokePolicy" in p for p in fn.properties.get("Policies") or [])
    ]
    assert invokers == ["ParseDocumentFunction"]
    parse = TEMPLATE.functions["ParseDocumentFunction"]
    assert parse.environment["OCR_FUNCTION_NAME"] == {"Ref": "OcrPageFunction"}


def test_the_parse_function_zip_does_not_carry_the_ocr_stack():
    requirements = (ROOT / "functions" / "parse_document" / "requirements.txt").read_text().lower()
    for package in ("rapidocr", "onnxruntime", "opencv"):
        assert package not in requirements
