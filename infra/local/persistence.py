"""The local stack's data on disk: a journal written before each answer goes out, a snapshot that
is atomically replaced, and S3 bodies as files.

    state = LocalState(Path(".local/data"))    # None: bodies in a temporary folder, nothing kept
    state.attach(stack)      # after the template's tables, buckets and queues exist: restore, then record
    ...                      # every acknowledged write is in the journal
    state.detach()           # stop recording (the stack's teardown is not journaled)

What is kept, generic over whatever template.yaml declares (the stack's tables, buckets, queues):

- DynamoDB: after every request that may write (any action; the adapters in moto_adapters.py
  report each item a write touched), the touched items' images, or their absence.
- S3: after every request, the version list of each key the request changed (metadata, ETag,
  last-modified, version ids, delete markers) and the file holding each body. Bodies never live in
  the process: moto's FakeKey keeps its value in a SpooledTemporaryFile (in memory up to ~5 MB);
  here it is a file under `blobs/`, opened per read.
- SQS: every message added (sends, S3 notifications, EventBridge targets, dead-letter moves), each
  receive (count, visibility deadline), each delete and purge. A message in flight when the process
  died comes back when its visibility timeout ends, or sooner, when the invocation that held it
  would have timed out (its lease cannot outlive it): what Lambda and SQS would do after a crash.

The journal is one file per segment, one line per record (`crc32 json`), each written with a single
write() before moto answers: a record the client saw acknowledged survives `kill -9` (the kernel
holds it; KB_LOCAL_FSYNC=1 adds an fsync per write for power loss too). A torn last line is ignored.
Records are states, not operations (the item now, the key now, the message now), so replay is
last-writer-wins and compaction folds segments into the snapshot: it runs in the background when
the tail outgrows the snapshot, so a restart reads at most about twice the live data, however long
the history. Not kept: S3 tags and ACLs, DynamoDB stream records, table/bucket/queue configuration
(rebuilt from the template at each start).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.local import moto_adapters

if TYPE_CHECKING:
    from infra.local.stack import LocalStack

log = logging.getLogger("infra.local.persistence")

FORMAT = 1
SNAPSHOT = "snapshot.jsonl"
BLOBS = "blobs"
FSYNC_ENV = "KB_LOCAL_FSYNC"
MIN_COMPACT_BYTES = 8 * 1024 * 1024  # compact once the journal tail is this big and bigger than the snapshot
RELEASE_MARGIN_MS = 2000  # after a dead invocation's timeout, before its message is delivered again

_tls = threading.local()
# (kind, physical name) -> the attached state recording it: "d" tables, "s" buckets, "q" queues.
_owners: dict[tuple[str, str], LocalState] = {}
_owners_lock = threading.Lock()


def _owner(kind: str, name: str) -> LocalState | None:
    return _owners.get((kind, name))


# ---------------------------------------------------------------- journal files
def _line(record: dict[str, Any]) -> bytes:
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    return f"{zlib.crc32(text.encode()):08x} {text}\n".encode()


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Records of one file, stopping at the first torn or corrupt line (the tail of a crash)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.endswith(b"\n"):
                log.warning("%s: line %d is incomplete (written when the process died); ignored", path, number)
                return
            crc, _, text = raw[:-1].partition(b" ")
            try:
                if int(crc, 16) != zlib.crc32(text):
                    raise ValueError("checksum mismatch")
                yield json.loads(text)
            except ValueError as exc:
                log.warning("%s: line %d is corrupt (%s); the rest of the file is ignored", path, number, exc)
                return


def state_key(record: dict[str, Any]) -> tuple[str, ...]:
    kind = record["t"]
    if kind == "d":
        return ("d", record["tb"], record["k"])
    if kind == "s":
        return ("s", record["b"], record["k"])
    if kind == "q":
        return ("q", record["id"])
    raise ValueError(f"unknown record kind {kind!r}")


def fold(state: dict[tuple[str, ...], dict[str, Any]], record: dict[str, Any]) -> None:
    """Apply one record to the live state (last writer wins; receives update their message)."""
    key = state_key(record)
    if record.get("gone"):
        state.pop(key, None)
    elif record["t"] == "q" and record.get("op") == "recv":
        message = state.get(key)
        if message is not None:
            message.update({k: v for k, v in record.items() if k in ("rc", "fr", "rt", "va")})
    else:
        state[key] = record


class Journal:
    """Segments of records plus a snapshot; thread-safe appends; background compaction."""

    def __init__(self, root: Path, *, fsync: bool = False, compact_bytes: int = MIN_COMPACT_BYTES) -> None:
        self.root = root
        self.fsync = fsync
        self.compact_bytes = compact_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._segment = 0
        self._segment_bytes = 0
        self._snapshot_bytes = 0
        self._compacting = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.records_written = 0
        self.compactions = 0

    # ------------------------------------------------------------ reading
    def segments(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.root.glob("journal-*.log"):
            with contextlib.suppress(ValueError):
                found.append((int(path.stem.split("-", 1)[1]), path))
        return sorted(found)

    def _snapshot_covers(self) -> tuple[int, Iterator[dict[str, Any]]]:
        path = self.root / SNAPSHOT
        if not path.exists():
            return 0, iter(())
        lines = _read_lines(path)
        header = next(lines, None)
        if not header or header.get("format") != FORMAT:
            raise RuntimeError(f"{path}: not a snapshot of format {FORMAT}; move it away or start with FRESH=1")
        return int(header["covers"]), lines

    def load(self, upto: int | None = None) -> dict[tuple[str, ...], dict[str, Any]]:
        """The live state: the snapshot, then every later segment (up to `upto`) in order."""
        state: dict[tuple[str, ...], dict[str, Any]] = {}
        covers, lines = self._snapshot_covers()
        for record in lines:
            fold(state, record)
        for number, path in self.segments():
            if number <= covers or (upto is not None and number > upto):
                continue
            for record in _read_lines(path):
                fold(state, record)
        return state

    # ------------------------------------------------------------ writing
    def open(self) -> None:
        """Start a new segment after the last one (a torn tail stays behind in its own file)."""
        self.root.mkdir(parents=True, exist_ok=True)
        existing = self.segments()
        covers, _ = self._snapshot_covers()
        with self._lock:
            self._segment = max([covers, *(n for n, _ in existing)]) + 1
            self._open_segment()
        snapshot = self.root / SNAPSHOT
        self._snapshot_bytes = snapshot.stat().st_size if snapshot.exists() else 0
        self._thread = threading.Thread(target=self._compactor, name="local-journal-compactor", daemon=True)
        self._thread.start()
        if any(n > covers for n, _ in existing):
            self._wake.set()  # fold what the last run left into the snapshot, in the background

    def _open_segment(self) -> None:
        path = self.root / f"journal-{self._segment:08d}.log"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segment_bytes = 0

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        data = b"".join(_line(r) for r in records)
        if not data:
            return
        with self._lock:
            if self._fd is None:
                raise RuntimeError("the local journal is closed")
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            if self.fsync:
                os.fsync(self._fd)
            self._segment_bytes += len(data)
            self.records_written += data.count(b"\n")
            big = self._segment_bytes > max(self.compact_bytes, self._snapshot_bytes)
        if big:
            self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(60)
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    # ------------------------------------------------------------ compaction
    def _compactor(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.compact()
            except Exception:
                log.exception("local journal: compaction failed (the journal is intact; retried later)")

    def compact(self) -> None:
        """Fold the snapshot and every closed segment into a new snapshot, then drop those segments."""
        with self._compacting:
            with self._lock:
                if self._fd is None:
                    return
                upto = self._segment
                os.close(self._fd)
                self._segment += 1
                self._open_segment()
            state = self.load(upto)
            tmp = self.root / (SNAPSHOT + ".tmp")
            with tmp.open("wb") as handle:
                handle.write(_line({"format": FORMAT, "covers": upto, "at": time.time()}))
                for record in state.values():
                    handle.write(_line(record))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.root / SNAPSHOT)
            with contextlib.suppress(OSError):
                dir_fd = os.open(self.root, os.O_RDONLY)
                os.fsync(dir_fd)
                os.close(dir_fd)
            self._snapshot_bytes = (self.root / SNAPSHOT).stat().st_size
            for number, path in self.segments():
                if number <= upto:
                    path.unlink(missing_ok=True)
            self.compactions += 1
            log.info("local journal: compacted %d records into %s", len(state), SNAPSHOT)


# ---------------------------------------------------------------- S3 bodies on disk
class DiskBody:
    """Stands in for FakeKey's SpooledTemporaryFile: the body is one file, opened for each read."""

    def __init__(self, store: BlobStore, path: Path | None) -> None:
        self.store = store
        self.path = path
        self._pos = 0

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = pos
        return pos

    def read(self, size: int = -1) -> bytes:
        if self.path is None:
            return b""
        with self.path.open("rb") as handle:
            handle.seek(self._pos)
            data = handle.read() if size is None or size < 0 else handle.read(size)
        self._pos += len(data)
        return data

    def truncate(self, size: int | None = None) -> None:
        pass  # a body is written once, as a new file

    def write(self, data: bytes) -> int:
        raise OSError("S3 bodies on disk are immutable; set FakeKey.value instead")

    def close(self) -> None:
        path, self.path = self.path, None
        if path is not None:
            self.store.release(path)

    @property
    def closed(self) -> bool:
        return self.path is None


