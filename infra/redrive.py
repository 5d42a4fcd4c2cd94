"""Move messages from a dead-letter queue back to its source queue, once the cause is fixed.

    python -m infra.redrive --local                      # ParseDeadLetterQueue -> ParseQueue
    python -m infra.redrive --local --queue cleanup      # CleanupDeadLetterQueue -> CleanupQueue
    python -m infra.redrive --stack kb-ingest            # AWS: queues from the CloudFormation stack
    python -m infra.redrive --dlq-url URL --queue-url URL --dry-run

In AWS the move is SQS's own: a message move task (StartMessageMoveTask, the console's "Start DLQ
redrive"), followed until it ends (ListMessageMoveTasks) and reported with SQS's counts. The caller
needs sqs:StartMessageMoveTask, sqs:ListMessageMoveTasks, sqs:GetQueueAttributes, ReceiveMessage and
DeleteMessage on the dead-letter queue, and sqs:SendMessage on the source queue.

The local stack's moto has no message move tasks, so --local (and --max N, which a task cannot
limit) moves messages itself: received ten at a time until the dead-letter queue answers empty
(or --max is reached); each is sent to the source queue with its message attributes, and deleted
from the dead-letter queue only once the send succeeded. A message whose send failed is made
visible again at once. Every message moved is listed on one line.

--dry-run only looks: messages are received with a short visibility timeout, never deleted,
and made visible again as soon as the listing is done (a consumer of the dead-letter queue, if
there is one, could see them a moment later than otherwise; their receive count goes up by one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

STACK_FILE = Path(__file__).resolve().parent.parent / ".local" / "stack.json"
# --queue NAME -> (dead-letter queue, source queue): template.yaml's logical ids.
QUEUES = {
    "parse": ("ParseDeadLetterQueue", "ParseQueue"),
    "cleanup": ("CleanupDeadLetterQueue", "CleanupQueue"),
    "index": ("IndexDeadLetterQueue", "IndexQueue"),  # FIFO: group and deduplication ids kept
}
BATCH = 10
WAIT_SECONDS = 1
# A dry run hides what it received this long, so that the next receive returns other messages;
# everything is made visible again when the run ends (or by SQS after this long if it dies).
DRY_RUN_VISIBILITY = 30
SUMMARY_CHARS = 80
MAX_BATCH_BYTES = 250_000  # SendMessageBatch takes 256 KiB in all (bodies and attributes)
_SEND_ATTRIBUTE_FIELDS = ("DataType", "StringValue", "BinaryValue")
# System attributes that a FIFO destination needs back.
_FIFO_ATTRIBUTES = ("MessageGroupId", "MessageDeduplicationId")


def _messages(n: int) -> str:
    return f"{n} message" + ("" if n == 1 else "s")


class RedriveError(Exception):
    """A usage or configuration problem (exit code 2)."""


@dataclass
class MovedMessage:
    message_id: str
    summary: str
    new_message_id: str | None = None  # on the source queue; None in a dry run or when the send failed
    error: str | None = None


@dataclass
class RedriveReport:
    dlq_url: str
    queue_url: str
    dry_run: bool
    messages: list[MovedMessage] = field(default_factory=list)

    @property
    def moved(self) -> list[MovedMessage]:
        return [m for m in self.messages if m.new_message_id is not None]

    @property
    def failed(self) -> list[MovedMessage]:
        return [m for m in self.messages if m.error is not None]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def count(self) -> int:
        """Messages moved (in a dry run: messages that would be)."""
        return len(self.messages) if self.dry_run else len(self.moved)

    def format(self) -> str:
        if self.dry_run:
            head = (
                f"dry run: {_messages(len(self.messages))} on {self.dlq_url} would go to {self.queue_url}; "
                "nothing was sent or deleted (received with a short visibility timeout and made visible again)"
            )
        else:
            head = f"moved {_messages(len(self.moved))} from {self.dlq_url} to {self.queue_url}"
            if self.failed:
                head += f"; {len(self.failed)} could not be sent and stay on the dead-letter queue"
        lines = [head]
        for m in self.messages:
            mark = "FAILED " if m.error else ""
            suffix = f"  ({m.error})" if m.error else ""
            lines.append(f"  {mark}{m.message_id}  {m.summary}{suffix}")
        return "\n".join(lines)


# ---------------------------------------------------------------- summaries
def summarize(body: str) -> str:
    """One line: a job and its ids, an S3 event's name and key, else the start of the body."""
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        data = None
    if isinstance(data, dict):
        if "job" in data:
            ids = [f"{k}={data[k]}" for k in ("document_id", "dataset_id") if data.get(k)]
            return " ".join([f"job={data['job']}", *ids])
        if isinstance(data.get("Records"), list):
            parts = []
            for record in data["Records"]:
                if not isinstance(record, dict):
                    continue
                key = ((record.get("s3") or {}).get("object") or {}).get("key", "?")
                parts.append(f"{record.get('eventName', '?')} {unquote_plus(str(key))}")
            if parts:
                return "; ".join(parts)
        if data.get("Event") == "s3:TestEvent":
            return "s3:TestEvent"
    text = " ".join(str(body).split())
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS]


