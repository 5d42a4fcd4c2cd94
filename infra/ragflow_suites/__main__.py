"""Run RAGFlow's own current API test suites against this service.

    python -m infra.ragflow_suites /path/to/ragflow [--suite NAME ...] [--level p3]
                                   [--url URL --key KEY] [-- extra pytest arguments, e.g. -k test_name]

The suites are exported from the checkout with `git archive` into a temporary directory (none
of RAGFlow's code lands in this repository), the local stack is started (or `--url`/`--key`
name a running one, e.g. `make serve`'s), and each suite runs in its own pytest process with
`infra.ragflow_suites.plugin`, which logs them in with an API key of a fresh tenant.
"""

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# name -> path inside RAGFlow's test/testcases; each runs in its own process (the HTTP and
# SDK suites both have a top-level module called `common`).
SUITES = {
    "http-datasets": "test_http_api/test_dataset_management",
    "sdk-datasets": "test_sdk_api/test_dataset_mangement",
    "restful-datasets": "restful_api/test_datasets.py",
    "http-documents": "test_http_api/test_file_management_within_dataset",
    "sdk-documents": "test_sdk_api/test_file_management_within_dataset",
    "restful-documents": "restful_api/test_documents.py",
    "http-chunks": "test_http_api/test_chunk_management_within_dataset",
    "sdk-chunks": "test_sdk_api/test_chunk_management_within_dataset",
    "restful-chunks": "restful_api/test_chunks.py",
    "restful-retrieval": "restful_api/test_retrieval.py",
}
PYTEST_INI = """[pytest]
pythonpath = .
python_files = test_*.py
markers =
    p0: critical priority test cases
    p1: high priority test cases
    p2: medium priority test cases
    p3: low priority test cases
    smoke: smoke test cases
    auth: authentication UI tests
    asyncio: mark test as async
"""


def export_suites(checkout: str, revision: str, into: Path) -> Path:
    """`git archive` of the checkout's test/ folder (works on bare mirrors too)."""
    archive = subprocess.run(
        ["git", "-C", checkout, "archive", "--format=tar", revision, "test"], check=True, capture_output=True
    ).stdout
    tar_path = into / "test.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    tar_path.unlink()
    (into / "pytest.ini").write_text(PYTEST_INI)
    return into


@contextlib.contextmanager
def target(url: str | None, key: str | None) -> Iterator[tuple[str, str]]:
    """A running service to test: the one named, or a local stack started here for a fresh tenant."""
    if url:
        if not key:
            raise SystemExit("--url needs --key (the dev key is in .local/stack.json)")
        yield url.rstrip("/"), key
        return
    from infra.local.serve import run_local_stack
    from kb_ingest.clock import new_id

    log = REPO_ROOT / ".local" / "ragflow-suites-stack.log"
    log.parent.mkdir(exist_ok=True)
    print(f"local stack: its functions' logs go to {log}", flush=True)
    with _output_to(log), run_local_stack(port=0, tenant_id=new_id(), visibility_timeout=5) as handle:
        yield handle.url, handle.api_key


_REPORT = sys.stdout  # the runner's own lines; the stack's logs go to a file


@contextlib.contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (the functions' JSON logs) to `log`, keeping the
    terminal for the runner's report."""
    global _REPORT
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    _REPORT = os.fdopen(os.dup(1), "w", buffering=1)
    with log.open("w") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            _REPORT.close()
            _REPORT = sys.stdout


def say(text: str) -> None:
    print(text, file=_REPORT, flush=True)


def run_suite(root: Path, suite: str, url: str, key: str, level: str, extra: list[str]) -> tuple[int, str]:
    path = root / "test" / "testcases" / SUITES[suite]
    env = {
        **os.environ,
        "HOST_ADDRESS": url,
        "KB_RAGFLOW_SUITES_KEY": key,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "layers" / "common"), str(root)]),
    }
    command = [
        sys.executable, "-m", "pytest", str(path), "-p", "infra.ragflow_suites.plugin", "--level", level,
        "-q", "-rfEx", "--tb=line", "-p", "no:cacheprovider", "--rootdir", str(root), *extra,
    ]  # fmt: skip
    say(f"\n==== {suite}: {SUITES[suite]}")
    lines = []
    with subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            say(lines[-1])
    pattern = re.compile(r"\d+ (passed|failed|xfailed|error)")
    summary = next((line for line in reversed(lines) if pattern.search(line)), "no tests ran")
    return process.returncode, summary.strip("= ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkout", help="a RAGFlow git checkout (or bare mirror)")
    parser.add_argument("--revision", default="HEAD")
    parser.add_argument("--suite", action="append", choices=sorted(SUITES), help="default: every suite")
    parser.add_argument("--level", default="p3", choices=["p1", "p2", "p3"], help="RAGFlow's levels; p3 is all")
    parser.add_argument("--url", help="test a running service instead of starting the local stack")
    parser.add_argument("--key", help="its API key (with --url)")
    argv = sys.argv[1:] if argv is None else argv
    pytest_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)

    results = {}
    with tempfile.TemporaryDirectory(prefix="ragflow-suites-") as tmp:
        root = export_suites(args.checkout, args.revision, Path(tmp))
        with target(args.url, args.key) as (url, key):
            for suite in args.suite or list(SUITES):
                results[suite] = run_suite(root, suite, url, key, args.level, pytest_args)
    print("\n==== summary (xfailed: the exceptions listed in infra/ragflow_suites/exceptions/)")
    for suite, (code, summary) in results.items():
        print(f"  {suite:<18} {'ok  ' if code == 0 else 'FAIL'} {summary}")
    return 0 if all(code == 0 for code, _ in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
