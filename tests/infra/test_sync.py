"""`python -m infra.sync`: a local folder to a dataset's drop folder, only new or changed files,
then parsing followed through the API, on the local stack.

The stack is the session's `live` fixture (tests/conftest.py: run_local_stack(port=0) with its
pollers, queue visibility 2 s): a second full stack in the same process would share moto's
backend and os.environ with it."""

import io
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from infra import sync
from infra.sync import FileResult, ProgressBar, SyncError, SyncReport, format_table, sync_folder
from kb_ingest.dal.api_keys import create_api_key

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "corpus"
FILES = ["fake-text.txt", "simple-table.md", "stanley-cups.csv", "fake-memo.pdf", "simple.json"]
TIMEOUT = 120


class CountingS3:
    """The stack's S3 client, counting uploads."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.uploads: list[str] = []

    def upload_file(self, filename: str, bucket: str, key: str, **kwargs: Any) -> None:
        self.uploads.append(key)
        self.client.upload_file(filename, bucket, key, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def key(live: Any) -> str:
    api_key, _ = create_api_key(label="sync test")
    return api_key


@pytest.fixture
def dataset_id(live: Any, key: str) -> str:
    answer = requests.post(
        f"{live.url}/api/v1/dataset", json={"name": "synced"}, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ).json()
    assert answer["code"] == 0, answer
    return answer["data"]["dataset_id"]


@pytest.fixture
def bucket(live: Any) -> str:
    return live.stack.bucket_names["DocumentsBucket"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "tables").mkdir(parents=True)
    for name in FILES:
        target = root / ("tables" if name.endswith(".csv") else "") / name
        shutil.copy(CORPUS / name, target)
    (root / ".DS_Store").write_bytes(b"\0\1")  # hidden files stay home
    return root


def run(live: Any, key: str, bucket: str, folder: Path, dataset_id: str, s3: Any = None, **kwargs: Any) -> SyncReport:
    out = io.StringIO()
    report = sync_folder(
        folder,
        dataset_id,
        s3=s3 or live.stack.client("s3"),
        api_url=live.url,
        api_key=key,
        bucket=bucket,
        timeout=kwargs.pop("timeout", TIMEOUT),
        out=out,
        poll_interval=0.3,
        **kwargs,
    )
    report.output = out.getvalue()  # type: ignore[attr-defined]
    return report


def documents(live: Any, key: str, dataset_id: str) -> dict[str, dict[str, Any]]:
    answer = requests.get(
        f"{live.url}/api/v1/dataset/{dataset_id}/documents", headers={"Authorization": f"Bearer {key}"}, timeout=60
    ).json()
    assert answer["code"] == 0, answer
    return {doc["source_key"]: doc for doc in answer["data"]["docs"]}


# ---------------------------------------------------------------- end to end
def test_sync_uploads_new_files_skips_unchanged_and_reparses_changed(live, key, bucket, folder, dataset_id):
    s3 = CountingS3(live.stack.client("s3"))
    prefix = f"inbox/{dataset_id}/"
    expected_paths = sorted(
        ["fake-text.txt", "simple-table.md", "tables/stanley-cups.csv", "fake-memo.pdf", "simple.json"]
    )

    # 1. Everything is new: uploaded, parsed, DONE with chunks.
    first = run(live, key, bucket, folder, dataset_id, s3=s3)
    assert sorted(f.path for f in first.files) == expected_paths
    assert {f.action for f in first.files} == {"uploaded"}
    assert sorted(s3.uploads) == sorted(prefix + p for p in expected_paths)
    assert first.bytes_uploaded == sum(f.size for f in first.files)
    assert [(f.path, f.status) for f in first.files if f.status != "DONE"] == []
    assert all(f.chunks and f.chunks > 0 and f.tokens and f.tokens > 0 for f in first.files), first.files
    assert first.exit_code == 0 and not first.timed_out
    for f in first.files:
        head = s3.head_object(Bucket=bucket, Key=f.key)
        assert head["Metadata"]["sha256"] == f.sha256
    # Not a terminal: no bar, a line per file uploaded and per document finished.
    assert "\r" not in first.output
    assert all(f"uploaded {f.path}" in first.output for f in first.files), first.output
    assert all(f"DONE     {f.path}" in first.output for f in first.files), first.output
    docs = documents(live, key, dataset_id)
    assert sorted(docs) == sorted(f.key for f in first.files)
    ids = {f.path: f.document_id for f in first.files}
    assert all(ids[f.path] == docs[f.key]["id"] for f in first.files)

    # 2. Nothing changed: nothing goes up, every file is reported with its document.
    s3.uploads.clear()
    second = run(live, key, bucket, folder, dataset_id, s3=s3)
    assert {f.action for f in second.files} == {"unchanged"}
    assert s3.uploads == [] and second.bytes_uploaded == 0
    assert {f.status for f in second.files} == {"DONE"} and second.exit_code == 0
    assert {f.path: f.document_id for f in second.files} == ids

    # 3. One file edited: exactly that one goes up, and its document (same id) is parsed again.
    edited = folder / "fake-text.txt"
    before = docs[prefix + "fake-text.txt"]
    edited.write_text(edited.read_text() + "\n" + " ".join(f"appended word {i}." for i in range(400)) + "\n")
    third = run(live, key, bucket, folder, dataset_id, s3=s3)
    actions = {f.path: f.action for f in third.files}
    assert actions.pop("fake-text.txt") == "changed"
    assert set(actions.values()) == {"unchanged"}
    assert s3.uploads == [prefix + "fake-text.txt"]
    changed = next(f for f in third.files if f.path == "fake-text.txt")
    assert changed.status == "DONE" and changed.document_id == before["id"]
    assert changed.tokens > before["token_num"], (changed, before)  # the new text, not the old run's DONE
    after = documents(live, key, dataset_id)
    assert len(after) == len(FILES)
    assert after[prefix + "fake-text.txt"]["update_time"] > before["update_time"]
    assert third.exit_code == 0

    table = format_table(third)
    assert table.splitlines()[0].split() == ["file", "size", "action", "status", "chunks", "tokens", "message"]
    assert "fake-text.txt" in table and "changed" in table and "1 changed, 4 unchanged" in table


def test_failures_and_rejections_are_reported_and_fail_the_sync(live, key, bucket, tmp_path, dataset_id, monkeypatch):
    monkeypatch.setattr(sync, "KEYWORD_LOOKUP_LIMIT", 0)  # the other lookup: one listing of the dataset
    root = tmp_path / "mixed"
    root.mkdir()
    shutil.copy(CORPUS / "fake-text.txt", root / "ok.txt")
    shutil.copy(CORPUS / "password.pdf", root / "locked.pdf")
    (root / "data.unknownext").write_text("no parser for this")
    report = run(live, key, bucket, root, dataset_id)
    status = {f.path: (f.status, f.message) for f in report.files}
    assert status["ok.txt"] == ("DONE", "")
    assert status["locked.pdf"][0] == "FAIL"
    assert "password" in status["locked.pdf"][1] and "\n" not in status["locked.pdf"][1]  # the last line only
    assert status["data.unknownext"][0] == "REJECTED"
    assert "not supported" in status["data.unknownext"][1]
    assert report.exit_code == 1
    table = format_table(report)
    assert "REJECTED" in table and "FAIL" in table and "1 DONE, 1 FAIL, 1 REJECTED" in table


def test_a_rejected_file_is_not_sent_again_until_it_changes(live, key, bucket, tmp_path, dataset_id):
    root = tmp_path / "refused"
    root.mkdir()
    (root / "data.unknownext").write_text("no parser for this")
    first = run(live, key, bucket, root, dataset_id)
    assert [(f.action, f.status) for f in first.files] == [("uploaded", "REJECTED")]

    s3 = CountingS3(live.stack.client("s3"))
    second = run(live, key, bucket, root, dataset_id, s3=s3)
    assert s3.uploads == []  # the same bytes would be refused the same way
    (again,) = second.files
    assert (again.action, again.status) == ("rejected", "REJECTED")
    assert "not supported" in again.message and "not sent again" in again.message
    assert second.exit_code == 1  # still a file the dataset does not hold
    assert "1 rejected before" in format_table(second)

    forced = run(live, key, bucket, root, dataset_id, s3=s3, retry_rejected=True)
    assert s3.uploads == [f"inbox/{dataset_id}/data.unknownext"] and forced.files[0].status == "REJECTED"
    (root / "data.unknownext").write_text("changed, still no parser")
    s3.uploads.clear()
    changed = run(live, key, bucket, root, dataset_id, s3=s3)
    assert s3.uploads == [f"inbox/{dataset_id}/data.unknownext"] and changed.files[0].action == "uploaded"


def test_no_wait_uploads_and_returns_at_once(live, key, bucket, tmp_path, dataset_id):
    root = tmp_path / "quick"
    root.mkdir()
    shutil.copy(CORPUS / "simple-table.md", root / "t.md")
    report = run(live, key, bucket, root, dataset_id, wait=False)
    assert [(f.action, f.status) for f in report.files] == [("uploaded", "")]
    assert report.exit_code == 0 and not report.waited


def test_a_timeout_is_reported_and_fails_the_sync(live, key, bucket, tmp_path, dataset_id):
    root = tmp_path / "slow"
    root.mkdir()
    shutil.copy(CORPUS / "fake-text.txt", root / "late.txt")
    report = run(live, key, bucket, root, dataset_id, timeout=0)
    assert report.timed_out and report.exit_code == 1
    assert "timed out" in format_table(report)


def test_unknown_dataset_or_bad_key_is_a_usage_error(live, key, bucket, folder):
    with pytest.raises(SyncError, match="dataset") as caught:
        run(live, key, bucket, folder, "0" * 32)
    assert caught.value.exit_code == 2
    with pytest.raises(SyncError):
        run(live, "ragflow-not-a-key", bucket, folder, "0" * 32)


# ---------------------------------------------------------------- the command
def test_the_command_with_local_reads_the_state_file(live, key, tmp_path, dataset_id, monkeypatch, capsys):
    # main() points os.environ at the stack: let monkeypatch put back whatever it changes.
    for name in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, live.stack.environment.get(name) or "testing")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    state = tmp_path / "stack.json"
    details = live.describe()
    details["api_key"] = key
    state.write_text(json.dumps(details, default=str))
    root = tmp_path / "cli"
    root.mkdir()
    shutil.copy(CORPUS / "stanley-cups.csv", root / "cups.csv")

    code = sync.main([str(root), "--dataset", dataset_id, "--local", "--state-file", str(state), "--poll", "0.3"])
    captured = capsys.readouterr()
    assert code == 0, captured
    lines = captured.out.splitlines()  # the in-process functions log JSON to stdout too
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("file ")) :]
    assert table[0].split()[:4] == ["file", "size", "action", "status"]
    assert table[2].split()[:4] == ["cups.csv", "91", "B", "uploaded"] and "DONE" in table[2]
    assert "uploaded cups.csv" in captured.err

    code = sync.main([str(root), "--dataset", dataset_id, "--local", "--state-file", str(state), "--no-wait"])
    assert code == 0 and "unchanged" in capsys.readouterr().out


def test_usage_errors_exit_2(tmp_path, monkeypatch, capsys):
    for name in ("KB_API_URL", "KB_API_KEY", "DOCUMENTS_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exited:
        sync.main([str(tmp_path), "--dataset", "d", "--api", "http://x", "--key", "k"])  # no bucket
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        sync.main([str(tmp_path), "--dataset", "d", "--bucket", "b"])  # waiting needs the API
    assert exited.value.code == 2
    missing = tmp_path / "nope.json"
    assert sync.main([str(tmp_path), "--dataset", "d", "--local", "--state-file", str(missing)]) == 2
    assert "make serve" in capsys.readouterr().err
    with pytest.raises(SyncError, match="not a folder"):
        sync_folder(tmp_path / "absent", "d", s3=None, api_url=None, api_key=None, bucket="b", wait=False)


# ---------------------------------------------------------------- pieces
def test_classify_compares_sizes_then_sha256_then_a_plain_etag(live, tmp_path):
    s3 = live.stack.client("s3")
    scratch = f"sync-classify-{time.time_ns()}"  # no notifications on this bucket
    s3.create_bucket(Bucket=scratch)
    path = tmp_path / "a.txt"
    path.write_bytes(b"hello world")

    def result() -> FileResult:
        return FileResult("a.txt", "k/a.txt", path.stat().st_size, sync.file_digest(path), action="")

    def remote() -> dict[str, Any]:
        return sync.list_inbox(s3, scratch, "k/")["k/a.txt"]

    assert sync.classify(s3, scratch, result(), path, None) == "uploaded"
    s3.put_object(Bucket=scratch, Key="k/a.txt", Body=b"hello world")  # another tool: no sha256
    assert sync.classify(s3, scratch, result(), path, remote()) == "unchanged"  # its ETag is the MD5
    s3.put_object(Bucket=scratch, Key="k/a.txt", Body=b"hello WORLD")
    assert sync.classify(s3, scratch, result(), path, remote()) == "changed"  # same size, other bytes
    s3.put_object(Bucket=scratch, Key="k/a.txt", Body=b"hello world", Metadata={"sha256": "0" * 64})
    assert sync.classify(s3, scratch, result(), path, remote()) == "changed"  # the stored hash wins
    s3.put_object(Bucket=scratch, Key="k/a.txt", Body=b"hello", Metadata={"sha256": result().sha256})
    assert sync.classify(s3, scratch, result(), path, remote()) == "changed"  # another size
    s3.delete_object(Bucket=scratch, Key="k/a.txt")
    s3.delete_bucket(Bucket=scratch)


def test_a_changed_file_waits_for_the_new_run_not_the_previous_one():
    done = {"run": "3", "update_time": 1000, "process_begin_at": "Mon, 01 Jan 2024 00:00:00 GMT"}
    assert sync.is_new_run(done, None)
    assert not sync.is_new_run(done, done)
    assert sync.is_new_run({**done, "run": "1", "update_time": 1001}, done)
    running = {**done, "run": "1"}
    # The previous version's run ending is not the new version's run.
    assert not sync.is_new_run({**done, "update_time": 2000}, running)
    assert sync.is_new_run({**done, "update_time": 3000, "process_begin_at": "Mon, 01 Jan 2024 00:00:05 GMT"}, running)

    result = FileResult("a.txt", "inbox/d/a.txt", 1, "h", "changed", baseline=done)
    sync.apply_document(result, {**done, "id": "doc", "chunk_num": 1, "token_num": 5})
    assert (result.status, result.settled) == ("PENDING", False)
    sync.apply_document(result, {**done, "id": "doc", "update_time": 1500, "chunk_num": 2, "token_num": 9})
    assert (result.status, result.settled, result.chunks, result.tokens) == ("DONE", True, 2, 9)


def test_an_unchanged_object_that_no_document_holds_is_sent_again(live, key, tmp_path, dataset_id):
    s3 = CountingS3(live.stack.client("s3"))
    scratch = f"sync-resend-{time.time_ns()}"  # no notifications: objects here never become documents
    s3.create_bucket(Bucket=scratch)
    root = tmp_path / "again"
    root.mkdir()
    (root / "lost.txt").write_text("its event never arrived")
    digest = sync.file_digest(root / "lost.txt")
    s3.put_object(Bucket=scratch, Key=f"inbox/{dataset_id}/lost.txt", Body=b"x" * 23, Metadata={"sha256": digest})
    report = run(live, key, scratch, root, dataset_id, s3=s3, wait=False)
    assert [(f.path, f.action) for f in report.files] == [("lost.txt", "resent")]
    assert s3.uploads == [f"inbox/{dataset_id}/lost.txt"] and "1 resent" in format_table(report)


def test_lookup_keyword_survives_name_suffixes():
    assert sync.lookup_keyword("sub/notes.txt") == "notes"
    assert sync.lookup_keyword("archive.tar.gz") == "archive"
    assert "notes" in "notes(1).txt"


def test_progress_bar_draws_in_place_on_a_terminal_only():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    bar = ProgressBar(screen, "upload", 200, lambda done, total: f"{done:.0f}/{total:.0f}")
    bar.add(100)
    bar.line("uploaded a.txt")
    bar.add(100)
    bar.close()
    text = screen.getvalue()
    assert "\r" in text and "uploaded a.txt\n" in text
    assert "100%, 200/200" in text and text.endswith("\n")  # tqdm's bar

    plain = io.StringIO()
    bar = ProgressBar(plain, "upload", 200, lambda done, total: "")
    bar.add(200)
    bar.line("uploaded a.txt")
    bar.close()
    assert plain.getvalue() == "uploaded a.txt\n"