class BlobStore:
    """The files holding the bodies of the stack's buckets' objects."""

    def __init__(self, root: Path, buckets: Iterable[str]) -> None:
        self.root = root
        self.buckets = set(buckets)
        self.live = True  # False once detached: the teardown must not delete kept bodies
        root.mkdir(parents=True, exist_ok=True)

    def write(self, data: bytes) -> DiskBody:
        if not data:
            return DiskBody(self, None)
        name = uuid.uuid4().hex
        folder = self.root / name[:2]
        folder.mkdir(exist_ok=True)
        path = folder / name
        with path.open("xb") as handle:
            handle.write(data)
        return DiskBody(self, path)

    def release(self, path: Path) -> None:
        deferred = getattr(_tls, "deferred", None)
        if deferred is not None:
            deferred.append((self, path))  # deleted once the journal says the key moved on
        elif self.live:
            path.unlink(missing_ok=True)

    def relative(self, path: Path | None) -> str | None:
        return None if path is None else path.relative_to(self.root).as_posix()

    def adopt(self, relative: str | None) -> DiskBody:
        return DiskBody(self, None if relative is None else self.root / relative)

    def sweep(self, referenced: set[str]) -> int:
        """Delete body files no key refers to (written just before a crash, or superseded)."""
        removed = 0
        for path in self.root.glob("*/*"):
            if path.relative_to(self.root).as_posix() not in referenced:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


