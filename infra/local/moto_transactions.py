"""TransactWriteItems on moto without copying whole tables.

moto deep-copies every table a transaction touches (once per item) so it can put the copy
back if a condition fails: a transaction's cost grows with the table, and a chunks table of
tens of thousands of items makes every chunk edit take seconds. The local stack serializes
DynamoDB requests (stack.serialize_moto_dynamodb), so checking every condition first is as
good as a rollback: when they all hold, the transaction runs without the copies; when one
fails (or anything looks unusual), moto's own path runs and answers as it always does.
"""

import copy
import threading
from typing import Any

_SKIP = threading.local()


class _CopyWithoutTables:
    """Stands in for the `copy` module inside moto's DynamoDB models."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_SKIP, "active", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _conditions_hold(backend: Any, transact_items: list[dict[str, Any]]) -> bool:
    from moto.dynamodb.comparisons import get_filter_expression

    seen: set[tuple[str, str]] = set()
    for entry in transact_items:
        if len(entry) != 1:
            return False
        op_type, op = next(iter(entry.items()))
        table_name = op.get("TableName")
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"} or table_name not in backend.tables:
            return False
        table = backend.tables[table_name]
        if op_type == "Put":
            attrs = op["Item"]
            if table.hash_key_attr not in attrs or (table.range_key_attr and table.range_key_attr not in attrs):
                return False
            key = {table.hash_key_attr: attrs[table.hash_key_attr]}
            if table.range_key_attr:
                key[table.range_key_attr] = attrs[table.range_key_attr]
        else:
            key = op.get("Key")
            if not key:
                return False
        identity = (table_name, str(sorted(key.items())))
        if identity in seen:
            return False
        seen.add(identity)
        expression = op.get("ConditionExpression")
        if expression is None:
            continue
        condition = get_filter_expression(
            expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        )
        if not condition.expr(backend.get_item(table_name, key)):
            return False
    return True


def install() -> None:
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "_without_table_copies", False):
        return
    models.copy = _CopyWithoutTables()  # type: ignore[assignment]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        try:
            fast = _conditions_hold(self, transact_items)
        except Exception:
            fast = False
        _SKIP.active = fast
        try:
            return original(self, transact_items)
        finally:
            _SKIP.active = False

    transact_write_items._without_table_copies = True  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
