"""Upload a local folder to a dataset's drop folder, sending only new or changed files, and wait
for the documents to be parsed.

    python -m infra.sync ./docs --dataset DATASET_ID --local
    python -m infra.sync ./docs --dataset DATASET_ID --api https://... --key ragflow-... --bucket NAME
    KB_API_URL=... KB_API_KEY=... DOCUMENTS_BUCKET=... python -m infra.sync ./docs --dataset ID --no-wait

Every file under FOLDER (hidden files and folders excepted) goes to
`inbox/{dataset_id}/{relative path}` in the documents bucket, where the parse function turns it
into a document of the dataset (the same key is always the same document). A file is sent when
its key is missing or its SHA-256 differs from the one stored with the object (metadata
`sha256`, written by this command), or when no document holds its object (its event was lost,
say): the same key makes the same document. A file the parse function refused before (moved
under `rejected/` with the reason) is not sent again while it is unchanged: the table shows why
it was refused (--retry-rejected sends it anyway). Other files are left alone. Then, unless --no-wait, the API
is polled until every document of the folder is DONE or FAIL (or --timeout), and a table says
what happened to each file. Remote objects with no local file are left in place.

Exit code: 0 when every document of the folder is DONE (or, with --no-wait, when every upload
succeeded), 1 when one failed, was rejected or did not finish in time, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mimetypes
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TextIO
from urllib.parse import unquote

import requests

STACK_FILE = Path(__file__).resolve().parent.parent / ".local" / "stack.json"
INBOX_PREFIX = "inbox/"
REJECTED_PREFIX = "rejected/"  # where the parse function moves objects that cannot become documents
SHA256_METADATA = "sha256"  # stored as x-amz-meta-sha256

RUN_NAMES = {"0": "UNSTART", "1": "RUNNING", "2": "CANCEL", "3": "DONE", "4": "FAIL"}
FINISHED_RUNS = {"2", "3", "4"}  # CANCEL ends a run too: waiting longer would not change it
# Looking documents up by keyword costs one request per distinct name; past this many pending
# files, one paged listing of the whole dataset is cheaper.
KEYWORD_LOOKUP_LIMIT = 10
LIST_PAGE_SIZE = 100
# A document missing this long after its upload: look in S3 whether the object was rejected.
REJECTION_CHECK_AFTER = 3.0
REJECTION_CHECK_EVERY = 5.0
MAX_KEY_BYTES = 1024
HASH_BLOCK = 1 << 20


class SyncError(Exception):
    """A problem that stops the sync before or during the upload (exit code 2 by default)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ApiError(Exception):
    """The API answered with an error envelope or could not be reached."""


# ---------------------------------------------------------------- report
@dataclass
class FileResult:
    path: str  # relative to the folder, POSIX separators
    key: str
    size: int
    sha256: str
    # uploaded (new) | changed | unchanged | resent (unchanged, but no document held it)
    # | rejected (refused before, unchanged since: not sent again)
    action: str
    status: str = ""  # UNSTART/RUNNING/CANCEL/DONE/FAIL, or PENDING, REJECTED, MISSING, UPLOAD FAILED
    document_id: str | None = None
    progress: float = 0.0
    chunks: int | None = None
    tokens: int | None = None
    message: str = ""
    settled: bool = False  # reached a final state for this sync
    uploaded_at: float | None = None  # wall clock
    baseline: dict[str, Any] | None = None  # a changed file's document as it was before the upload
    last_rejection_check: float = 0.0

    @property
    def sent(self) -> bool:
        return self.action not in ("unchanged", "rejected") and self.status != "UPLOAD FAILED"


