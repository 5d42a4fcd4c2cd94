"""DynamoDB stream event sources of the template's functions, polled from moto as Lambda polls them.

    pollers = stream_pollers(workers)      # one per `Type: DynamoDB` event; BackgroundWorkers starts them
    poller.caught_up()                     # nothing read and not yet handed to the function

moto implements DescribeStream, GetShardIterator and GetRecords (one shard per table). Each
poller starts at the end of the stream (LATEST): moto does not keep stream records across a
restart, and the records of items the local stack restores from its journal are not changes.
What a restart loses is repaired where AWS would have to repair it too (the index's reconcile).

moto keeps every record of a stream for the life of the process (AWS trims them after 24 hours),
each with the item's images: a long ingest held all of them. Once every poller of a table has
read a record and it is ten minutes old, it is dropped from moto's shard (`trim_read_records`),
and the shard's starting sequence number moves past it, as a trimmed shard's does. moto also keeps
every shard iterator it answers; a poller drops its own half a minute after moving past them.

Per batch (up to the event's BatchSize, waiting MaximumBatchingWindowInSeconds for more), the
function is invoked with Lambda's DynamoDB event. With ReportBatchItemFailures, the batch is
retried from the lowest `itemIdentifier` it returns; on an error or a timeout, from its first
record, halved first when BisectBatchOnFunctionError is set. After MaximumRetryAttempts retries
of a batch, a message naming it goes to the OnFailure destination (an SQS queue of the
template), as Lambda's does, and polling moves past it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from datetime import timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from infra.local.template import referenced_id

if TYPE_CHECKING:
    from infra.local.poller import BackgroundWorkers

log = logging.getLogger("infra.local.streams")

POLL_SECONDS = 0.1
# How long a record every poller has read stays in moto's shard (AWS keeps 24 hours): long enough
# for anyone else reading the stream now (a test, a script), short enough to bound the memory.
STREAM_RETENTION_SECONDS = 600.0
# How long a poller keeps an iterator it has moved past: `caught_up()`, called from other threads,
# may be about to read with the one it saw last.
SPENT_ITERATOR_SECONDS = 30.0
DEFAULT_BATCH_SIZE = 100
DEFAULT_RETRIES = 10_000  # Lambda's default is -1 (until the record expires)


def dynamodb_event(records: list[dict[str, Any]], stream_arn: str, region: str) -> dict[str, Any]:
    return {
        "Records": [
            {**record, "eventSource": "aws:dynamodb", "eventSourceARN": stream_arn, "awsRegion": region}
            for record in records
        ]
    }


def _sequence(record: dict[str, Any]) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


class StreamPoller(threading.Thread):
    """One DynamoDB event of a function: reads the table's stream and invokes the function."""

    def __init__(self, workers: BackgroundWorkers, function_id: str, event_name: str, props: dict[str, Any]) -> None:
        super().__init__(name=f"stream:{function_id}.{event_name}", daemon=True)
        self.workers = workers
        self.function_id = function_id
        self.props = props
        self.table_id = referenced_id(props.get("Stream")) or ""
        self.batch_size = int(props.get("BatchSize", DEFAULT_BATCH_SIZE))
        self.window = float(props.get("MaximumBatchingWindowInSeconds", 0))
        self.bisect = str(props.get("BisectBatchOnFunctionError", False)).lower() == "true"
        self.retries = int(props.get("MaximumRetryAttempts", -1))
        if self.retries < 0:
            self.retries = DEFAULT_RETRIES
        self.report_failures = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        self.on_failure_queue = referenced_id(destination) if destination else None
        self.buffer: list[dict[str, Any]] = []  # read, not yet handled
        self.busy = False
        self.invocations = 0
        self.discarded = 0
        self.stream_arn = ""
        self._iterator: str | None = None
        self._ready = threading.Event()
        self.read_before: int | None = None  # the sequence number after the last record read
        self._spent: deque[tuple[float, str]] = deque()  # (when, iterator) moved past, forgotten later
        self.trimmed = 0  # records of moto's shard this poller found read by every poller and dropped

    # ------------------------------------------------------------ reading
    def _open(self) -> None:
        stack = self.workers.stack
        table = stack.table_names[self.table_id]
        self.stream_arn = stack.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
        streams = stack.client("dynamodbstreams")
        shard = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0]
        self._iterator = streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
        )["ShardIterator"]

    def _read(self) -> None:
        response = self.workers.stack.client("dynamodbstreams").get_records(ShardIterator=self._iterator, Limit=1000)
        # Buffered before the iterator moves on, so caught_up() never sees neither.
        records = json.loads(json.dumps(response.get("Records") or [], default=_json_default))
        self.buffer.extend(records)
        used, self._iterator = self._iterator, response.get("NextShardIterator") or self._iterator
        now = time.monotonic()
        if used is not None and used != self._iterator:
            self._spent.append((now, used))
        while self._spent and now - self._spent[0][0] > SPENT_ITERATOR_SECONDS:
            self._forget_iterator(self._spent.popleft()[1])
        if records:
            self.read_before = _sequence(records[-1]) + 1
            self.trimmed += trim_read_records(self.workers, self.table_id)

    def caught_up(self) -> bool:
        """Every record written so far read and handled. moto's shard iterators can be read
        again, so this looks at the stream without taking anything from the poll loop."""
        if not self._ready.is_set() or self.busy or self.buffer or self._iterator is None:
            return False
        streams = self.workers.stack.client("dynamodbstreams")
        response = streams.get_records(ShardIterator=self._iterator, Limit=1)
        if response.get("NextShardIterator") not in (None, self._iterator):
            self._forget_iterator(response["NextShardIterator"])  # nobody else knows this one
        return not response.get("Records")

    def _forget_iterator(self, iterator: str | None) -> None:
        """moto keeps every shard iterator it hands out (each GetRecords answers a new one) for the
        life of the process: an idle poller reading ten times a second left 36,000 an hour. This
        poller and `caught_up()` are the only users of its iterators, so the ones it has been
        done with for SPENT_ITERATOR_SECONDS are dropped."""
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        stack = self.workers.stack
        dynamodbstreams_backends[stack.account_id][stack.region].shard_iterators.pop(iterator or "", None)

    # ------------------------------------------------------------ the loop
    def run(self) -> None:
        stop = self.workers.stop_event
        try:
            self._open()
        except Exception as exc:
            log.warning("%s: stream not opened: %s", self.name, exc)
            return
        self._ready.set()
        while not stop.is_set():
            try:
                self._read()
            except Exception as exc:
                if stop.is_set():
                    break
                log.warning("%s: read failed: %s", self.name, exc)
                stop.wait(1)
                continue
            if not self.buffer:
                stop.wait(POLL_SECONDS)
                continue
            if self.window and len(self.buffer) < self.batch_size and not stop.wait(self.window):
                try:
                    self._read()
                except Exception as exc:
                    log.warning("%s: read failed: %s", self.name, exc)
            self.busy = True
            try:
                self._deliver(self.buffer[: self.batch_size])
            finally:
                self.busy = False

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Hand one batch to the function until it is handled or its retries are spent."""
        attempts = 0
        while batch and not self.workers.stop_event.is_set():
            invocation = self.workers.runtime.invoke(
                self.function_id,
                dynamodb_event(batch, self.stream_arn, self.workers.stack.region),
                cancel=self.workers.stop_event,
            )
            self.invocations += 1
            failed_from = self._failed_from(batch, invocation)
            if failed_from is None:
                self._done(len(batch))
                return
            done = [record for record in batch if _sequence(record) < failed_from]
            self._done(len(done))
            batch = [record for record in batch if _sequence(record) >= failed_from]
            attempts += 1
            if attempts > self.retries:
                self._give_up(batch, invocation)
                self._done(len(batch))
                return
            if not invocation.ok and self.bisect and len(batch) > 1:
                batch = batch[: len(batch) // 2]
            self.workers.stop_event.wait(min(0.1 * attempts, 2.0))

    def _failed_from(self, batch: list[dict[str, Any]], invocation: Any) -> int | None:
        """The sequence number to retry from, or None when the whole batch is done."""
        if not invocation.ok:
            return _sequence(batch[0])
        result = invocation.result if isinstance(invocation.result, dict) else {}
        failures = result.get("batchItemFailures") if self.report_failures else None
        if not failures:
            return None
        try:
            return min(int(failure["itemIdentifier"]) for failure in failures)
        except (KeyError, TypeError, ValueError):
            return _sequence(batch[0])  # an invalid failure list fails the whole batch, as Lambda does

    def _done(self, count: int) -> None:
        del self.buffer[:count]

    def _give_up(self, batch: list[dict[str, Any]], invocation: Any) -> None:
        self.discarded += len(batch)
        log.error("%s: %d record(s) discarded after %d retries", self.name, len(batch), self.retries)
        if self.on_failure_queue is None:
            return
        stack = self.workers.stack
        url = stack.queue_urls.get(self.on_failure_queue)
        if url is None:
            return
        body = {
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.function_id},
            "responseContext": {"functionError": None if invocation.ok else "Unhandled"},
            "DDBStreamBatchInfo": {
                "shardId": "local",
                "startSequenceNumber": str(_sequence(batch[0])),
                "endSequenceNumber": str(_sequence(batch[-1])),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        stack.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(body))


def _json_default(value: Any) -> Any:
    if hasattr(value, "timestamp"):
        return value.timestamp()
    if isinstance(value, bytes | bytearray):
        import base64

        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, set):
        return sorted(value)
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def trim_read_records(workers: BackgroundWorkers, table_id: str) -> int:
    """Drop the records of the table's stream that every poller of it has read (they keep their
    own copies until handled) and that are older than STREAM_RETENTION_SECONDS; how many were
    dropped. Under the DynamoDB lock, which moto's writes append to the shard under, and its
    reads (`StreamShard.get`) are taken under too."""
    from moto.core.utils import utcnow
    from moto.dynamodb.models import dynamodb_backends

    from infra.local.stack import _DYNAMODB_LOCK

    positions = [poller.read_before for poller in workers.streams if poller.table_id == table_id]
    read_by_all = min((p for p in positions if p is not None), default=None)
    if read_by_all is None or None in positions:
        return 0
    stack = workers.stack
    table = dynamodb_backends[stack.account_id][stack.region].tables.get(stack.table_names.get(table_id, ""))
    shard = getattr(table, "stream_shard", None)
    if shard is None:
        return 0
    cutoff = utcnow() - timedelta(seconds=STREAM_RETENTION_SECONDS)  # moto's clock: naive UTC
    with _DYNAMODB_LOCK:
        start = shard.starting_sequence_number
        dropped = 0
        # Oldest first, without copying the list: the first record too young ends the walk.
        for record in islice(shard.items, max(0, read_by_all - start)):
            if record.record["dynamodb"]["ApproximateCreationDateTime"] > cutoff:
                break  # records are in write order: the rest are younger
            dropped += 1
        if dropped <= 0:
            return 0
        del shard.items[:dropped]
        shard.starting_sequence_number += dropped
    return dropped


def stream_pollers(workers: BackgroundWorkers) -> list[StreamPoller]:
    """One poller per `Type: DynamoDB` event of the template's functions."""
    found = []
    for fn in workers.template.functions.values():
        for event_name, event in (fn.properties.get("Events") or {}).items():
            if event.get("Type") != "DynamoDB":
                continue
            props = event.get("Properties") or {}
            if str(props.get("Enabled", True)).lower() == "false":
                continue
            found.append(StreamPoller(workers, fn.logical_id, event_name, props))
    return found
