"""Schemathesis over docs/openapi.json against a fresh local stack, with real ids.

    python -m infra.fuzz                      # (make fuzz) about 100 cases per operation
    python -m infra.fuzz --max-examples 500   # anything after the options goes to schemathesis

Starts the local stack on a free port, creates an API key, a dataset and a document in it,
and runs `schemathesis run` with those ids as every operation's path parameters, so the
fuzzer reaches the routes' real logic instead of "not found". The checks are the ones this
API's contract makes meaningful: no server error, every status code, content type, header
and body as documented (the Envelope schema allows no code 500). Checks that assume REST
status codes (4xx for bad input, 401 without a key, 405 for other methods) do not apply: the
contract answers HTTP 200 with a code in the envelope, as RAGFlow does.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
OPENAPI = REPO_ROOT / "docs" / "openapi.json"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
CONFIG = """\
[parameters]
"path.dataset_id" = "${KB_FUZZ_DATASET_ID}"
"path.document_id" = "${KB_FUZZ_DOCUMENT_ID}"
"""


def seed(base_url: str, key: str) -> tuple[str, str]:
    """A dataset with one small document: the ids the fuzzer's requests use."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    created = session.post(f"{base_url}/api/v1/dataset", json={"name": "fuzz"}, timeout=60).json()
    dataset_id = created["data"]["dataset_id"]
    uploaded = session.post(
        f"{base_url}/api/v1/dataset/{dataset_id}/documents", files=[("file", ("seed.txt", b"seed text.\n"))], timeout=60
    ).json()
    return dataset_id, uploaded["data"][0]["id"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=100, help="cases per operation (default 100)")
    args, extra = parser.parse_known_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # the functions' metrics would drown the report
    warnings.filterwarnings("ignore", "No application metrics to publish")
    from infra.local.serve import run_local_stack
    from kb_ingest.dal.api_keys import create_api_key

    schemathesis = Path(sys.executable).with_name("schemathesis")
    with run_local_stack(port=0, visibility_timeout=2) as live, tempfile.TemporaryDirectory() as work:
        key, _ = create_api_key(label="fuzz")
        dataset_id, document_id = seed(live.url, key)
        config = Path(work) / "schemathesis.toml"
        config.write_text(CONFIG)
        env = {**os.environ, "KB_FUZZ_DATASET_ID": dataset_id, "KB_FUZZ_DOCUMENT_ID": document_id}
        command = [
            str(schemathesis), "--config-file", str(config), "run", str(OPENAPI),
            "--url", live.url, "--header", f"Authorization: Bearer {key}",
            "--checks", CHECKS, "--max-examples", str(args.max_examples), "--phases", "examples,coverage,fuzzing",
            "--seed", "9", "--workers", "2", "--request-timeout", "60", "--max-redirects", "0",
            *extra,
        ]  # fmt: skip
        print(f"fuzzing {live.url} with dataset {dataset_id} and document {document_id}", flush=True)
        # Run inside the temporary folder: schemathesis keeps its crash cache in `.schemathesis/`.
        return subprocess.run(command, env=env, cwd=work, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
