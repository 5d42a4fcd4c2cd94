"""Cold-start rule: importing the parsing package loads no format library and no tokenizer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ["pypdf", "docx", "pptx", "openpyxl", "xlrd", "bs4", "lxml", "yaml", "charset_normalizer", "bpe_openai",
         "pypdfium2", "pyphen", "striprtf", "olefile", "PIL", "rapidocr", "onnxruntime", "cv2", "numpy"]  # fmt: skip
LAYER = Path(__file__).resolve().parents[3] / "layers" / "common"


def modules_after(code: str) -> list[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(LAYER), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_package_imports_no_heavy_library():
    loaded = modules_after(
        "import kb_ingest.domain.parsing\n"
        "from kb_ingest.domain.parsing import chunk_document, extract, count_tokens, naive_chunks\n"
        "from kb_ingest.domain.parsing import chunking, extract as e, tokens, errors, sniff, model, ocr"
    )
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []


def test_the_check_would_notice_a_heavy_import():
    loaded = modules_after(
        "from kb_ingest.domain.parsing import extract\nlist(extract(b'<html><body><p>x</p></body></html>', 'a.html'))"
    )
    assert "lxml" in loaded  # used on demand: HTML needs lxml, and the check sees it
    assert "pypdf" not in loaded and "bpe_openai" not in loaded