@dataclass
class SyncReport:
    folder: str
    dataset_id: str
    bucket: str
    files: list[FileResult] = field(default_factory=list)
    remote_only: list[str] = field(default_factory=list)  # inbox keys with no local file (left alone)
    bytes_uploaded: int = 0
    waited: bool = False
    timed_out: bool = False
    elapsed: float = 0.0

    def by_action(self, action: str) -> list[FileResult]:
        return [f for f in self.files if f.action == action]

    @property
    def uploaded(self) -> list[FileResult]:
        return self.by_action("uploaded")

    @property
    def changed(self) -> list[FileResult]:
        return self.by_action("changed")

    @property
    def unchanged(self) -> list[FileResult]:
        return self.by_action("unchanged")

    @property
    def resent(self) -> list[FileResult]:
        return self.by_action("resent")

    @property
    def rejected_before(self) -> list[FileResult]:
        return self.by_action("rejected")

    @property
    def upload_failures(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "UPLOAD FAILED"]

    @property
    def ok(self) -> bool:
        if self.upload_failures or self.rejected_before:
            return False
        if not self.waited:
            return True
        return not self.timed_out and all(f.status == "DONE" for f in self.files)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


# ---------------------------------------------------------------- progress output
def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _is_tty(out: TextIO) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError):
        return False


class ProgressBar:
    """tqdm's bar, redrawn in place on a terminal; on anything else no bar at all (callers print
    a line per event with `line`). tqdm locks its own output: S3 transfer callbacks come from
    worker threads."""

    def __init__(self, out: TextIO, label: str, total: float, describe: Callable[[float, float], str]) -> None:
        from tqdm import tqdm

        self.out = out
        self.label = label
        self.total = total
        self.describe = describe
        self.tty = _is_tty(out)
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._done = 0.0
        self._bar = tqdm(
            total=total,
            desc=label,
            file=out,
            disable=not self.tty,
            dynamic_ncols=True,
            mininterval=0.1,
            bar_format="{desc} {bar} {percentage:3.0f}%{postfix}",
        )

    @property
    def done(self) -> float:
        return self._done

    def add(self, amount: float) -> None:
        with self._lock:
            self._done += amount
            self._bar.update(amount)
            self._bar.set_postfix_str(self.describe(self._done, self.total), refresh=False)

    def set(self, done: float, extra: str = "") -> None:
        with self._lock:
            self._bar.update(done - self._done)
            self._done = done
            self._bar.set_postfix_str(self.describe(done, self.total) + extra, refresh=False)

    def line(self, text: str) -> None:
        """Print a line above the bar (tqdm redraws the bar under it)."""
        from tqdm import tqdm

        with self._lock:
            tqdm.write(text, file=self.out)
            self.out.flush()

    def close(self) -> None:
        with self._lock:
            if self.tty:
                self._bar.set_postfix_str(self.describe(self._done, self.total), refresh=True)
            self._bar.close()


