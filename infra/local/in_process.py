"""In-process transport from this process's botocore clients to the local stack's moto, for the local
stack only.

Every AWS call the functions, pollers and tests make in the stack's process used to cross a
socket to the stack's moto server on 127.0.0.1: botocore signs it and sends it through urllib3,
the server starts a thread, parses the HTTP request, finds the service (`DomainDispatcher`) and
runs moto's Flask app. Measured on a warm GetItem, the sockets, urllib3 and the server's thread
and HTTP parsing were about a third of the whole round trip's CPU; moto's own work a tenth.

Here `botocore.endpoint.Endpoint._send` (the one place botocore hands a prepared request to its
HTTP session) answers a request addressed to a running local stack by calling moto's handler for
it directly, in the caller's thread, as moto's own `mock_aws` does (`BotocoreStubber`): the
service's URL patterns pick the handler, which gets the request as it was sent (same host, path,
headers and body), so every answer is the one the server gives, including queue URLs, which moto
builds from the request's host. Everything before the send still runs: signing, the events
botocore emits (the IAM recorder and the benchmarks' call counters listen there), retries. An
exception moto does not turn into an HTTP error becomes a 500, as the server's Flask app answers
it. What is not a botocore call (LanceDB's object store, a browser, `requests` in the tests, the
AWS CLI) still reaches the server over HTTP.

`KB_LOCAL_AWS_TRANSPORT=http` keeps every call on HTTP (to compare, or to debug on the wire).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any
from urllib.parse import urlsplit

TRANSPORT_ENV = "KB_LOCAL_AWS_TRANSPORT"

log = logging.getLogger(__name__)

_lock = threading.Lock()
_stack_hosts: set[str] = set()  # "127.0.0.1:<port>" of each running local stack in this process
_original_send: Any = None
_backends: dict[str, Any] = {}  # botocore endpoint prefix -> the moto backend whose URL patterns route it


def enabled() -> bool:
    return os.environ.get(TRANSPORT_ENV, "in-process").strip().lower() != "http"


def register(endpoint_url: str) -> None:
    """Answer calls to this stack's endpoint in-process from now on (installs the hook once)."""
    global _original_send
    from botocore.endpoint import Endpoint

    with _lock:
        _stack_hosts.add(urlsplit(endpoint_url).netloc)
        if _original_send is None:
            _original_send = Endpoint._send
            Endpoint._send = _send  # type: ignore[method-assign]


def unregister(endpoint_url: str) -> None:
    """The stack stopped: calls to its endpoint go to HTTP again (and fail there, as they should)."""
    with _lock:
        _stack_hosts.discard(urlsplit(endpoint_url).netloc)


def uninstall() -> None:
    """Put botocore's own send back (tests)."""
    global _original_send
    from botocore.endpoint import Endpoint

    with _lock:
        if _original_send is not None:
            Endpoint._send = _original_send  # type: ignore[method-assign]
            _original_send = None
        _stack_hosts.clear()


def _send(self: Any, request: Any) -> Any:
    parts = urlsplit(request.url)
    if parts.netloc in _stack_hosts:
        answer = _dispatch(request, parts.path, self._endpoint_prefix)
        if answer is not None:
            return answer
    return _original_send(self, request)


def _backend_for(endpoint_prefix: str) -> Any:
    """The moto backend serving a botocore endpoint prefix ("dynamodb", "s3", "streams.dynamodb"),
    found as `BotocoreStubber` finds it: against the service's AWS host (the stack's own host
    matches no service pattern). The host alone decides it, so it is looked up once per prefix."""
    backend = _backends.get(endpoint_prefix)
    if backend is not None:
        return backend
    import moto.backend_index as backend_index
    import moto.backends as backends
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.base_backend import BackendDict

    host_url = f"https://{endpoint_prefix}.us-east-1.amazonaws.com/"
    for service, pattern in backend_index.backend_url_patterns:
        if pattern.match(host_url):
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            if isinstance(backend_dict, BackendDict):
                regions = backend_dict[DEFAULT_ACCOUNT_ID]
                backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
            else:
                backend = backend_dict["global"]
            _backends[endpoint_prefix] = backend
            return backend
    return None


def _handler_for(endpoint_prefix: str, path: str) -> Any:
    """moto's handler for a request to this service and path (its URL patterns include the host)."""
    backend = _backend_for(endpoint_prefix)
    if backend is None:
        return None
    aws_url = f"https://{endpoint_prefix}.us-east-1.amazonaws.com{path}"
    for url, handler in backend.urls.items():
        if re.match(url, aws_url):  # re caches the compiled patterns
            return handler
    return None


def _dispatch(request: Any, path: str, endpoint_prefix: str) -> Any:
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse
    from moto.core.exceptions import HTTPException
    from moto.core.request import normalize_request

    handler = _handler_for(endpoint_prefix, path)
    if handler is None:
        return None  # moto has no route for it here: let the server answer
    incoming = normalize_request(request)
    try:
        status, headers, body = handler(incoming, incoming.raw_url, incoming.headers)
    except HTTPException as error:
        status, headers, body = error.code, error.get_headers(), error.get_body()
    except Exception:  # the server's Flask app answers these with a 500 (and botocore retries one)
        log.exception("local stack: moto failed on %s %s", request.method, request.url)
        status, headers, body = 500, {}, b"moto raised an exception; see the local stack's log"
    return AWSResponse(
        request.url, status, {k: str(v) for k, v in (headers or {}).items()}, MockRawResponse(body or b"")
    )
