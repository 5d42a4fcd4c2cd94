"""Loading the handlers template.yaml names and invoking them as Lambda would.

Each function's module (`CodeUri/app.py` for `Handler: app.handler`) is loaded once, lazily, under a
module name of its own, so two functions' `app.py` never collide. An invocation runs in a thread of
its own (with its own asyncio event loop, as a Lambda container's main thread has), gets a context
object like Lambda's, and is cut off at the function's Timeout: the caller gets a timed-out result
while the abandoned thread runs on in the background (Python cannot kill it).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib.util
import itertools
import json
import logging
import secrets
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from infra.local.template import DEFAULT_REGION, LOCAL_ACCOUNT_ID, LOCAL_STACK_NAME, Function, Template

log = logging.getLogger("infra.local.runtime")

# Lambda's synchronous payload limits (bytes of the JSON event / of the JSON result).
MAX_SYNC_REQUEST_BYTES = 6 * 1024 * 1024  # 6,291,456
MAX_SYNC_RESPONSE_BYTES = 6 * 1024 * 1024 + 100  # 6,291,556, as Lambda reports it

# (stack name, logical id) of the function whose invocation the current thread runs (None outside
# one): what lets a test attribute each AWS call to the function that made it (tests/iam).
current_function: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "current_function", default=None
)

_module_counter = itertools.count(1)
_import_lock = threading.RLock()


def isolate_log_keys_per_invocation() -> None:
    """Give every invocation thread its own copy of Powertools' structured-log keys.

    In Lambda a container runs one invocation at a time, so Powertools keeps the keys it adds to
    every line (function_request_id, correlation_id, cold_start, ...) in one dict per formatter.
    Locally every function shares one process and invocations run at the same time in threads:
    with one dict, a line logged by one request could carry another's request id. Here the dict
    is per thread, each invocation starting from the keys the logger was built with.
    """
    try:
        from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
    except ImportError:  # functions that do not use Powertools
        return
    if isinstance(LambdaPowertoolsFormatter.__dict__.get("log_format"), property):
        return
    local = threading.local()

    def formats() -> dict[int, dict[str, Any]]:
        per_thread = getattr(local, "formats", None)
        if per_thread is None:
            per_thread = local.formats = {}
        return per_thread

    def get_log_format(self: Any) -> dict[str, Any]:
        mine = formats().get(id(self))
        if mine is None:
            mine = formats()[id(self)] = dict(self.__dict__.get("log_format") or {})
        return mine

    def set_log_format(self: Any, value: dict[str, Any]) -> None:
        self.__dict__.setdefault("log_format", value)  # the keys every invocation starts from
        formats()[id(self)] = value

    LambdaPowertoolsFormatter.log_format = property(get_log_format, set_log_format)  # type: ignore[attr-defined,assignment]


class LambdaContext:
    """What Lambda passes as `context` to a Python handler."""

    def __init__(
        self,
        function_name: str,
        memory_limit_in_mb: int,
        timeout_seconds: float,
        *,
        region: str = DEFAULT_REGION,
        account_id: str = LOCAL_ACCOUNT_ID,
        request_id: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = int(memory_limit_in_mb)
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{secrets.token_hex(16)}"
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + float(timeout_seconds)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name!r}, request_id={self.aws_request_id!r})"


@dataclass
class Invocation:
    """How one invocation ended."""

    function_id: str
    request_id: str
    ok: bool  # the handler returned (and its result is JSON-serialisable and within limits)
    result: Any = None  # the result after a JSON round trip, as the caller of a real Lambda sees it
    error: str | None = None  # what went wrong, with the traceback when there is one
    timed_out: bool = False  # the function's Timeout passed first
    abandoned: bool = False  # the caller stopped waiting (shutdown) before the handler returned
    duration_ms: float = 0.0


class FunctionRuntime:
    """The template's functions, loadable and invocable in this process."""

    def __init__(
        self,
        template: Template,
        *,
        function_names: dict[str, str] | None = None,
        region: str = DEFAULT_REGION,
        account_id: str = LOCAL_ACCOUNT_ID,
        stack_name: str = LOCAL_STACK_NAME,
        enforce_timeouts: bool = True,
        function_timeouts: dict[str, float] | None = None,
    ) -> None:
        isolate_log_keys_per_invocation()
        self.template = template
        # Local overrides of functions' Timeout (seconds), e.g. short leases in crash tests.
        self.function_timeouts = dict(function_timeouts or {})
        self.region = region
        self.account_id = account_id
        self.function_names = dict(function_names or {})
        self.stack_name = stack_name
        self.enforce_timeouts = enforce_timeouts
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.Lock()
        self._function_locks: dict[str, threading.Lock] = {}

    # ------------------------------------------------------------ loading
    def function(self, function_id: str) -> Function:
        try:
            return self.template.functions[function_id]
        except KeyError:
            raise KeyError(f"no function {function_id!r} in {self.template.path}") from None

    def timeout(self, function_id: str) -> float:
        return float(self.function_timeouts.get(function_id, self.function(function_id).timeout))

    def function_name(self, function_id: str) -> str:
        return self.function_names.get(function_id) or f"{self.stack_name}-{function_id}"

    def handler(self, function_id: str) -> Callable[[Any, Any], Any]:
        """The function's handler, its module loaded on first use (once per runtime)."""
        if function_id in self._handlers:
            return self._handlers[function_id]
        with self._lock:
            lock = self._function_locks.setdefault(function_id, threading.Lock())
        with lock:
            if function_id not in self._handlers:
                self._handlers[function_id] = self._load(self.function(function_id))
        return self._handlers[function_id]

    def module(self, function_id: str) -> ModuleType:
        self.handler(function_id)
        return self._modules[function_id]

    def _load(self, fn: Function) -> Callable[[Any, Any], Any]:
        path = fn.module_path
        if path is None:
            raise RuntimeError(f"{fn.logical_id}: CodeUri must be a local folder to run locally")
        if not path.exists():
            raise RuntimeError(f"{fn.logical_id}: handler module {path} does not exist (Handler: {fn.handler})")
        safe = "".join(c if c.isalnum() else "_" for c in fn.logical_id)
        name = f"_kb_local_fn_{safe}_{next(_module_counter)}"
        is_package = path.name == "__init__.py"
        spec = importlib.util.spec_from_file_location(
            name, path, submodule_search_locations=[str(path.parent)] if is_package else None
        )
        if spec is None or spec.loader is None:
            raise RuntimeError(f"{fn.logical_id}: cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        started = time.perf_counter()
        with _import_lock:
            for layer_path in self._layer_paths(fn):
                if layer_path not in sys.path:
                    sys.path.append(layer_path)
            # Lambda puts the code folder first on sys.path: siblings of app.py import by plain name.
            code_dir = str(fn.code_uri)
            sys.path.insert(0, code_dir)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            finally:
                with contextlib.suppress(ValueError):
                    sys.path.remove(code_dir)
        handler = getattr(module, fn.handler_attribute, None)
        if not callable(handler):
            raise RuntimeError(f"{fn.logical_id}: {path} has no callable {fn.handler_attribute!r}")
        self._modules[fn.logical_id] = module
        log.info("loaded %s from %s in %.0f ms", fn.logical_id, path, (time.perf_counter() - started) * 1000)
        return handler

    def _layer_paths(self, fn: Function) -> list[str]:
        """Local folders of the template's layers the function uses (Lambda mounts them on sys.path)."""
        from infra.local.template import referenced_id

        paths = []
        for layer in fn.properties.get("Layers") or []:
            lid = referenced_id(layer)
            res = self.template.layers.get(lid or "")
            if res is not None and isinstance(res.content_uri, str):
                paths.append(str((self.template.root / res.content_uri).resolve()))
        return paths

    # ------------------------------------------------------------ invoking
    def context(self, function_id: str, request_id: str | None = None) -> LambdaContext:
        fn = self.function(function_id)
        return LambdaContext(
            self.function_name(function_id),
            fn.memory_size,
            self.timeout(function_id),
            region=self.region,
            account_id=self.account_id,
            request_id=request_id,
        )

    def invoke(
        self,
        function_id: str,
        event: Any,
        *,
        wait_seconds: float | None = None,
        cancel: threading.Event | None = None,
        cancel_grace_seconds: float = 5.0,
    ) -> Invocation:
        """Invoke a handler like Lambda: fresh context, own thread and event loop, Timeout enforced.

        `wait_seconds` waits less than the function's Timeout (API Gateway's integration timeout);
        `cancel`, once set, stops the wait after `cancel_grace_seconds` (shutdown).
        """
        self.function(function_id)  # KeyError for an unknown function, before any thread starts
        context = self.context(function_id)
        outcome: dict[str, Any] = {}
        started = time.monotonic()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            current_function.set((self.stack_name, function_id))
            try:
                handler = self.handler(function_id)
                outcome["result"] = handler(event, context)
            except BaseException:  # a Lambda handler's failure of any kind is an error result
                outcome["error"] = traceback.format_exc()
            finally:
                asyncio.set_event_loop(None)
                loop.close()

        thread = threading.Thread(target=run, name=f"lambda:{function_id}:{context.aws_request_id[:8]}", daemon=True)
        thread.start()
        limit = self.timeout(function_id) if self.enforce_timeouts else None
        if wait_seconds is not None and self.enforce_timeouts:
            limit = min(limit, wait_seconds) if limit is not None else wait_seconds
        abandoned = False
        while thread.is_alive():
            remaining = None if limit is None else limit - (time.monotonic() - started)
            if remaining is not None and remaining <= 0:
                break
            if cancel is not None and cancel.is_set():
                thread.join(cancel_grace_seconds)
                abandoned = thread.is_alive()
                break
            thread.join(0.1 if remaining is None else min(0.1, remaining))
        duration_ms = (time.monotonic() - started) * 1000
        invocation = Invocation(function_id, context.aws_request_id, ok=False, duration_ms=duration_ms)
        if thread.is_alive():
            if abandoned:
                invocation.abandoned = True
                invocation.error = "abandoned: the local stack is shutting down"
            else:
                invocation.timed_out = True
                invocation.error = f"Task timed out after {duration_ms / 1000:.2f} seconds"
                log.error("%s %s: %s", function_id, context.aws_request_id, invocation.error)
            return invocation
        if "error" in outcome:
            invocation.error = outcome["error"]
            print(f"[{function_id} {context.aws_request_id}] handler raised:\n{invocation.error}", file=sys.stderr)
            return invocation
        try:
            payload = json.dumps(outcome.get("result"))
        except (TypeError, ValueError) as exc:
            invocation.error = f"Runtime.MarshalError: Unable to marshal response: {exc}"
            print(f"[{function_id} {context.aws_request_id}] {invocation.error}", file=sys.stderr)
            return invocation
        if len(payload.encode()) > MAX_SYNC_RESPONSE_BYTES:
            invocation.error = (
                f"Response payload size ({len(payload.encode())} bytes) exceeded maximum allowed payload size "
                f"({MAX_SYNC_RESPONSE_BYTES} bytes)."
            )
            print(f"[{function_id} {context.aws_request_id}] {invocation.error}", file=sys.stderr)
            return invocation
        invocation.ok = True
        invocation.result = json.loads(payload)
        return invocation