# ---------------------------------------------------------------- local files
def local_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """(relative POSIX path, path) of every regular file under folder, hidden ones excepted, sorted."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if name.startswith("."):
                continue
            path = Path(root) / name
            if path.is_file():
                found.append((path.relative_to(folder).as_posix(), path))
    yield from sorted(found)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def inbox_prefix(dataset_id: str) -> str:
    return f"{INBOX_PREFIX}{dataset_id}/"


def rejected_key(key: str) -> str:
    """Where the parse function moves an inbox object it refused (kb_ingest.dal.blobs.reject)."""
    return REJECTED_PREFIX + key.split("/", 1)[1]


# ---------------------------------------------------------------- S3
def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _is_not_found(error: Exception) -> bool:
    return _error_code(error) in ("404", "NoSuchKey", "NotFound")


def list_inbox(s3: Any, bucket: str, prefix: str) -> dict[str, dict[str, Any]]:
    """Key -> {"size", "etag"} of every object under the prefix."""
    objects: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            objects[item["Key"]] = {"size": int(item["Size"]), "etag": str(item.get("ETag", "")).strip('"')}
    return objects


def classify(s3: Any, bucket: str, result: FileResult, path: Path, remote: dict[str, Any] | None) -> str:
    """uploaded (no object), changed or unchanged. Sizes first; then the stored sha256; objects
    written by something else (no sha256) are compared by their ETag when it is a plain MD5."""
    if remote is None:
        return "uploaded"
    if remote["size"] != result.size:
        return "changed"
    head = s3.head_object(Bucket=bucket, Key=result.key)
    stored = (head.get("Metadata") or {}).get(SHA256_METADATA)
    if stored:
        return "unchanged" if stored.lower() == result.sha256 else "changed"
    etag = str(head.get("ETag", remote["etag"])).strip('"')
    if etag and "-" not in etag and etag == file_digest(path, "md5"):
        return "unchanged"
    return "changed"


def rejected_unchanged(s3: Any, bucket: str, result: FileResult, path: Path, rejected: dict[str, Any]) -> bool:
    """Whether the parse function already refused this very file: its object sits under rejected/
    with the same size and content (the move keeps the bytes, so a plain-MD5 ETag compares).
    Such a file is not sent again until it changes; the reason is shown instead."""
    moved = rejected.get(rejected_key(result.key))
    if moved is None or moved["size"] != result.size:
        return False
    etag = moved["etag"]
    if not etag or "-" in etag or etag != file_digest(path, "md5"):
        return False
    try:
        head = s3.head_object(Bucket=bucket, Key=rejected_key(result.key))
    except Exception:
        return False
    reason = unquote((head.get("Metadata") or {}).get("rejected-reason", "rejected by the parse function"))
    result.status, result.settled = "REJECTED", True
    result.message = f"{reason} (unchanged since it was rejected: not sent again)"
    return True


# ---------------------------------------------------------------- API
class Api:
    """The few API calls the sync needs, answering `data` of the envelope or raising ApiError."""

    def __init__(self, base_url: str, key: str, session: requests.Session | None = None, timeout: float = 30) -> None:
        base = base_url.rstrip("/")
        if base.endswith("/api/v1"):
            base = base[: -len("/api/v1")]
        self.base = base + "/api/v1"
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self.timeout = timeout

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            response = self.session.get(self.base + path, params=params, timeout=self.timeout)
        except requests.RequestException as error:
            raise ApiError(f"cannot reach {self.base}: {error}") from error
        try:
            body = response.json()
        except ValueError:
            raise ApiError(f"GET {path}: HTTP {response.status_code}, not JSON: {response.text[:200]!r}") from None
        if not isinstance(body, dict) or body.get("code") != 0:
            message = body.get("message") if isinstance(body, dict) else body
            code = body.get("code") if isinstance(body, dict) else None
            raise ApiError(f"GET {path}: code {code}: {message}")
        return body.get("data")

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        return self.get(f"/dataset/{dataset_id}")

    def documents(self, dataset_id: str, keywords: str | None = None) -> Iterator[dict[str, Any]]:
        """Every document of the dataset (matching the keywords), oldest first, page by page."""
        offset = 0
        while True:
            params: dict[str, Any] = {"offset": offset, "count": LIST_PAGE_SIZE, "order_by": "create_time"}
            params["descend"] = "false"  # new documents land at the end: offsets stay valid meanwhile
            if keywords:
                params["keywords"] = keywords
            data = self.get(f"/dataset/{dataset_id}/documents", params) or {}
            docs = data.get("docs") or []
            yield from docs
            offset += len(docs)
            if not docs or offset >= int(data.get("total") or 0):
                return


def lookup_keyword(relative_path: str) -> str:
    """The keyword that finds a file's document: the base name up to its first dot, so a name
    the API suffixed to keep it unique (`notes(1).txt` for a second `notes.txt`) still matches."""
    name = PurePosixPath(relative_path).name
    return name.split(".", 1)[0] or name


def document_key(doc: dict[str, Any]) -> str | None:
    """The inbox key a document came from, if it came from the drop folder."""
    for field_name in ("location", "source_key"):
        value = doc.get(field_name)
        if isinstance(value, str) and value.startswith(INBOX_PREFIX):
            return value
    return None


def find_documents(api: Api, dataset_id: str, files: Iterable[FileResult]) -> dict[str, dict[str, Any]]:
    """Inbox key -> document, for the files whose documents exist now."""
    wanted = {f.key: f for f in files}
    if not wanted:
        return {}
    found: dict[str, dict[str, Any]] = {}

    def take(docs: Iterable[dict[str, Any]]) -> None:
        for doc in docs:
            key = doc.get("location") if doc.get("location") in wanted else document_key(doc)
            if key in wanted and (key not in found or doc.get("update_time", 0) >= found[key].get("update_time", 0)):
                found[key] = doc

    if len(wanted) > KEYWORD_LOOKUP_LIMIT:
        take(api.documents(dataset_id))
    else:
        for keyword in sorted({lookup_keyword(f.path) for f in wanted.values()}):
            take(api.documents(dataset_id, keyword))
    return found


def is_new_run(doc: dict[str, Any], baseline: dict[str, Any] | None) -> bool:
    """Whether the document's state is the new version's run rather than what the baseline showed.

    A finished baseline: any later write (the new run starting updates `update_time`, in ms).
    A baseline still parsing the previous version: its run ending also writes, so wait for a
    run that began later (`process_begin_at` changed; it has one-second resolution)."""
    if baseline is None:
        return True
    if str(baseline.get("run", "0")) in FINISHED_RUNS:
        return int(doc.get("update_time") or 0) > int(baseline.get("update_time") or 0)
    return doc.get("process_begin_at") != baseline.get("process_begin_at")


def apply_document(result: FileResult, doc: dict[str, Any]) -> None:
    run = str(doc.get("run", "0"))
    result.document_id = doc.get("id")
    result.status = RUN_NAMES.get(run, run)
    result.progress = float(doc.get("progress") or 0.0)
    result.chunks = int(doc.get("chunk_num") or 0)
    result.tokens = int(doc.get("token_num") or 0)
    lines = [line for line in str(doc.get("progress_msg") or "").splitlines() if line.strip()]
    result.message = lines[-1].strip() if lines and run in ("2", "4") else ""
    fresh = is_new_run(doc, result.baseline)
    if fresh and run in FINISHED_RUNS:
        result.settled = True
        result.progress = 1.0
    elif not fresh:
        # Still the run of the previous version: the new one has not started yet.
        result.status, result.progress = "PENDING", 0.0


def check_rejected(s3: Any, bucket: str, result: FileResult) -> None:
    """A file with no document yet: gone from the inbox means rejected (moved under rejected/
    with the reason) or deleted."""
    try:
        s3.head_object(Bucket=bucket, Key=result.key)
        return  # still there: not handled yet
    except Exception as error:
        if not _is_not_found(error):
            return  # cannot tell (no read access to the bucket, say): keep waiting for the API
    try:
        head = s3.head_object(Bucket=bucket, Key=rejected_key(result.key))
    except Exception as error:
        if not _is_not_found(error):
            return
        result.status, result.settled = "MISSING", True
        result.message = "the object left the inbox (deleted?) and no document holds it"
        return
    moved_at = head.get("LastModified")
    if result.uploaded_at is not None and moved_at is not None and moved_at.timestamp() < result.uploaded_at - 5:
        return  # an older rejection; this upload's fate is still unknown
    result.status, result.settled = "REJECTED", True
    result.message = unquote((head.get("Metadata") or {}).get("rejected-reason", "rejected by the parse function"))


# ---------------------------------------------------------------- the sync
def sync_folder(
    folder: str | Path,
    dataset_id: str,
    *,
    s3: Any,
    api_url: str | None,
    api_key: str | None,
    bucket: str,
    wait: bool = True,
    timeout: float = 300,
    out: TextIO | None = None,
    poll_interval: float = 1.0,
    session: requests.Session | None = None,
    retry_rejected: bool = False,
) -> SyncReport:
    """Upload FOLDER's new and changed files to the dataset's inbox; with `wait`, poll the API until
    their documents are DONE or FAIL (or `timeout` seconds). Progress goes to `out` (default: the
    current sys.stderr, looked up at call time)."""
    out = sys.stderr if out is None else out
    started = time.monotonic()
    root = Path(folder)
    if not root.is_dir():
        raise SyncError(f"{root} is not a folder")
    if not dataset_id or "/" in dataset_id or dataset_id.strip() != dataset_id:
        raise SyncError(f"{dataset_id!r} is not a dataset id")
    if wait and not (api_url and api_key):
        raise SyncError("waiting for parsing needs the API URL and key (or pass --no-wait)")
    api = Api(api_url, api_key, session) if api_url and api_key else None
    if api is not None:
        try:
            api.dataset(dataset_id)
        except ApiError as error:
            raise SyncError(f"dataset {dataset_id}: {error}") from None

    report = SyncReport(folder=str(root), dataset_id=dataset_id, bucket=bucket, waited=wait)
    prefix = inbox_prefix(dataset_id)
    try:
        remote = list_inbox(s3, bucket, prefix)
    except Exception as error:
        raise SyncError(f"cannot list s3://{bucket}/{prefix}: {error}") from None
    rejected: dict[str, Any] = {}
    if not retry_rejected:
        try:
            rejected = list_inbox(s3, bucket, rejected_key(prefix))
        except Exception:
            rejected = {}  # no read access there: every missing file counts as new

    paths: dict[str, Path] = {}
    for relative, path in local_files(root):
        key = prefix + relative
        if len(key.encode()) > MAX_KEY_BYTES:
            raise SyncError(f"{relative}: the S3 key would be longer than {MAX_KEY_BYTES} bytes")
        result = FileResult(relative, key, path.stat().st_size, file_digest(path), action="")
        result.action = classify(s3, bucket, result, path, remote.get(key))
        if result.action == "uploaded" and rejected and rejected_unchanged(s3, bucket, result, path, rejected):
            result.action = "rejected"
        report.files.append(result)
        paths[key] = path
    report.remote_only = sorted(set(remote) - set(paths))

    # A changed file's document still shows its previous run until the new version's event is
    # handled: remember where it stood, so that old DONE is not taken for the new one. An
    # unchanged object that no document holds (deleted through the API, or its event lost) is
    # sent again: the same key makes the same document.
    existing = [f for f in report.files if f.action not in ("uploaded", "rejected")]
    if api is not None and existing:
        try:
            docs = find_documents(api, dataset_id, existing)
        except ApiError as error:
            raise SyncError(str(error)) from None
        for f in existing:
            if f.action == "changed":
                f.baseline = docs.get(f.key)
            elif f.key not in docs:
                f.action = "resent"
    to_send = [f for f in report.files if f.action not in ("unchanged", "rejected")]
    print(
        f"{len(report.files)} files in {root}: {len(report.uploaded)} new, {len(report.changed)} changed, "
        f"{len(report.unchanged)} unchanged"
        + (f", {len(report.resent)} without a document (sent again)" if report.resent else "")
        + (
            f", {len(report.rejected_before)} rejected before and unchanged (not sent; --retry-rejected sends them)"
            if report.rejected_before
            else ""
        )
        + (
            f"; {len(report.remote_only)} objects in the inbox have no local file (left alone)"
            if report.remote_only
            else ""
        ),
        file=out,
        flush=True,
    )

    upload(s3, bucket, to_send, paths, report, out)

    if wait and api is not None:
        wait_for_documents(api, s3, bucket, dataset_id, report, timeout, poll_interval, out)
    report.elapsed = time.monotonic() - started
    return report


def upload(
    s3: Any, bucket: str, files: list[FileResult], paths: dict[str, Path], report: SyncReport, out: TextIO
) -> None:
    if not files:
        return
    total = sum(f.size for f in files)

    def describe(done: float, whole: float) -> str:
        elapsed = max(time.monotonic() - bar.started, 1e-6)
        return f"{human_bytes(done)}/{human_bytes(whole)} {human_bytes(done / elapsed)}/s"

    bar = ProgressBar(out, "upload", total, describe)
    for result in files:
        content_type = mimetypes.guess_type(result.path)[0] or "application/octet-stream"
        extra = {"Metadata": {SHA256_METADATA: result.sha256}, "ContentType": content_type}
        sent_before = bar.done
        try:
            result.uploaded_at = time.time()
            s3.upload_file(str(paths[result.key]), bucket, result.key, ExtraArgs=extra, Callback=bar.add)
        except Exception as error:
            result.status, result.settled = "UPLOAD FAILED", True
            result.message = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            bar.set(sent_before + result.size)  # keep the bar's total meaningful
            bar.line(f"FAILED   {result.path}: {result.message}")
            continue
        report.bytes_uploaded += result.size
        if not bar.tty:
            bar.line(f"{result.action:<9}{result.path} ({human_bytes(result.size)})")
    bar.close()


def wait_for_documents(
    api: Api,
    s3: Any,
    bucket: str,
    dataset_id: str,
    report: SyncReport,
    timeout: float,
    poll_interval: float,
    out: TextIO,
) -> None:
    files = [f for f in report.files if not f.settled]
    for f in files:
        f.status = f.status or "PENDING"
    if not files:
        return
    deadline = time.monotonic() + timeout

    def describe(done: float, whole: float) -> str:
        return f"{int(done)}/{int(whole)} documents"

    bar = ProgressBar(out, "parse ", len(files), describe)
    errors = 0
    while True:
        pending = [f for f in files if not f.settled]
        try:
            docs = find_documents(api, dataset_id, pending)
            errors = 0
        except ApiError as error:
            errors += 1
            if errors >= 5:
                bar.line(f"giving up: {error}")
                report.timed_out = True
                break
            docs = {}
        now = time.time()
        for f in pending:
            doc = docs.get(f.key)
            if doc is not None:
                apply_document(f, doc)
            elif (
                now - (f.uploaded_at or 0) >= REJECTION_CHECK_AFTER
                and now - f.last_rejection_check >= REJECTION_CHECK_EVERY
            ):
                f.last_rejection_check = now
                check_rejected(s3, bucket, f)
            if f.settled and not bar.tty:
                detail = f" ({f.message})" if f.message else ""
                bar.line(f"{f.status:<9}{f.path}{detail}")
        finished = sum(1 for f in files if f.settled)
        overall = sum(1.0 if f.settled else f.progress for f in files) / len(files)
        bar.set(finished, f", {overall * 100:.0f}% overall")
        if finished == len(files):
            break
        if time.monotonic() >= deadline:
            report.timed_out = True
            break
        time.sleep(min(poll_interval, max(deadline - time.monotonic(), 0.0)))
    bar.close()


# ---------------------------------------------------------------- summary
def format_table(report: SyncReport) -> str:
    headers = ("file", "size", "action", "status", "chunks", "tokens", "message")
    rows = [
        (
            f.path,
            human_bytes(f.size),
            f.action,
            f.status or ("sent" if f.sent else "-"),
            "" if f.chunks is None else str(f.chunks),
            "" if f.tokens is None else str(f.tokens),
            f.message if len(f.message) <= 80 else f.message[:79] + "…",
        )
        for f in report.files
    ]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    right = {1, 4, 5}

    def fmt(cells: Iterable[str]) -> str:
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    lines = [fmt(headers), fmt("-" * w for w in widths), *(fmt(r) for r in rows)]
    sent = [f for f in report.files if f.sent]
    footer = (
        f"{len(report.files)} files: {len(report.uploaded)} new, {len(report.changed)} changed, "
        f"{len(report.unchanged)} unchanged"
        + (f", {len(report.resent)} resent" if report.resent else "")
        + (f", {len(report.rejected_before)} rejected before" if report.rejected_before else "")
        + f"; {len(sent)} sent ({human_bytes(report.bytes_uploaded)})"
    )
    if report.upload_failures:
        footer += f"; {len(report.upload_failures)} uploads failed"
    if report.waited:
        statuses: dict[str, int] = {}
        for f in report.files:
            statuses[f.status] = statuses.get(f.status, 0) + 1
        footer += "; " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    if report.timed_out:
        waiting = sum(1 for f in report.files if not f.settled)
        footer += f"; timed out with {waiting} documents unfinished"
    footer += f"; {report.elapsed:.1f}s"
    return "\n".join([*lines, footer])


# ---------------------------------------------------------------- the command
def _local_details(state_file: Path) -> dict[str, Any]:
    if not state_file.exists():
        raise SyncError(f"{state_file} not found: start the local stack with `make serve` first.")
    return json.loads(state_file.read_text())


def _use_local_aws(details: dict[str, Any]) -> None:
    """Point boto3 at the local stack's moto, with dummy credentials (never real ones)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ["AWS_ENDPOINT_URL"] = details["aws_endpoint_url"]
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = details["region"]
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"