_stores: dict[str, BlobStore] = {}  # bucket name -> store, for the stacks attached in this process
_fakekey_value: Any = None


def _install_disk_bodies() -> None:
    """FakeKey.value's setter writes the body to a file when the key's bucket has a store."""
    global _fakekey_value
    from moto.s3.models import FakeKey

    if _fakekey_value is not None:
        return
    original: Any = FakeKey.value
    _fakekey_value = original

    def set_value(self: Any, new_value: bytes) -> None:
        store = _stores.get(getattr(self, "bucket_name", None) or "")
        if store is None:
            original.fset(self, new_value)
            return
        if isinstance(new_value, str):
            new_value = new_value.encode()
        old = getattr(self, "_value_buffer", None)
        self._value_buffer = store.write(bytes(new_value))
        self.contentsize = len(new_value)
        if old is not None:
            old.close()

    FakeKey.value = property(original.fget, set_value)  # type: ignore[method-assign,assignment]


# ---------------------------------------------------------------- moto hooks
@contextlib.contextmanager
def _deferring_deletes() -> Iterator[list[tuple[BlobStore, Path]]]:
    outer = getattr(_tls, "deferred", None)
    deferred: list[tuple[BlobStore, Path]] = [] if outer is None else outer
    _tls.deferred = deferred
    try:
        yield deferred
    finally:
        if outer is None:
            _tls.deferred = None


def _tracked_key_store_class() -> type:
    from moto.s3.utils import _VersionedKeyStore

    class TrackedKeyStore(_VersionedKeyStore):  # type: ignore[misc,valid-type]
        """A bucket's keys, noting which ones a request changed (journaled when it ends)."""

        bucket_name = ""

        def _touch(self, key: str) -> None:
            dirty = getattr(_tls, "s3_dirty", None)
            if dirty is None:
                dirty = _tls.s3_dirty = set()
            dirty.add((self.bucket_name, key))

        def __setitem__(self, key: str, value: Any) -> Any:
            self._touch(key)
            return super().__setitem__(key, value)

        def setlist(self, key: Any, list_: Any) -> Any:
            self._touch(key)
            return super().setlist(key, list_)

        def pop(self, key: str) -> None:  # type: ignore[override]
            self._touch(key)
            return super().pop(key)

    return TrackedKeyStore


