"""Adapters that make moto's SQS wait instead of spin, for the local stack only.

Each replaces one moto behaviour (moto 5.2, `moto/sqs/models.py`) and keeps its results:

- `SQSBackend.receive_message` (long polling): a ReceiveMessage that found nothing to deliver waits
  on the queue's condition "until `self.messages`", that is until any message is *visible*. On a
  FIFO queue a visible message whose group has a message in flight is not deliverable, so the
  predicate is true at once and the receive rescans the whole queue for the entire
  WaitTimeSeconds, holding the GIL: every idle poller of a busy FIFO queue (the search feed's, one
  group per dataset) burns a core. And it decides which groups are in flight once, when it starts,
  so a group freed during the wait stays closed until the next receive. The adapter asks moto's
  own code for messages without waiting (same choice, same marks, same dead-lettering) and, while
  it finds none, waits until a message is *deliverable* (visible, not delayed, and on a FIFO queue
  outside every group with a message in flight), at most a second at a time since visibility
  and delays end with the clock; deleting a message or changing its visibility wakes the
  waiters, since either can free a group.
- `Message.visible`, `Message.delayed`, `Queue.messages`: moto reads the clock through
  `unix_time_millis()`, which builds two datetimes per call, once per message per check; a queue
  of thousands of messages spends most of a receive there. The adapters read `time.time()` (the
  same epoch milliseconds), once per scan.

`install()` applies them (idempotent); `uninstall()` restores moto's originals (tests). Nothing
here is imported by the functions: the cloud path never sees it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

_originals: dict[str, Any] = {}
_install_lock = threading.Lock()


def _now_millis() -> float:
    return time.time() * 1000.0


def _visible(self: Any) -> bool:
    return bool(_now_millis() > self.visible_at)


def _delayed(self: Any) -> bool:
    return bool(_now_millis() < self.delayed_until)


def _messages(self: Any) -> list[Any]:
    now = _now_millis()
    return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]


def _has_deliverable(queue: Any) -> bool:
    """Whether a ReceiveMessage would now hand out at least one message."""
    now = _now_millis()
    busy_groups: set[str] = set()
    if queue.fifo_queue:
        # A pending message that became visible again timed out: receive_message frees its group.
        # list() copies the set in one step: receive_message changes it without the queue's lock.
        busy_groups = {
            m.group_id for m in list(queue.pending_messages) if m.group_id is not None and not now > m.visible_at
        }
    return any(
        now > m.visible_at and not now < m.delayed_until and (m.group_id is None or m.group_id not in busy_groups)
        for m in queue._messages
    )


def _long_polling(original: Any) -> Any:
    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Any]:
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        queue = self.get_queue(queue_name)
        while True:
            found = original(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            left = deadline - time.monotonic()
            if found or left <= 0:
                return list(found)
            with queue._messages_lock:
                queue._messages_lock.wait_for(lambda: _has_deliverable(queue), timeout=min(left, 1.0))

    receive_message.__wrapped__ = original  # type: ignore[attr-defined]
    return receive_message


def _waking(original: Any, queue_of: Callable[..., Any]) -> Any:
    """`original`, then wake the receives waiting on the queue it changed (`queue_of`, called with
    the same arguments: moto passes some by keyword)."""

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        finally:
            queue = queue_of(self, *args, **kwargs)
            if queue is not None:
                with queue._messages_lock:
                    queue._messages_lock.notify_all()

    wrapped.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapped


def _the_queue_itself(queue: Any, *_: Any, **__: Any) -> Any:
    return queue


def _the_named_queue(backend: Any, queue_name: str, *_: Any, **__: Any) -> Any:
    return backend.queues.get(queue_name)


def install() -> None:
    """Replace moto's SQS long polling and clock reads with the adapters above (once per process)."""
    from moto.sqs.models import Message, Queue, SQSBackend

    with _install_lock:
        if _originals:
            return
        _originals["Message.visible"] = Message.__dict__["visible"]
        _originals["Message.delayed"] = Message.__dict__["delayed"]
        _originals["Queue.messages"] = Queue.__dict__["messages"]
        _originals["SQSBackend.receive_message"] = SQSBackend.receive_message
        _originals["Queue.delete_message"] = Queue.delete_message
        _originals["SQSBackend.change_message_visibility"] = SQSBackend.change_message_visibility
        Message.visible = property(_visible)  # type: ignore[method-assign,assignment]
        Message.delayed = property(_delayed)  # type: ignore[method-assign,assignment]
        Queue.messages = property(_messages)  # type: ignore[method-assign,assignment]
        # Wraps what is there (the persistence journal's hook, when it came first), not moto's own.
        SQSBackend.receive_message = _long_polling(SQSBackend.receive_message)  # type: ignore[method-assign]
        Queue.delete_message = _waking(Queue.delete_message, _the_queue_itself)  # type: ignore[method-assign]
        SQSBackend.change_message_visibility = _waking(SQSBackend.change_message_visibility, _the_named_queue)  # type: ignore[method-assign]


def uninstall() -> None:
    """Put back what `install()` replaced. A wrapper another module added on top since (the
    persistence journal's hooks) goes too: call it only where no local stack runs."""
    from moto.sqs.models import Message, Queue, SQSBackend

    from infra.local.moto_adapters import restore

    with _install_lock:
        restore(_originals, [Message, Queue, SQSBackend])