def _send_attributes(attributes: dict[str, Any] | None) -> dict[str, Any]:
    """Received message attributes in the shape SendMessage takes (no empty list fields)."""
    return {
        name: {k: v for k, v in value.items() if k in _SEND_ATTRIBUTE_FIELDS}
        for name, value in (attributes or {}).items()
    }


# ---------------------------------------------------------------- the redrive
def redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    max_messages: int | None = None,
    dry_run: bool = False,
) -> RedriveReport:
    """Move (or with dry_run, list) messages from dlq_url to queue_url; see the module doc."""
    if max_messages is not None and max_messages < 0:
        raise ValueError("max_messages must be >= 0")
    report = RedriveReport(dlq_url, queue_url, dry_run)
    fifo = queue_url.endswith(".fifo")
    seen: set[str] = set()
    held: list[dict[str, str]] = []  # dry run: (Id, ReceiptHandle) to make visible again
    try:
        while max_messages is None or len(report.messages) < max_messages:
            wanted = BATCH if max_messages is None else min(BATCH, max_messages - len(report.messages))
            receive: dict[str, Any] = {
                "QueueUrl": dlq_url,
                "MaxNumberOfMessages": wanted,
                "WaitTimeSeconds": WAIT_SECONDS,
                "MessageAttributeNames": ["All"],
                "AttributeNames": ["All"],
            }
            if dry_run:
                receive["VisibilityTimeout"] = DRY_RUN_VISIBILITY
            messages = sqs.receive_message(**receive).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if dry_run:
                held.extend(handle(m) for m in messages)
            elif len(fresh) < len(messages):
                again = [m for m in messages if m["MessageId"] in seen]
                moved = {m.message_id for m in report.moved}
                # A second delivery of a message already moved: the copy goes too.
                _delete(sqs, dlq_url, [m for m in again if m["MessageId"] in moved])
                # Messages this run could not send came back: leave them visible for another try.
                _release(sqs, dlq_url, [handle(m) for m in again if m["MessageId"] not in moved])
            if not fresh:
                break  # empty, or (dry run) only what this run already holds came back
            seen.update(m["MessageId"] for m in fresh)
            if dry_run:
                report.messages.extend(MovedMessage(m["MessageId"], summarize(m.get("Body", ""))) for m in fresh)
            else:
                report.messages.extend(_move_batch(sqs, dlq_url, queue_url, fresh, fifo))
    finally:
        if held:
            _release(sqs, dlq_url, held)
    return report


def handle(message: dict[str, Any]) -> dict[str, str]:
    return {"Id": "", "ReceiptHandle": message["ReceiptHandle"]}


def _entry(message: dict[str, Any], position: int, fifo: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(position), "MessageBody": message["Body"]}
    attributes = _send_attributes(message.get("MessageAttributes"))
    if attributes:
        entry["MessageAttributes"] = attributes
    if fifo:
        system = message.get("Attributes") or {}
        entry["MessageGroupId"] = system.get("MessageGroupId") or "redrive"
        entry["MessageDeduplicationId"] = system.get("MessageDeduplicationId") or message["MessageId"]
    return entry


def _entry_bytes(entry: dict[str, Any]) -> int:
    size = len(entry["MessageBody"].encode())
    for name, value in (entry.get("MessageAttributes") or {}).items():
        size += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        size += len(str(value.get("StringValue", "")).encode()) + len(value.get("BinaryValue", b"") or b"")
    return size


