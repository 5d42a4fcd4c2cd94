"""Counting the AWS calls the functions make, by hooking every botocore client created.

`install()` patches `botocore.session.Session.create_client` (boto3 sessions and PynamoDB's
connections both end there), so every client created afterwards reports to one `CallLog`:
``before-call`` counts a logical API call, ``before-send`` an HTTP attempt (retries show as
attempts beyond calls), ``after-call`` reads DynamoDB's ConsumedCapacity. For the DynamoDB
operations that accept it, ``ReturnConsumedCapacity=TOTAL`` is injected in
``before-parameter-build`` (PynamoDB already asks for it; boto3 callers do not).

Each call is recorded with the function it was made for: `attribute(runtime)` wraps the local
runtime's handlers so an invocation runs with the context variable `FUNCTION` set (context
variables follow the work into FastAPI's and AnyIO's worker threads, and `install()` makes
ThreadPoolExecutor carry them too), so the harness's own calls (seeding, polling) stay out of a
capture unless it asks for them.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_installed = False
_lock = threading.Lock()

FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("benchmark_function", default=None)


@dataclass(frozen=True)
class Call:
    service: str  # botocore service name: dynamodb, s3, sqs, events
    operation: str  # GetItem, PutObject, ...
    tables: tuple[str, ...]  # DynamoDB tables named in the request
    function: str  # the function making the call, "harness" for the benchmark's own calls


@dataclass
class Capture:
    """The calls made while a `capture()` block ran, by the threads it watches."""

    calls: list[Call] = field(default_factory=list)
    attempts: int = 0
    waits: list[tuple[str, str, float]] = field(default_factory=list)  # (function, operation, seconds)
    clients: list[tuple[str, str, float]] = field(default_factory=list)  # (function, service, seconds to create)
    consumed: list[tuple[str, float]] = field(default_factory=list)  # (function, DynamoDB capacity units)
    functions: bool = True  # calls made by the functions
    harness: bool = False  # calls made by the benchmark itself

    def watches(self, function: str | None) -> bool:
        return self.functions if function is not None else self.harness

    # -- summaries
    @property
    def capacity(self) -> float:
        """DynamoDB capacity units reported (read + write)."""
        return sum(units for _, units in self.consumed)

    @property
    def capacity_reports(self) -> int:
        """How many DynamoDB responses carried ConsumedCapacity."""
        return len(self.consumed)

    def only(self, function: str) -> Capture:
        """The calls one function made."""
        return Capture(
            calls=[call for call in self.calls if call.function == function],
            consumed=[item for item in self.consumed if item[0] == function],
            waits=[item for item in self.waits if item[0] == function],
            clients=[item for item in self.clients if item[0] == function],
        )

    def waited(self, service_operation: str | None = None) -> float:
        """Seconds spent in AWS calls (from before-call to after-call), optionally of one operation."""
        return sum(s for _, op, s in self.waits if service_operation is None or op == service_operation)

    def count(self, service: str | None = None, *, exclude_tables: tuple[str, ...] = ()) -> int:
        return sum(
            1
            for call in self.calls
            if (service is None or call.service == service)
            and not (exclude_tables and call.tables and all(t in exclude_tables for t in call.tables))
        )

    def operations(self, service: str, *, exclude_tables: tuple[str, ...] = ()) -> Counter[str]:
        return Counter(
            call.operation
            for call in self.calls
            if call.service == service
            and not (exclude_tables and call.tables and all(t in exclude_tables for t in call.tables))
        )

    def by_function(self) -> Counter[str]:
        return Counter(call.function for call in self.calls)


class CallLog:
    def __init__(self) -> None:
        self._captures: list[Capture] = []

    def _active(self) -> list[Capture]:
        function = FUNCTION.get()
        return [c for c in self._captures if c.watches(function)]

    @contextlib.contextmanager
    def capture(self, *, functions: bool = True, harness: bool = False) -> Iterator[Capture]:
        cap = Capture(functions=functions, harness=harness)
        with _lock:
            self._captures.append(cap)
        try:
            yield cap
        finally:
            with _lock:
                self._captures.remove(cap)

    def client_created(self, service: str, seconds: float) -> None:
        active = self._active()
        function = FUNCTION.get() or "harness"
        with _lock:
            for cap in active:
                cap.clients.append((function, service, seconds))

    # -- botocore handlers
    def before_parameter_build(self, params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        if model.service_model.service_name != "dynamodb":
            return
        members = getattr(model.input_shape, "members", {}) if model.input_shape is not None else {}
        if "ReturnConsumedCapacity" in members and "ReturnConsumedCapacity" not in params:
            params["ReturnConsumedCapacity"] = "TOTAL"
        if isinstance(context, dict):  # before-call sees the serialized request: remember the tables
            context["benchmark_tables"] = _tables_of(params)

    def before_call(self, model: Any, context: Any = None, **_: Any) -> None:
        active = self._active()
        if not active:
            return
        service = model.service_model.service_name
        tables: tuple[str, ...] = ()
        if service == "dynamodb" and isinstance(context, dict):
            tables = tuple(context.get("benchmark_tables") or ())
        call = Call(service, model.name, tables, FUNCTION.get() or "harness")
        if isinstance(context, dict):
            context["benchmark_started"] = time.perf_counter()
        with _lock:
            for cap in active:
                cap.calls.append(call)

    def before_send(self, **_: Any) -> None:
        active = self._active()
        with _lock:
            for cap in active:
                cap.attempts += 1

    def after_call(self, parsed: Any, model: Any, context: Any = None, **_: Any) -> None:
        started = context.get("benchmark_started") if isinstance(context, dict) else None
        if started is not None:
            seconds = time.perf_counter() - started
            function = FUNCTION.get() or "harness"
            operation = f"{model.service_model.service_name}.{model.name}"
            active = self._active()
            with _lock:
                for cap in active:
                    cap.waits.append((function, operation, seconds))
        if model.service_model.service_name != "dynamodb" or not isinstance(parsed, dict):
            return
        consumed = parsed.get("ConsumedCapacity")
        if consumed is None:
            return
        units = sum(_units(item) for item in (consumed if isinstance(consumed, list) else [consumed]))
        active = self._active()
        function = FUNCTION.get() or "harness"
        with _lock:
            for cap in active:
                cap.consumed.append((function, units))


def _units(item: Any) -> float:
    if not isinstance(item, dict):
        return 0.0
    if "CapacityUnits" in item:
        return float(item["CapacityUnits"] or 0)
    return float(item.get("ReadCapacityUnits") or 0) + float(item.get("WriteCapacityUnits") or 0)


def _tables_of(params: dict[str, Any]) -> tuple[str, ...]:
    if "TableName" in params:
        return (str(params["TableName"]),)
    names: list[str] = []
    for key in ("RequestItems",):  # BatchGetItem, BatchWriteItem
        names.extend(params.get(key) or {})
    for entry in params.get("TransactItems") or []:  # TransactWriteItems, TransactGetItems
        for action in entry.values():
            if isinstance(action, dict) and "TableName" in action:
                names.append(str(action["TableName"]))
    return tuple(dict.fromkeys(names))


CALLS = CallLog()


def install() -> CallLog:
    """Hook every botocore client created from now on (idempotent)."""
    global _installed
    if _installed:
        return CALLS
    import botocore.session

    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        client = original(self, *args, **kwargs)
        CALLS.client_created(client.meta.service_model.service_name, time.perf_counter() - started)
        events = client.meta.events
        events.register("before-parameter-build", CALLS.before_parameter_build)
        events.register("before-call", CALLS.before_call)
        events.register("before-send", CALLS.before_send)
        events.register("after-call", CALLS.after_call)
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    _propagate_context_to_thread_pools()
    _installed = True
    return CALLS


def _propagate_context_to_thread_pools() -> None:
    """Work a function hands to a ThreadPoolExecutor (parallel S3 uploads, say) runs in the submitter's
    context, so its AWS calls stay attributed to the function (executors do not copy contexts)."""
    from concurrent.futures import ThreadPoolExecutor

    original = ThreadPoolExecutor.submit

    def submit(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        if FUNCTION.get() is None:
            return original(self, fn, *args, **kwargs)
        return original(self, contextvars.copy_context().run, fn, *args, **kwargs)

    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]


def attribute(runtime: Any) -> Any:
    """Make `runtime` (an infra.local FunctionRuntime) run every handler with FUNCTION set."""
    if getattr(runtime, "_benchmark_attributed", False):
        return runtime
    original = runtime.handler
    wrapped: dict[tuple[str, int], Any] = {}

    def handler(function_id: str) -> Any:
        inner = original(function_id)
        key = (function_id, id(inner))
        if key in wrapped:
            return wrapped[key]

        @functools.wraps(inner)
        def run(event: Any, context: Any) -> Any:
            token = FUNCTION.set(function_id)
            try:
                return inner(event, context)
            finally:
                FUNCTION.reset(token)

        wrapped[key] = run
        return run

    runtime.handler = handler
    runtime._benchmark_attributed = True
    return runtime