_hooks_installed = False


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    from moto.s3.responses import S3Response
    from moto.sqs.models import Queue, SQSBackend

    _install_disk_bodies()
    moto_adapters.item_listeners.append(_item_touched)

    for name in ("key_response", "bucket_response"):
        original = getattr(S3Response, name)

        def wrapped(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _deferring_deletes() as deferred:
                try:
                    return __original(self, *args, **kwargs)
                finally:
                    _flush_s3(deferred)

        setattr(S3Response, name, wrapped)

    add_message = Queue.add_message
    delete_message = Queue.delete_message
    receive_message = SQSBackend.receive_message
    purge_queue = SQSBackend.purge_queue

    def queue_add_message(self: Any, message: Any) -> None:
        state = _owner("q", self.name)
        if state is None:
            return add_message(self, message)
        with state.sqs_lock:
            add_message(self, message)
            if self.fifo_queue and not any(m is message for m in self._messages[-100:]):
                return None  # deduplicated: not added
            state.journal_append([_message_record(self.name, message)])
        return None

    def queue_delete_message(self: Any, receipt_handle: str) -> None:
        state = _owner("q", self.name)
        if state is None:
            return delete_message(self, receipt_handle)
        ids = [m.id for m in self._messages if m.had_receipt_handle(receipt_handle)]
        delete_message(self, receipt_handle)
        state.journal_append([{"t": "q", "id": i, "gone": True} for i in ids])
        return None

    def backend_receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        result = receive_message(self, queue_name, *args, **kwargs)
        state = _owner("q", queue_name)
        if state is not None and result:
            now = int(time.time() * 1000)
            state.journal_append(
                [
                    {
                        "t": "q",
                        "id": m.id,
                        "op": "recv",
                        "rc": m.approximate_receive_count,
                        "fr": m.approximate_first_receive_timestamp,
                        "rt": now,
                        "va": m.visible_at,
                    }
                    for m in result
                ]
            )
        return result

    def backend_purge_queue(self: Any, queue_name: str) -> None:
        state = _owner("q", queue_name)
        queue = self.queues.get(queue_name)
        ids = [m.id for m in queue._messages] if queue is not None else []
        purge_queue(self, queue_name)
        if state is not None:
            state.journal_append([{"t": "q", "id": i, "gone": True} for i in ids])

    Queue.add_message = queue_add_message  # type: ignore[method-assign]
    Queue.delete_message = queue_delete_message  # type: ignore[method-assign]
    SQSBackend.receive_message = backend_receive_message  # type: ignore[method-assign]
    SQSBackend.purge_queue = backend_purge_queue  # type: ignore[method-assign]
    _hooks_installed = True


def _item_touched(table: Any, hash_key: Any, range_key: Any) -> None:
    state = _owner("d", table.name)
    if state is None:
        return
    touched = getattr(_tls, "ddb_touched", None)
    if touched is None:
        touched = _tls.ddb_touched = {}
    touched[(table.name, hash_key, range_key)] = (table, state)


def flush_dynamodb() -> None:
    """Journal the items the current DynamoDB request touched (called under the DynamoDB lock)."""
    touched = getattr(_tls, "ddb_touched", None)
    if not touched:
        return
    _tls.ddb_touched = None
    records: dict[LocalState, list[dict[str, Any]]] = {}
    for (name, hash_key, range_key), (table, state) in touched.items():
        try:
            item = table.get_item(hash_key, range_key)
        except Exception:
            item = None
        key = json.dumps([hash_key.to_json(), range_key.to_json() if range_key is not None else None], sort_keys=True)
        record: dict[str, Any] = {"t": "d", "tb": name, "k": key}
        if item is None:
            record["gone"] = True
        else:
            record["i"] = item.to_json()["Attributes"]
        records.setdefault(state, []).append(record)
    for state, batch in records.items():
        state.journal_append(batch)


def discard_dynamodb_changes() -> None:
    _tls.ddb_touched = None


def _flush_s3(deferred: list[tuple[BlobStore, Path]]) -> None:
    dirty = getattr(_tls, "s3_dirty", None)
    _tls.s3_dirty = None
    for bucket, key in dirty or ():
        state = _owner("s", bucket)
        if state is None:
            continue
        with state.s3_lock:  # read and append together: a later change is always journaled after
            record = state.key_record(bucket, key)
            if record is not None:
                state.journal_append([record])
    for store, path in deferred:
        if store.live:
            path.unlink(missing_ok=True)
    deferred.clear()


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"__b64__": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _message_record(queue_name: str, message: Any) -> dict[str, Any]:
    return {
        "t": "q",
        "id": message.id,
        "q": queue_name,
        "b": message.body,
        "ma": _encode(message.message_attributes),
        "sa": _encode(message.system_attributes),
        "st": message.sent_timestamp,
        "rc": message.approximate_receive_count,
        "fr": message.approximate_first_receive_timestamp,
        "du": message.delayed_until,
        "dd": message.deduplication_id,
        "g": message.group_id,
        "sq": message.sequence_number,
        "sid": message.sender_id,
        "va": message.visible_at,
    }


# ---------------------------------------------------------------- the stack's state
@dataclass
class RestoreReport:
    items: int = 0
    objects: int = 0
    messages: int = 0
    released: int = 0  # in-flight messages whose dead holder's timeout brings them back early
    swept_blobs: int = 0
    seconds: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)  # kept data of resources the template no longer has

    def describe(self) -> str:
        text = (
            f"{self.items:,} items, {self.objects:,} objects, {self.messages:,} messages "
            f"restored in {self.seconds:.2f} s"
        )
        if self.skipped:
            text += "; kept but not in the template: " + ", ".join(f"{k} ({v})" for k, v in self.skipped.items())
        return text