def _send(sqs: Any, queue_url: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """SendMessageBatch, or one SendMessage per entry when the batch would pass SQS's 256 KiB."""
    if sum(_entry_bytes(e) for e in entries) <= MAX_BATCH_BYTES:
        return sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    answer: dict[str, Any] = {"Successful": [], "Failed": []}
    for entry in entries:
        one = {k: v for k, v in entry.items() if k != "Id"}
        try:
            sent = sqs.send_message(QueueUrl=queue_url, **one)
        except Exception as error:
            answer["Failed"].append({"Id": entry["Id"], "Code": type(error).__name__, "Message": str(error)})
        else:
            answer["Successful"].append({"Id": entry["Id"], "MessageId": sent["MessageId"]})
    return answer


def _delete(sqs: Any, dlq_url: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    if not messages:
        return {}
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    return sqs.delete_message_batch(QueueUrl=dlq_url, Entries=entries)


def _move_batch(
    sqs: Any, dlq_url: str, queue_url: str, messages: list[dict[str, Any]], fifo: bool
) -> list[MovedMessage]:
    results = [MovedMessage(m["MessageId"], summarize(m.get("Body", ""))) for m in messages]
    try:
        response = _send(sqs, queue_url, [_entry(m, i, fifo) for i, m in enumerate(messages)])
    except Exception as error:
        for result in results:
            result.error = f"send failed: {error}"
        _release(sqs, dlq_url, [handle(m) for m in messages])
        return results
    for sent in response.get("Successful", []):
        results[int(sent["Id"])].new_message_id = sent["MessageId"]
    for failed in response.get("Failed", []):
        results[int(failed["Id"])].error = f"send failed: {failed.get('Code')}: {failed.get('Message', '')}".strip()
    done = [i for i, r in enumerate(results) if r.new_message_id is not None]
    deleted = _delete(sqs, dlq_url, [messages[i] for i in done])
    for failed in deleted.get("Failed", []):
        # Sent but still on the dead-letter queue: it would be moved twice. Say so.
        result = results[done[int(failed["Id"])]]
        result.error = f"sent, but not deleted from the dead-letter queue: {failed.get('Message', failed)}"
    _release(sqs, dlq_url, [handle(messages[i]) for i, r in enumerate(results) if r.new_message_id is None])
    return results


def _release(sqs: Any, dlq_url: str, entries: list[dict[str, str]]) -> None:
    """Make received messages visible again now (best effort: SQS does it anyway when their
    visibility timeout ends)."""
    for start in range(0, len(entries), BATCH):
        batch = [{**e, "Id": str(i), "VisibilityTimeout": 0} for i, e in enumerate(entries[start : start + BATCH])]
        try:
            sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=batch)
        except Exception as error:  # pragma: no cover - best effort
            print(f"warning: could not make messages visible again: {error}", file=sys.stderr)


# ---------------------------------------------------------------- SQS's message move task (AWS)
MOVE_TASK_POLL_SECONDS = 2.0
_MOVE_TASK_ENDED = ("COMPLETED", "FAILED", "CANCELLED")


@dataclass
class MoveTaskReport:
    dlq_url: str
    queue_url: str
    task_handle: str
    status: str
    moved: int
    to_move: int | None
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED"

    def format(self) -> str:
        head = f"moved {_messages(self.moved)} from {self.dlq_url} to {self.queue_url}"
        head += f" (SQS message move task, {self.status.lower()})"
        if self.failure:
            head += f": {self.failure}"
        left = None if self.to_move is None else max(self.to_move - self.moved, 0)
        if left:
            head += f"; about {_messages(left)} not moved"
        return head


def queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def move_with_task(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    *,
    poll_seconds: float = MOVE_TASK_POLL_SECONDS,
    sleep: Any = time.sleep,
) -> MoveTaskReport:
    """Start SQS's message move task from dlq_url to queue_url and wait until it ends."""
    dlq_arn, destination_arn = queue_arn(sqs, dlq_url), queue_arn(sqs, queue_url)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=destination_arn)["TaskHandle"]
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", [])
        task = tasks[0] if tasks else {}
        status = str(task.get("Status", "RUNNING"))
        if status in _MOVE_TASK_ENDED:
            to_move = task.get("ApproximateNumberOfMessagesToMove")
            return MoveTaskReport(
                dlq_url,
                queue_url,
                handle,
                status,
                moved=int(task.get("ApproximateNumberOfMessagesMoved", 0)),
                to_move=None if to_move is None else int(to_move),
                failure=task.get("FailureReason"),
            )
        sleep(poll_seconds)


