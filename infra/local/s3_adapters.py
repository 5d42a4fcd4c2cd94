"""An adapter that makes a ranged GetObject from moto's S3 read only its range, for the local stack only.

It replaces one moto behaviour (moto 5.2, `moto/s3/responses.py`) and keeps its answers:

- `S3Response.key_response` with a `Range` header: `get_object` answers with `key.value`, a copy
  of the whole body, and `_handle_range_header` then slices the asked bytes out of that copy. A
  ranged read therefore costs the object's size, not the range's. LanceDB reads its tables in
  many small ranges (a data file's footer, then its pages), so a compaction over a 100,000-chunk
  index read its data files in full thousands of times (over 50 minutes of copying). During a
  ranged GET the adapter has `key.value` stand for a view of the key's buffer that gives moto's
  range code the body's length and reads only the slice it takes. Whatever moto answers without
  slicing (a multi-range or unparseable `Range`, which S3 answers with the whole object) is read
  in full, as before. Same status codes, headers and bodies as moto's.

`install()` applies it (idempotent); `uninstall()` restores moto's originals (tests). Nothing here
is imported by the functions: the cloud path never sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

_originals: dict[str, Any] = {}
_install_lock = threading.Lock()

# Set while this thread answers a ranged GET: FakeKey.value then hands out a RangeReadableBody.
_answering_ranged_get: ContextVar[bool] = ContextVar("answering_ranged_get", default=False)


class RangeReadableBody:
    """A key's body as moto's range code uses it (`len()` and one slice), read from its buffer.

    The buffer is moto's SpooledTemporaryFile or the local stack's on-disk body; both seek and read.
    """

    def __init__(self, key: Any) -> None:
        self._key = key
        self._size = int(key.size)

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, item: slice) -> bytes:
        if not isinstance(item, slice) or item.step not in (None, 1):
            return bytes(self)[item]  # type: ignore[return-value]
        start, stop, _ = item.indices(self._size)
        return self._read(start, max(stop - start, 0))

    def __bytes__(self) -> bytes:
        return self._read(0, self._size)

    def _read(self, start: int, size: int) -> bytes:
        if size == 0:
            return b""
        with self._key.lock:
            buffer = self._key._value_buffer
            buffer.seek(start)
            return bytes(buffer.read(size))


def _lazy_value(original_get: Callable[[Any], bytes]) -> Callable[[Any], Any]:
    def value(self: Any) -> Any:
        if _answering_ranged_get.get():
            return RangeReadableBody(self)
        return original_get(self)

    return value


def _ranged_key_response(original: Callable[..., Any]) -> Callable[..., Any]:
    def key_response(self: Any, request: Any, full_url: str, headers: Any) -> Any:
        if request.method != "GET" or not request.headers.get("range"):
            return original(self, request, full_url, headers)
        token = _answering_ranged_get.set(True)
        try:
            status, response_headers, body = original(self, request, full_url, headers)
        finally:
            _answering_ranged_get.reset(token)
        if isinstance(body, RangeReadableBody):  # answered in full (no range moto could apply)
            body = bytes(body)
        return status, response_headers, body

    return key_response


def install() -> None:
    """Make moto's ranged GetObject read only its range (once per process)."""
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    with _install_lock:
        if _originals:
            return
        value = FakeKey.__dict__["value"]
        _originals["FakeKey.value"] = value
        _originals["S3Response.key_response"] = S3Response.key_response
        # Keeps the setter there is (the local stack's on-disk bodies replace it), wraps the getter.
        FakeKey.value = property(_lazy_value(value.fget), value.fset)  # type: ignore[method-assign,assignment]
        S3Response.key_response = _ranged_key_response(S3Response.key_response)  # type: ignore[method-assign]


def uninstall() -> None:
    """Put back what `install()` replaced. A setter installed on top since (the on-disk bodies of
    a persistent stack) goes too: call it only where no local stack runs."""
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    from infra.local.moto_adapters import restore

    with _install_lock:
        restore(_originals, [FakeKey, S3Response])
