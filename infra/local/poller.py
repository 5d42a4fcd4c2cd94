"""The asynchronous side of the template's functions: SQS event-source mappings and Schedule events.

    workers = BackgroundWorkers(stack, runtime).start()
    workers.invoke_scheduled("PurgeDatasetFunction")   # one scheduled run, now, by hand
    workers.wait_idle(timeout=30)                        # every polled queue empty, nothing in flight
    workers.stop()

SQS: one thread per SQS event of a function long-polls its queue (WaitTimeSeconds=1, so shutdown is
prompt) for up to BatchSize messages (at most 10) whenever one of its concurrency slots is free
(KB_LOCAL_MAX_CONCURRENCY, else the event's ScalingConfig.MaximumConcurrency, else 4), invokes the
handler in a thread of its own with the event Lambda's event-source mapping builds, and deletes
what succeeded: everything when the handler returns,
nothing when it raises or times out, and with ReportBatchItemFailures every message not listed in
`batchItemFailures` (an invalid failure list fails the whole batch, as Lambda does). Failed messages
come back after the queue's visibility timeout, and moto's redrive moves them to the dead-letter
queue after maxReceiveCount receives.

Schedules: one thread per Schedule event invokes the function at its rate (or cron), or every
KB_LOCAL_SCHEDULE_SECONDS seconds when that is set, with EventBridge's scheduled-event shape (or the
event's constant Input). A failed scheduled run is logged, not retried.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from infra.local.runtime import FunctionRuntime, Invocation
from infra.local.stack import LocalStack
from infra.local.template import ScheduleSource, SqsSource

log = logging.getLogger("infra.local.poller")

SCHEDULE_ENV = "KB_LOCAL_SCHEDULE_SECONDS"
CONCURRENCY_ENV = "KB_LOCAL_MAX_CONCURRENCY"
DEFAULT_CONCURRENCY = 4  # concurrent batches per SQS source when neither the template nor the environment says
MAX_SQS_BATCH = 10  # one ReceiveMessage call


# ---------------------------------------------------------------- SQS events
def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One message as a record of the event Lambda's SQS event-source mapping sends."""
    attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        attr: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            attr["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            attr["binaryValue"] = base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
        attributes[name] = attr
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def sqs_event(messages: Iterable[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [sqs_record(m, queue_arn, region) for m in messages]}


def messages_to_delete(
    messages: Sequence[dict[str, Any]], invocation: Invocation, report_batch_item_failures: bool
) -> list[dict[str, Any]]:
    """What Lambda's event-source mapping deletes after an invocation."""
    if not invocation.ok:
        return []
    if not report_batch_item_failures:
        return list(messages)
    result = invocation.result
    if result is None:
        return list(messages)
    if not isinstance(result, dict):
        return []  # an invalid response fails the whole batch
    failures = result.get("batchItemFailures")
    if failures is None:
        return list(messages)
    if not isinstance(failures, list):
        return []
    ids = {m["MessageId"] for m in messages}
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in ids:
            return []  # empty, null or unknown identifiers fail the whole batch
        failed.add(identifier)
    return [m for m in messages if m["MessageId"] not in failed]


# ---------------------------------------------------------------- schedules
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int | None:
    """Seconds between runs of a `rate(...)` expression; None for anything else."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    value, unit = int(match.group(1)), match.group(2).rstrip("s")
    if value <= 0 or (value == 1) != (not match.group(2).endswith("s")):
        raise ValueError(f"invalid rate expression {expression!r}")
    return value * _UNIT_SECONDS[unit]


_MONTHS = {
    m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


class CronSchedule:
    """EventBridge's `cron(minutes hours day-of-month month day-of-week year)`, in UTC.

    Supports `*`, `?`, lists, ranges, steps and names; `L`, `W` and `#` raise ValueError.
    """

    _BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199))

    def __init__(self, expression: str) -> None:
        match = re.match(r"^cron\((.*)\)$", expression.strip())
        fields = match.group(1).split() if match else []
        if len(fields) != 6:
            raise ValueError(f"invalid cron expression {expression!r}")
        self.expression = expression
        self.any_dom = fields[2] == "?"
        self.any_dow = fields[4] == "?"
        names: list[dict[str, int]] = [{}, {}, {}, _MONTHS, _DAYS, {}]
        self.sets = [self._field(f, b, n) for f, b, n in zip(fields, self._BOUNDS, names, strict=True)]

    @staticmethod
    def _field(text: str, bounds: tuple[int, int], names: dict[str, int]) -> set[int]:
        low, high = bounds
        if any(c in text.upper() for c in "LW#") and not any(text.upper().startswith(n) for n in names):
            raise ValueError(f"cron field {text!r}: L, W and # are not supported locally")
        values: set[int] = set()
        for part in text.split(","):
            body, _, step_text = part.partition("/")
            step = int(step_text) if step_text else 1
            if body in ("*", "?"):
                start, end = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                start, end = _cron_value(a, names), _cron_value(b, names)
            else:
                start = _cron_value(body, names)
                end = high if step_text else start
            values.update(range(start, end + 1, step))
        return {v for v in values if low <= v <= high}

    def matches(self, moment: dt.datetime) -> bool:
        minutes, hours, doms, months, dows, years = self.sets
        dow = (moment.weekday() + 1) % 7 + 1  # EventBridge: 1 = Sunday
        if self.any_dom:
            day_ok = dow in dows
        elif self.any_dow:
            day_ok = moment.day in doms
        else:
            day_ok = moment.day in doms and dow in dows
        return (
            moment.minute in minutes
            and moment.hour in hours
            and moment.month in months
            and moment.year in years
            and day_ok
        )

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        candidate = moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        for _ in range(366 * 24 * 60):
            if self.matches(candidate):
                return candidate
            candidate += dt.timedelta(minutes=1)
        return None


def _cron_value(text: str, names: dict[str, int]) -> int:
    return names[text.upper()] if text.upper() in names else int(text)


def scheduled_event(rule_arn: str, account_id: str, region: str, now: float | None = None) -> dict[str, Any]:
    """The event EventBridge sends a function on a schedule."""
    moment = dt.datetime.fromtimestamp(time.time() if now is None else now, tz=dt.UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


# ---------------------------------------------------------------- threads
def max_concurrency(source: SqsSource, local_setting: int | None = None) -> int:
    """Concurrent batches of an SQS event source: the local setting, else the template's
    ScalingConfig.MaximumConcurrency, else DEFAULT_CONCURRENCY."""
    if local_setting is None and os.environ.get(CONCURRENCY_ENV, "").strip():
        local_setting = int(os.environ[CONCURRENCY_ENV])
    if local_setting is not None:
        return max(1, int(local_setting))
    scaling = source.properties.get("ScalingConfig") or {}
    if isinstance(scaling, dict) and str(scaling.get("MaximumConcurrency", "")).strip().isdigit():
        return max(1, int(scaling["MaximumConcurrency"]))
    return DEFAULT_CONCURRENCY


class SqsPoller(threading.Thread):
    """One SQS event-source mapping: receives a batch whenever one of its concurrency slots is free
    and invokes the function for it in a thread of its own, as Lambda's pollers do."""

    def __init__(
        self,
        workers: BackgroundWorkers,
        source: SqsSource,
        queue_url: str,
        queue_arn: str,
        concurrency: int | None = None,
    ) -> None:
        super().__init__(name=f"sqs:{source.function_id}.{source.event_name}", daemon=True)
        self.workers = workers
        self.source = source
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.batch_size = max(1, min(source.batch_size, MAX_SQS_BATCH))
        self.concurrency = concurrency if concurrency is not None else max_concurrency(source)
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._lock = threading.Lock()
        self._batches: set[threading.Thread] = set()
        self.in_flight = 0  # messages in batches being processed
        self.invocations = 0
        self.deleted = 0
        self.failed = 0
        self.peak_concurrency = 0

    def run(self) -> None:
        stop = self.workers.stop_event
        sqs = self.workers.stack.client("sqs")
        while not stop.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                response = sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=self.batch_size,
                    WaitTimeSeconds=self.workers.wait_time_seconds,
                    MessageSystemAttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception as exc:  # moto going away at shutdown, or a transient error
                self._slots.release()
                if stop.is_set():
                    break
                log.warning("%s: receive failed: %s", self.name, exc)
                stop.wait(1)
                continue
            messages = response.get("Messages") or []
            if not messages:
                self._slots.release()
                continue
            batch = threading.Thread(target=self._batch, args=(sqs, messages), name=f"{self.name}#batch", daemon=True)
            with self._lock:
                self.in_flight += len(messages)
                self._batches.add(batch)
                self.peak_concurrency = max(self.peak_concurrency, len(self._batches))
            batch.start()
        with self._lock:
            running = list(self._batches)
        for batch in running:
            batch.join(10)

    def _batch(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        try:
            self._process(sqs, messages)
        finally:
            with self._lock:
                self.in_flight -= len(messages)
                self._batches.discard(threading.current_thread())
            self._slots.release()

    def _process(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        event = sqs_event(messages, self.queue_arn, self.workers.stack.region)
        invocation = self.workers.runtime.invoke(self.source.function_id, event, cancel=self.workers.stop_event)
        doomed = messages_to_delete(messages, invocation, self.source.report_batch_item_failures)
        if doomed:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(doomed)]
            try:
                sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception as exc:
                log.warning("%s: delete failed: %s", self.name, exc)
        with self._lock:
            self.invocations += 1
            self.deleted += len(doomed)
            self.failed += len(messages) - len(doomed)
        log.info(
            "%s: %d message(s) -> %s, %d deleted, %d left for retry (%.0f ms)%s",
            self.source.function_id,
            len(messages),
            "ok" if invocation.ok else "timed out" if invocation.timed_out else "error",
            len(doomed),
            len(messages) - len(doomed),
            invocation.duration_ms,
            "" if invocation.ok or invocation.timed_out else f": {(invocation.error or '').strip().splitlines()[-1:]}",
        )


class ScheduleRunner(threading.Thread):
    """One Schedule event of a function."""

    def __init__(
        self, workers: BackgroundWorkers, source: ScheduleSource, interval: float | None, cron: CronSchedule | None
    ) -> None:
        super().__init__(name=f"schedule:{source.function_id}.{source.event_name}", daemon=True)
        self.workers = workers
        self.source = source
        self.interval = interval
        self.cron = cron
        self.runs = 0

    def _delay(self) -> float | None:
        if self.interval is not None:
            return self.interval
        assert self.cron is not None
        now = dt.datetime.now(dt.UTC)
        upcoming = self.cron.next_after(now)
        return None if upcoming is None else (upcoming - now).total_seconds()

    def run(self) -> None:
        stop = self.workers.stop_event
        while not stop.is_set():
            delay = self._delay()
            if delay is None or stop.wait(delay):
                break
            invocation = self.workers._invoke_schedule(self.source, cancel=stop)
            self.runs += 1
            if not invocation.ok and not invocation.abandoned:
                log.error("%s: scheduled run failed: %s", self.name, invocation.error)


class BackgroundWorkers:
    """Every SQS event source and Schedule event of the template's functions."""

    def __init__(
        self,
        stack: LocalStack,
        runtime: FunctionRuntime,
        *,
        schedule_seconds: float | None = None,
        wait_time_seconds: int = 1,
        pollers: bool = True,
        schedules: bool = True,
        concurrency: int | None = None,
    ) -> None:
        self.stack = stack
        self.runtime = runtime
        self.template = stack.template
        if schedule_seconds is None and os.environ.get(SCHEDULE_ENV, "").strip():
            schedule_seconds = float(os.environ[SCHEDULE_ENV])
        self.schedule_seconds = schedule_seconds
        self.wait_time_seconds = wait_time_seconds
        self.stop_event = threading.Event()
        self.pollers: list[SqsPoller] = []
        self.schedulers: list[ScheduleRunner] = []
        self.warnings: list[str] = []
        resolver = stack.resolver
        for fn in self.template.functions.values():
            for source in fn.sqs_sources:
                if not pollers:
                    break
                if not source.enabled:
                    continue
                arn = str(resolver.resolve(source.queue, f"{fn.logical_id}.Events.{source.event_name}.Queue"))
                url = stack.queue_url_for_arn(arn)
                if url is None:
                    self.warnings.append(f"{fn.logical_id}.{source.event_name}: queue {arn} is not in the local stack")
                    continue
                if source.properties.get("FilterCriteria"):
                    self.warnings.append(f"{fn.logical_id}.{source.event_name}: FilterCriteria is not applied locally")
                self.pollers.append(SqsPoller(self, source, url, arn, max_concurrency(source, concurrency)))
            for schedule in fn.schedules:
                if not schedules or not schedule.enabled:
                    continue
                interval: float | None = self.schedule_seconds
                cron = None
                if interval is None:
                    interval = rate_seconds(schedule.expression)
                    if interval is None:
                        try:
                            cron = CronSchedule(schedule.expression)
                        except ValueError as exc:
                            self.warnings.append(f"{fn.logical_id}.{schedule.event_name}: not scheduled: {exc}")
                            continue
                self.schedulers.append(ScheduleRunner(self, schedule, interval, cron))
        from infra.local.streams import stream_pollers

        self.streams = stream_pollers(self) if pollers else []

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> BackgroundWorkers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> BackgroundWorkers:
        for warning in self.warnings:
            log.warning("local workers: %s", warning)
        for thread in [*self.pollers, *self.schedulers, *self.streams]:
            thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for thread in [*self.pollers, *self.schedulers, *self.streams]:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------ by hand
    def rule_arn(self, source: ScheduleSource) -> str:
        name = source.name or f"{self.stack.stack_name}-{source.function_id}{source.event_name}"
        return f"arn:aws:events:{self.stack.region}:{self.stack.account_id}:rule/{name}"

    def schedule_event(self, source: ScheduleSource) -> Any:
        if source.input is not None:
            return json.loads(source.input)
        return scheduled_event(self.rule_arn(source), self.stack.account_id, self.stack.region)

    def invoke_scheduled(self, function_id: str, event_name: str | None = None) -> Invocation:
        """Run a function's Schedule event now, synchronously (its first one unless named)."""
        fn = self.runtime.function(function_id)
        sources = [s for s in fn.schedules if event_name in (None, s.event_name)]
        if not sources:
            raise ValueError(f"{function_id} has no Schedule event{f' named {event_name}' if event_name else ''}")
        return self._invoke_schedule(sources[0])

    def _invoke_schedule(self, source: ScheduleSource, cancel: threading.Event | None = None) -> Invocation:
        invocation = self.runtime.invoke(source.function_id, self.schedule_event(source), cancel=cancel)
        log.info(
            "%s.%s (schedule) -> %s (%.0f ms)",
            source.function_id,
            source.event_name,
            "ok" if invocation.ok else "failed",
            invocation.duration_ms,
        )
        return invocation

    def wait_idle(self, timeout: float = 30.0, poll_interval: float = 0.2) -> bool:
        """Wait until every polled queue is empty (visible and in flight) and no batch is running."""
        sqs = self.stack.client("sqs")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = any(p.in_flight for p in self.pollers) or not all(s.caught_up() for s in self.streams)
            if not busy:
                for poller in self.pollers:
                    attrs = sqs.get_queue_attributes(
                        QueueUrl=poller.queue_url,
                        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                    )["Attributes"]
                    if int(attrs["ApproximateNumberOfMessages"]) or int(attrs["ApproximateNumberOfMessagesNotVisible"]):
                        busy = True
                        break
            if not busy:
                return True
            time.sleep(poll_interval)
        return False