# ---------------------------------------------------------------- resolving the queues
def local_queue_urls(state_file: Path, pair: tuple[str, str]) -> tuple[str, str, dict[str, Any]]:
    if not state_file.exists():
        raise RedriveError(f"{state_file} not found: start the local stack with `make serve` first.")
    details = json.loads(state_file.read_text())
    queues = details.get("queues") or {}
    missing = [lid for lid in pair if lid not in queues]
    if missing:
        raise RedriveError(f"the local stack has no {', '.join(missing)} (queues: {', '.join(sorted(queues))})")
    return queues[pair[0]], queues[pair[1]], details


def stack_queue_urls(cloudformation: Any, stack: str, pair: tuple[str, str]) -> tuple[str, str]:
    """Queue URLs of a deployed stack: an SQS queue's physical id is its URL."""
    urls = []
    for logical_id in pair:
        try:
            resource = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
        except Exception as error:
            raise RedriveError(f"stack {stack}: cannot find {logical_id}: {error}") from None
        urls.append(resource["StackResourceDetail"]["PhysicalResourceId"])
    return urls[0], urls[1]


def _sqs_client(service: str, region: str | None, local: dict[str, Any] | None) -> Any:
    import boto3

    if local is None:
        return boto3.session.Session(region_name=region).client(service)
    # Explicit endpoint and dummy credentials: never real credentials to the local stack.
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=local["region"]
    ).client(service, endpoint_url=local["aws_endpoint_url"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.redrive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--local", action="store_true", help="the stack `make serve` runs (.local/stack.json)")
    parser.add_argument("--state-file", default=str(STACK_FILE), help=argparse.SUPPRESS)
    parser.add_argument("--queue", choices=sorted(QUEUES), default="parse", help="which pair (default parse)")
    parser.add_argument("--stack", help="AWS: the CloudFormation stack to find the queues in")
    parser.add_argument("--dlq-url", help="AWS: the dead-letter queue URL")
    parser.add_argument("--queue-url", help="AWS: the source queue URL")
    parser.add_argument("--region", help="AWS region (default: the usual AWS configuration)")
    parser.add_argument("--max", type=int, dest="max_messages", metavar="N", help="move at most N messages")
    parser.add_argument("--dry-run", action="store_true", help="list the messages; move nothing")
    args = parser.parse_args(argv)
    if args.max_messages is not None and args.max_messages < 1:
        parser.error("--max must be at least 1")
    explicit = args.dlq_url or args.queue_url
    if sum(bool(x) for x in (args.local, args.stack, explicit)) != 1:
        parser.error("say where the queues are: --local, --stack NAME, or --dlq-url URL --queue-url URL")
    if explicit and not (args.dlq_url and args.queue_url):
        parser.error("--dlq-url and --queue-url go together")

    pair = QUEUES[args.queue]
    try:
        local = None
        if args.local:
            dlq_url, queue_url, local = local_queue_urls(Path(args.state_file), pair)
        elif args.stack:
            dlq_url, queue_url = stack_queue_urls(_sqs_client("cloudformation", args.region, None), args.stack, pair)
        else:
            dlq_url, queue_url = args.dlq_url, args.queue_url
        if dlq_url == queue_url:
            raise RedriveError("the dead-letter queue and the source queue are the same queue")
        sqs = _sqs_client("sqs", args.region, local)
        report: RedriveReport | MoveTaskReport
        if local is None and args.max_messages is None and not args.dry_run:
            report = move_with_task(sqs, dlq_url, queue_url)
        else:  # moto has no message move tasks; a task cannot stop after N messages
            report = redrive(sqs, dlq_url, queue_url, max_messages=args.max_messages, dry_run=args.dry_run)
    except RedriveError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        if type(error).__module__.startswith("botocore"):
            print(f"error: {error}", file=sys.stderr)
            return 1
        raise
    print(report.format())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
