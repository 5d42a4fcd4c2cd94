"""Adapters for moto's server and model registry, for the local stack only.

Each replaces one moto behaviour (moto 5.2) and keeps its results:

- `list_of_moto_modules()`: the server's dispatcher (`DomainDispatcherApplication.
  get_backend_for_host`) asks, for every request, whether the Host header names a moto module,
  and the answer is made by listing moto's package folder and calling `isdir` on each of its
  ~175 entries. The service is named by a host inferred from the request ("dynamodb", found a third
  of the way in; "sqs.us-east-1.amazonaws.com", never found, so the whole folder), which cost 0.3 ms
  (DynamoDB) to 1 ms (S3, SQS, EventBridge) of CPU per request, measured on this 2-core machine:
  a tenth to a fifth of a local GetItem's whole round trip. The lookup runs under the dispatcher's
  lock, so it also serialized every request.
  The folder does not change while the process runs, so the adapter lists it once.
- `BaseModel.__new__` (`moto/core/common_models.py`): every instance of every moto model is
  appended to its class's `instances_tracked` list, for the server's dashboard
  (`/moto-api/data.json`), and never removed: each DynamoDB item ever built (moto deep-copies an
  item on every update), every stream record, every shard iterator (one per GetRecords), every
  SQS message. A long-running local stack kept all of them, about 6 KB per chunk write. The
  adapter tracks only the classes moto itself reads the list of (S3's keys and multipart uploads,
  which its reset disposes of); the dashboard lists no others.

`install()` applies it (idempotent); `uninstall()` restores moto's original (tests). Nothing here is
imported by the functions: the cloud path never sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

_originals: dict[str, Any] = {}
_install_lock = threading.Lock()


def _listed_once(original: Callable[[], Iterable[str]]) -> Callable[[], frozenset[str]]:
    modules = frozenset(original())

    def list_of_moto_modules() -> frozenset[str]:
        return modules

    list_of_moto_modules.__wrapped__ = original  # type: ignore[attr-defined]
    return list_of_moto_modules


# The model classes whose `instances_tracked` moto's own code reads (S3's reset disposes of them).
STILL_TRACKED = frozenset({"FakeKey", "FakeMultipart"})


def _tracking_only_what_moto_reads(base_model: type) -> Callable[..., Any]:
    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        instance = super(base_model, cls).__new__(cls)  # type: ignore[misc,arg-type]
        if cls.__name__ in STILL_TRACKED:
            cls.instances_tracked.append(instance)  # type: ignore[attr-defined]
        return instance

    return __new__


def install() -> None:
    """List moto's modules once and stop its instance registry (once per process)."""
    from moto import backends
    from moto.core.common_models import BaseModel

    with _install_lock:
        if _originals:
            return
        _originals["list_of_moto_modules"] = backends.list_of_moto_modules
        _originals["BaseModel.__new__"] = BaseModel.__dict__["__new__"]
        backends.list_of_moto_modules = _listed_once(backends.list_of_moto_modules)  # type: ignore[assignment]
        BaseModel.__new__ = staticmethod(_tracking_only_what_moto_reads(BaseModel))  # type: ignore[assignment,method-assign]


def uninstall() -> None:
    """Put moto's own code back."""
    from moto import backends
    from moto.core.common_models import BaseModel

    with _install_lock:
        if "list_of_moto_modules" in _originals:
            backends.list_of_moto_modules = _originals.pop("list_of_moto_modules")
        if "BaseModel.__new__" in _originals:
            BaseModel.__new__ = _originals.pop("BaseModel.__new__")  # type: ignore[method-assign]
