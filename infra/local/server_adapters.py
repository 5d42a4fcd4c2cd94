"""An adapter that makes moto's server find a request's service without reading its own folder, for
the local stack only.

It replaces one moto behaviour (moto 5.2, `moto/backends.py`) and keeps its results:

- `list_of_moto_modules()`: the server's dispatcher (`DomainDispatcherApplication.
  get_backend_for_host`) asks, for every request, whether the Host header names a moto module,
  and the answer is made by listing moto's package folder and calling `isdir` on each of its
  ~175 entries. The service is named by a host inferred from the request ("dynamodb", found a third
  of the way in; "sqs.us-east-1.amazonaws.com", never found, so the whole folder), which cost 0.3 ms
  (DynamoDB) to 1 ms (S3, SQS, EventBridge) of CPU per request, measured on this 2-core machine:
  a tenth to a fifth of a local GetItem's whole round trip. The lookup runs under the dispatcher's
  lock, so it also serialized every request.
  The folder does not change while the process runs, so the adapter lists it once.

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


def install() -> None:
    """List moto's modules once (once per process)."""
    from moto import backends

    with _install_lock:
        if _originals:
            return
        _originals["list_of_moto_modules"] = backends.list_of_moto_modules
        backends.list_of_moto_modules = _listed_once(backends.list_of_moto_modules)  # type: ignore[assignment]


def uninstall() -> None:
    """Put moto's own function back."""
    from moto import backends

    with _install_lock:
        if "list_of_moto_modules" in _originals:
            backends.list_of_moto_modules = _originals.pop("list_of_moto_modules")