def _documents_bucket(details: dict[str, Any]) -> str:
    buckets = details.get("buckets") or {}
    if "DocumentsBucket" in buckets:
        return buckets["DocumentsBucket"]
    if len(buckets) == 1:
        return next(iter(buckets.values()))
    raise SyncError(f"no DocumentsBucket in the local stack's buckets: {sorted(buckets)}")


def _s3_client(region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    local = bool(os.environ.get("AWS_ENDPOINT_URL"))  # moto: path-style addressing
    config = Config(retries={"mode": "standard", "max_attempts": 5}, s3={"addressing_style": "path"} if local else None)
    return boto3.session.Session(region_name=region).client("s3", config=config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.sync",
        description=__doc__.split("\n\n")[0],
        epilog="Without --local: --api/--key/--bucket, or KB_API_URL, KB_API_KEY, DOCUMENTS_BUCKET, "
        "and AWS credentials as usual.",
    )
    parser.add_argument("folder", help="the local folder to upload")
    parser.add_argument("--dataset", required=True, help="the dataset id")
    parser.add_argument("--local", action="store_true", help="use the stack `make serve` runs (.local/stack.json)")
    parser.add_argument("--state-file", default=str(STACK_FILE), help=argparse.SUPPRESS)
    parser.add_argument("--api", help="API base URL (the stack's ApiUrl; default $KB_API_URL)")
    parser.add_argument("--key", help="API key (default $KB_API_KEY)")
    parser.add_argument("--bucket", help="documents bucket (default $DOCUMENTS_BUCKET)")
    parser.add_argument("--region", help="AWS region (default: the usual AWS configuration)")
    parser.add_argument("--no-wait", action="store_true", help="upload only; do not wait for parsing")
    parser.add_argument(
        "--retry-rejected",
        action="store_true",
        help="send files again that were rejected before and have not changed since (the default skips them)",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for parsing (default 300)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between status polls (default 1)")
    args = parser.parse_args(argv)
    if args.timeout < 0 or args.poll <= 0:
        parser.error("--timeout must be >= 0 and --poll > 0")

    api_url: str | None
    api_key: str | None
    bucket: str | None
    try:
        if args.local:
            if args.api or args.bucket:
                parser.error("--local takes the API and bucket from the local stack: drop --api/--bucket")
            details = _local_details(Path(args.state_file))
            _use_local_aws(details)
            api_url, api_key = details["gateway_url"], args.key or details["api_key"]
            bucket, region = _documents_bucket(details), details["region"]
        else:
            api_url = args.api or os.environ.get("KB_API_URL")
            api_key = args.key or os.environ.get("KB_API_KEY")
            bucket = args.bucket or os.environ.get("DOCUMENTS_BUCKET")
            region = args.region
            if not bucket:
                parser.error("say which bucket: --local, --bucket NAME or DOCUMENTS_BUCKET=NAME")
            if not args.no_wait and not (api_url and api_key):
                parser.error("waiting for parsing needs --api and --key (or KB_API_URL, KB_API_KEY), or --no-wait")
        report = sync_folder(
            args.folder,
            args.dataset,
            s3=_s3_client(region),
            api_url=api_url,
            api_key=api_key,
            bucket=bucket,
            wait=not args.no_wait,
            timeout=args.timeout,
            poll_interval=args.poll,
            retry_rejected=args.retry_rejected,
        )
    except SyncError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if type(error).__module__.startswith("botocore"):
            print(f"error: {error}", file=sys.stderr)
            return 2 if "Credentials" in type(error).__name__ else 1
        raise
    print(format_table(report))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