class LocalState:
    """A local stack's persistence (data_dir given) or just its on-disk S3 bodies (data_dir None)."""

    def __init__(self, data_dir: Path | None, *, fsync: bool | None = None) -> None:
        self.data_dir = data_dir
        if fsync is None:
            fsync = os.environ.get(FSYNC_ENV, "").strip().lower() in ("1", "true", "yes")
        self.journal = Journal(data_dir, fsync=fsync) if data_dir is not None else None
        self.table_names: set[str] = set()
        self.bucket_names: set[str] = set()
        self.queue_names: set[str] = set()
        self.sqs_lock = threading.Lock()
        self.s3_lock = threading.Lock()
        self.blobs: BlobStore | None = None
        self._temp_blobs: Path | None = None
        self._backends: dict[str, Any] = {}
        self.report = RestoreReport()

    @property
    def persistent(self) -> bool:
        return self.journal is not None

    # ------------------------------------------------------------ lifecycle
    def attach(self, stack: LocalStack) -> RestoreReport:
        """Restore what the journal holds into the stack's fresh resources, then start recording."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.s3.models import s3_backends
        from moto.sqs.models import sqs_backends
        from moto.utilities.utils import get_partition

        _install_hooks()
        self._backends = {
            "dynamodb": dynamodb_backends[stack.account_id][stack.region],
            "s3": s3_backends[stack.account_id][get_partition(stack.region)],
            "sqs": sqs_backends[stack.account_id][stack.region],
        }
        self.table_names = set(stack.table_names.values())
        self.bucket_names = set(stack.bucket_names.values())
        self.queue_names = set(stack.queue_names.values())
        if self.data_dir is not None:
            blob_root = self.data_dir / BLOBS
        else:
            self._temp_blobs = Path(tempfile.mkdtemp(prefix="kb-local-s3-"))
            blob_root = self._temp_blobs
        self.blobs = BlobStore(blob_root, self.bucket_names)
        store_class = _tracked_key_store_class()
        with _owners_lock:
            mine = self._names()
            taken = [owned for owned in mine if owned in _owners]
            if taken:
                raise RuntimeError(f"another local stack in this process already records {taken[0][1]}")
            for name in self.bucket_names:
                bucket = self._backends["s3"].buckets[name]
                keys = store_class()
                keys.bucket_name = name
                bucket.keys = keys
                _stores[name] = self.blobs
            if self.journal is not None:
                self.report = self._restore(stack, self.journal.load())
                self.journal.open()
            for owned in mine:
                _owners[owned] = self
        return self.report

    def _names(self) -> list[tuple[str, str]]:
        return [
            *(("d", n) for n in self.table_names),
            *(("s", n) for n in self.bucket_names),
            *(("q", n) for n in self.queue_names),
        ]

    def detach(self) -> None:
        """Stop recording; what was journaled stays on disk for the next start."""
        with _owners_lock:
            for owned in self._names():
                if _owners.get(owned) is self:
                    del _owners[owned]
            for bucket_name in self.bucket_names:
                if _stores.get(bucket_name) is self.blobs:
                    del _stores[bucket_name]
        if self.blobs is not None:
            self.blobs.live = False
        if self.journal is not None:
            self.journal.close()
        if self._temp_blobs is not None:
            shutil.rmtree(self._temp_blobs, ignore_errors=True)
            self._temp_blobs = None

    def journal_append(self, records: list[dict[str, Any]]) -> None:
        if self.journal is not None and records:
            self.journal.append(records)

    # ------------------------------------------------------------ S3 records
    def key_record(self, bucket_name: str, key: str) -> dict[str, Any] | None:
        from moto.s3.models import FakeDeleteMarker

        bucket = self._backends["s3"].buckets.get(bucket_name)
        if bucket is None:
            return None
        versions = dict.get(bucket.keys, key) or []
        if not versions:
            return {"t": "s", "b": bucket_name, "k": key, "gone": True}
        out = []
        for version in versions:
            if isinstance(version, FakeDeleteMarker):
                out.append({"marker": True, "vid": version._version_id, "lm": version.last_modified.isoformat()})
                continue
            body = version._value_buffer
            if not isinstance(body, DiskBody):  # written before the bucket had a store
                version.value = version.value
                body = version._value_buffer
            assert self.blobs is not None
            out.append(
                {
                    "blob": self.blobs.relative(body.path),
                    "size": version.contentsize,
                    "etag": version.etag.strip('"'),
                    "lm": version.last_modified.isoformat(),
                    "meta": dict(version.metadata),
                    "vid": version._version_id,
                    "ver": version._is_versioned,
                    "sc": version._storage_class,
                    "enc": version.encryption,
                    "kms": version.kms_key_id,
                    "bke": version.bucket_key_enabled,
                    "ca": version.checksum_algorithm,
                    "cv": version.checksum_value,
                    "ct": version.checksum_type,
                    "wrl": version.website_redirect_location,
                }
            )
        return {"t": "s", "b": bucket_name, "k": key, "v": out}

    # ------------------------------------------------------------ restore
    def _restore(self, stack: LocalStack, state: dict[tuple[str, ...], dict[str, Any]]) -> RestoreReport:
        started = time.perf_counter()
        report = RestoreReport()
        timeouts = self._consumer_timeouts_ms(stack)
        referenced: set[str] = set()
        touched_tables: set[Any] = set()
        now_ms = time.time() * 1000
        for record in state.values():
            kind = record["t"]
            if kind == "d":
                table = self._backends["dynamodb"].tables.get(record["tb"])
                if table is None:
                    report.skipped[f"table {record['tb']}"] = report.skipped.get(f"table {record['tb']}", 0) + 1
                    continue
                self._restore_item(table, record["i"])
                touched_tables.add(table)
                report.items += 1
            elif kind == "s":
                bucket = self._backends["s3"].buckets.get(record["b"])
                if bucket is None:
                    report.skipped[f"bucket {record['b']}"] = report.skipped.get(f"bucket {record['b']}", 0) + 1
                    continue
                versions = [self._restore_version(stack, record["b"], record["k"], v) for v in record["v"]]
                referenced.update(v["blob"] for v in record["v"] if v.get("blob"))
                dict.__setitem__(bucket.keys, record["k"], versions)
                report.objects += 1
            elif kind == "q":
                queue = self._backends["sqs"].queues.get(record["q"])
                if queue is None:
                    report.skipped[f"queue {record['q']}"] = report.skipped.get(f"queue {record['q']}", 0) + 1
                    continue
                message = self._restore_message(record)
                holder_timeout = timeouts.get(record["q"])
                if message.visible_at > now_ms and holder_timeout is not None and record.get("rt"):
                    released_at = record["rt"] + holder_timeout + RELEASE_MARGIN_MS
                    if released_at < message.visible_at:
                        message.visible_at = released_at
                        report.released += 1
                queue._messages.append(message)
                report.messages += 1
        for table in touched_tables:
            index = getattr(table, "_kb_sorted", None)
            if index is not None:
                index.rebuild()
        if self.blobs is not None:
            report.swept_blobs = self.blobs.sweep(referenced)
        report.seconds = time.perf_counter() - started
        return report

    @staticmethod
    def _restore_item(table: Any, attrs: dict[str, Any]) -> None:
        from moto.dynamodb.models.dynamo_type import DynamoType, Item

        hash_key = DynamoType(attrs[table.hash_key_attr])
        if table.range_key_attr is not None:
            range_key = DynamoType(attrs[table.range_key_attr])
            table.items[hash_key][range_key] = Item(hash_key, range_key, attrs)
        else:
            table.items[hash_key] = Item(hash_key, None, attrs)

    def _restore_version(self, stack: LocalStack, bucket: str, name: str, data: dict[str, Any]) -> Any:
        from moto.s3.models import FakeDeleteMarker, FakeKey
        from moto.utilities.utils import LowercaseDict

        if data.get("marker"):
            marker: Any = FakeDeleteMarker.__new__(FakeDeleteMarker)
            marker.key = None
            marker.name = name
            marker.last_modified = dt.datetime.fromisoformat(data["lm"])
            marker._version_id = data["vid"]
            return marker
        key = FakeKey(
            name,
            b"",
            account_id=stack.account_id,
            region_name=stack.region,
            storage=data.get("sc"),
            etag=data["etag"],
            is_versioned=bool(data.get("ver")),
            version_id=data.get("vid"),
            bucket_name=bucket,
            encryption=data.get("enc"),
            kms_key_id=data.get("kms"),
            bucket_key_enabled=data.get("bke"),
            checksum_value=data.get("cv"),
            checksum_type=data.get("ct"),
        )
        assert self.blobs is not None
        key._value_buffer = self.blobs.adopt(data.get("blob"))  # type: ignore[assignment]
        key.contentsize = int(data["size"])
        key.last_modified = dt.datetime.fromisoformat(data["lm"])
        metadata = LowercaseDict()
        metadata.update(data.get("meta") or {})
        key._metadata = metadata
        key.checksum_algorithm = data.get("ca")
        key.website_redirect_location = data.get("wrl")
        return key

    @staticmethod
    def _restore_message(record: dict[str, Any]) -> Any:
        from moto.sqs.models import Message

        message = Message(record["id"], record["b"], _decode(record.get("sa")) or {})
        message.message_attributes = _decode(record.get("ma")) or {}
        message.sent_timestamp = record.get("st")
        message.approximate_receive_count = int(record.get("rc") or 0)
        message.approximate_first_receive_timestamp = record.get("fr")
        message.delayed_until = float(record.get("du") or 0)
        message.deduplication_id = record.get("dd")
        message.group_id = record.get("g")
        message.sequence_number = record.get("sq")
        if record.get("sid"):
            message.sender_id = record["sid"]
        message.visible_at = float(record.get("va") or 0)
        return message

    @staticmethod
    def _consumer_timeouts_ms(stack: LocalStack) -> dict[str, int]:
        """Queue name -> the longest Timeout of the functions consuming it (ms)."""
        by_arn = {arn: stack.queue_names[lid] for lid, arn in stack.queue_arns.items()}
        timeouts: dict[str, int] = {}
        for fn in stack.template.functions.values():
            for source in fn.sqs_sources:
                try:
                    arn = str(stack.resolver.resolve(source.queue, f"{fn.logical_id}.{source.event_name}"))
                except Exception:
                    continue
                name = by_arn.get(arn)
                if name is not None:
                    seconds = stack.function_timeouts.get(fn.logical_id, fn.timeout)
                    timeouts[name] = max(timeouts.get(name, 0), int(float(seconds) * 1000))
        return timeouts


def wipe(data_dir: Path) -> None:
    """Start empty: remove the journal, the snapshot and the bodies (FRESH=1)."""
    for name in (SNAPSHOT, SNAPSHOT + ".tmp"):
        (data_dir / name).unlink(missing_ok=True)
    for path in data_dir.glob("journal-*.log"):
        path.unlink(missing_ok=True)
    shutil.rmtree(data_dir / BLOBS, ignore_errors=True)
