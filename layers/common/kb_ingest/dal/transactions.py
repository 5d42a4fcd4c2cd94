"""Transactions whose failures say which item failed, by name.

DynamoDB reports why a transaction was cancelled item by item, in the order of the request;
PynamoDB sends condition checks, then deletes, then puts, then updates, whatever order the code
added them in. `Transaction` remembers a label per item in the order actually sent, so callers
ask "did the dataset's condition fail?" instead of counting positions.
"""

from types import TracebackType
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite


class TransactionCancelled(Exception):
    def __init__(self, failed: set[str], conflict: bool, cause: TransactWriteError) -> None:
        super().__init__(f"transaction cancelled: failed={sorted(failed)} conflict={conflict}")
        self.failed = failed  # labels whose condition failed
        self.conflict = conflict  # another transaction touched the same items: try again
        self.cause = cause


class Transaction:
    def __init__(self, connection: Connection) -> None:
        self._write = TransactWrite(connection=connection)
        self._labels: dict[str, list[str]] = {"check": [], "delete": [], "put": [], "update": []}

    def save(self, label: str, model: Model, condition: Any = None) -> None:
        self._write.save(model, condition=condition)
        self._labels["put"].append(label)

    def update(self, label: str, model: Model, actions: list[Any], condition: Any = None, **kwargs: Any) -> None:
        self._write.update(model, actions=actions, condition=condition, **kwargs)
        self._labels["update"].append(label)

    def delete(self, label: str, model: Model, condition: Any = None) -> None:
        self._write.delete(model, condition=condition)
        self._labels["delete"].append(label)

    def _sent_order(self) -> list[str]:
        return [*self._labels["check"], *self._labels["delete"], *self._labels["put"], *self._labels["update"]]

    def __enter__(self) -> "Transaction":
        self._write.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            self._write.__exit__(kind, error, traceback)
        except TransactWriteError as cancelled:
            reasons = cancelled.cancellation_reasons or []
            order = self._sent_order()
            failed = {
                order[position]
                for position, reason in enumerate(reasons)
                if reason is not None and reason.code == "ConditionalCheckFailed" and position < len(order)
            }
            conflict = any(reason is not None and reason.code == "TransactionConflict" for reason in reasons)
            if not failed and not conflict:
                raise
            raise TransactionCancelled(failed, conflict, cancelled) from cancelled
