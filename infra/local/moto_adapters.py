"""Adapters that make moto's DynamoDB cost what DynamoDB costs, for the local stack only.

Each replaces one moto behaviour (moto 5.2, `moto/dynamodb/models`) and keeps its results:

- `transact_write_items`: moto "creates a backup in case any of the transactions fail" by
  deep-copying every table the transaction names, before it starts. A transaction therefore
  costs O(table), and filling a table with n transactions costs O(n^2). The adapter records
  the items the transaction touches (a copy of each, or "absent") and, when the transaction is
  cancelled, puts back exactly those items and drops the stream records the cancelled writes
  added. Same checks, same errors, same cancellation reasons as moto's.
- `Table.query`: moto gathers every item of the table (`all_items()`), sorts them, skips to the
  ExclusiveStartKey and only then applies Limit: a page costs O(table log table). The adapter
  keeps, per table and per ordering (the table's own range key, each local and global secondary
  index), a sorted list of keys per partition, updated on every write; a Query bisects to its
  start and reads only its page. Queries it does not cover (legacy KeyConditions filters,
  multi-attribute keys) are answered by moto's own code.

- `ActionResult.execute_result` (DynamoDB's item operations only): moto 5.2 turns every answer into its wire form by walking the
  result against botocore's output shape, member by member (`moto.core.serialize`): about as much
  CPU as the operation itself for an item operation. An item operation's result is already its wire
  form (AttributeValue maps, counts, keys), so the adapter writes it with `json.dumps`, bytes as
  base64 as the serializer writes blobs, only the output shape's members; anything else (timestamps, errors, other operations) goes
  to moto's serializer. Same bodies, compared with moto's on every attribute type. The streams'
  GetRecords goes the same way (its one timestamp written as the serializer writes it): the
  stream poller reads every chunk a parse writes, and the serializer was a tenth of the stack's
  CPU there.

`install()` applies them all (idempotent); `uninstall()` restores moto's originals (tests). Nothing
here is imported by the functions: the cloud path never sees it.
"""

from __future__ import annotations

import base64
import bisect
import calendar
import copy
import datetime
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

# Called with (table, hash_key, range_key) after any item of a table may have changed; the
# persistence journal subscribes here. Kept as a plain list: installed once per process.
item_listeners: list[Callable[[Any, Any, Any], None]] = []

_originals: dict[str, Any] = {}
_install_lock = threading.Lock()


def _notify(table: Any, hash_key: Any, range_key: Any) -> None:
    index = getattr(table, "_kb_sorted", None)
    if index is not None:
        index.refresh(hash_key, range_key)
    for listener in item_listeners:
        listener(table, hash_key, range_key)


# ---------------------------------------------------------------- transactions
def _key_of(table: Any, op_type: str, op: dict[str, Any]) -> tuple[Any, Any] | None:
    """(hash, range) DynamoTypes of the item an operation names, or None if it names none."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    attrs = op.get("Item") if op_type == "Put" else op.get("Key")
    if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
        return None
    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_key = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in attrs:
            return None
        range_key = DynamoType(attrs[table.range_key_attr])
    return hash_key, range_key


def _restore_item(table: Any, hash_key: Any, range_key: Any, original: Any) -> None:
    if range_key is not None:
        partition = table.items[hash_key]
        if original is None:
            partition.pop(range_key, None)
        else:
            partition[range_key] = original
    elif original is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = original


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's DynamoDBBackend.transact_write_items with an item-level rollback."""
    from moto.dynamodb.comparisons import get_filter_expression as filter_expression_of
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()

    # The undo log: each touched item as it was (a copy: updates change items in place), and
    # where each touched table's stream stood, taken before anything is written.
    undo: list[tuple[Any, Any, Any, Any]] = []
    recorded: set[tuple[str, Any, Any]] = set()
    streams: dict[str, tuple[Any, int]] = {}
    for item in transact_items:
        if len(item) != 1:
            continue  # refused below, before any write
        op_type, op = next(iter(item.items()))
        table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        if table is None:
            continue
        item_key = _key_of(table, op_type, op)
        if item_key is None or (table.name, *item_key) in recorded:
            continue
        recorded.add((table.name, *item_key))
        try:
            current = table.get_item(*item_key)
        except Exception:  # a malformed key: the write itself reports it
            continue
        undo.append((table, item_key[0], item_key[1], copy.deepcopy(current)))
        if table.stream_shard is not None and table.name not in streams:
            streams[table.name] = (table.stream_shard, len(table.stream_shard.items))

    def rollback() -> None:
        for table, hash_key, range_key, original in reversed(undo):
            _restore_item(table, hash_key, range_key, original)
            _notify(table, hash_key, range_key)
        for shard, length in streams.values():
            del shard.items[length:]

    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        entry = (str(table_name), str(dict(sorted(key.items()))))
        if entry in target_items:
            raise MultipleTransactionsException()
        target_items.add(entry)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            rollback()
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition = filter_expression_of(condition_expression, names, values)
                if not condition.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            rollback()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
        except Exception as e:
            errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]

    if any(code is not None for code, _, _ in errors):
        rollback()
        raise TransactionCanceledException(errors)


# ---------------------------------------------------------------- sorted partitions
class _Ordering:
    """One ordering of a table's items: partition attribute, sort attributes, membership rule."""

    def __init__(self, name: str | None, hash_attr: str, sort_attrs: list[str], required: list[str]) -> None:
        self.name = name
        self.hash_attr = hash_attr
        self.sort_attrs = sort_attrs  # moto's order: index range key, table hash key, table range key
        self.required = required  # attributes an item must have to be in this ordering
        self.partitions: dict[Any, list[tuple[Any, ...]]] = {}
        self.where: dict[tuple[Any, Any], tuple[Any, tuple[Any, ...]]] = {}

    def entry(self, item: Any) -> tuple[Any, tuple[Any, ...]] | None:
        attrs = item.attrs
        for name in self.required:
            if not attrs.get(name):
                return None
        partition = attrs[self.hash_attr]
        return partition, tuple(attrs[name].cast_value for name in self.sort_attrs)

    def remove(self, key: tuple[Any, Any]) -> None:
        old = self.where.pop(key, None)
        if old is None:
            return
        partition, sort = old
        rows = self.partitions.get(partition)
        if rows is None:
            return
        i = bisect.bisect_left(rows, (sort,))
        while i < len(rows) and rows[i][0] == sort:
            if rows[i][1] == key:
                del rows[i]
                break
            i += 1
        if not rows:
            del self.partitions[partition]

    def add(self, key: tuple[Any, Any], item: Any) -> None:
        entry = self.entry(item)
        if entry is None:
            return
        partition, sort = entry
        self.where[key] = entry
        bisect.insort(self.partitions.setdefault(partition, []), (sort, key))


class SortedPartitions:
    """A table's items in every order a Query can ask for, kept current by the write hooks."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.orderings: dict[str | None, _Ordering] = {}
        table_keys = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        self.orderings[None] = _Ordering(None, table.hash_key_attr, table_keys[1:] or table_keys, [])
        for index in table.all_indexes():
            hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
            ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
            if len(hashes) != 1 or len(ranges) > 1:
                continue  # multi-attribute keys: moto's own query
            # moto's order for an index: its range key (for a global index without one, the
            # table's range key, else its hash key), then the table's hash and range keys.
            implied = ranges or [table.range_key_attr or table.hash_key_attr]
            sort = [*implied, *table_keys]
            self.orderings[index.name] = _Ordering(index.name, hashes[0], sort, [hashes[0], *ranges])
        self._items_ref: Any = None
        self.rebuild()

    def rebuild(self) -> None:
        for ordering in self.orderings.values():
            ordering.partitions.clear()
            ordering.where.clear()
        for item in self.table.all_items():
            key = (item.hash_key, item.range_key)
            for ordering in self.orderings.values():
                ordering.add(key, item)
        self._items_ref = self.table.items

    def current(self) -> SortedPartitions:
        if self.table.items is not self._items_ref:  # replaced wholesale (restore from backup, import)
            self.rebuild()
        return self

    def refresh(self, hash_key: Any, range_key: Any) -> None:
        if self.table.items is not self._items_ref:
            self.rebuild()
            return
        key = (hash_key, range_key)
        try:
            item = self.table.get_item(hash_key, range_key)
        except Exception:
            item = None
        for ordering in self.orderings.values():
            ordering.remove(key)
            if item is not None:
                ordering.add(key, item)

    def rows(self, ordering: _Ordering, partition: Any) -> list[tuple[Any, ...]]:
        return ordering.partitions.get(partition, [])


def sorted_partitions(table: Any) -> SortedPartitions:
    index = getattr(table, "_kb_sorted", None)
    if index is None:
        index = table._kb_sorted = SortedPartitions(table)
    return index.current()


def _walk(
    rows: list[tuple[Any, ...]], start: tuple[Any, ...] | None, forward: bool, bound: Any
) -> Iterator[tuple[Any, Any]]:
    """Rows after `start` in the walk's direction, beginning no earlier than the range bound."""
    if forward:
        i = 0 if start is None else bisect.bisect_right(rows, (start, _TOP))
        if bound is not None:
            i = max(i, bisect.bisect_left(rows, ((bound,),)))
        yield from rows[i:]
    else:
        i = len(rows) if start is None else bisect.bisect_left(rows, (start,))
        if bound is not None:
            i = min(i, bisect.bisect_right(rows, ((bound, _TOP),)))
        for j in range(i - 1, -1, -1):
            yield rows[j]


def _first_bound(range_comparison: str | None, range_objs: list[Any], forward: bool) -> Any:
    """Where the matching range values begin in the walk's direction (None: from the end)."""
    if not range_comparison or not range_objs:
        return None
    values = [obj.cast_value for obj in range_objs]
    if forward and range_comparison in ("EQ", "GE", "GT", "BETWEEN", "BEGINS_WITH"):
        return values[0]
    if not forward and range_comparison in ("EQ", "LE", "LT"):
        return values[0]
    if not forward and range_comparison == "BETWEEN":
        return values[-1]
    return None


class _Top:
    """Greater than any key: bisect_right past every row whose sort part equals the start."""

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Top)

    __hash__ = object.__hash__


_TOP = _Top()


def query(self: Any, *args: Any, **kwargs: Any) -> Any:
    """moto's Table.query, reading only the page from a sorted partition when it can."""
    original = _originals["Table.query"]
    plan = _plan(self, *args, **kwargs)
    if plan is None:
        return original(self, *args, **kwargs)
    return _fast_query(self, *plan)


def _plan(
    table: Any,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    projection_expressions: Any,
    index_name: str | None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: list[tuple[str, Any]] | None = None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
    **filter_kwargs: Any,
) -> tuple[Any, ...] | None:
    if filter_kwargs or len(hash_key_conditions or []) > 1 or len(range_key_conditions or []) > 1:
        return None
    partitions = sorted_partitions(table)
    ordering = partitions.orderings.get(index_name)
    if ordering is None:
        return None  # unknown index (moto's error) or multi-attribute keys
    if index_name is not None:
        from moto.dynamodb.models.table import GlobalSecondaryIndex

        index = table.get_index(index_name)
        if consistent_read and isinstance(index, GlobalSecondaryIndex):
            return None  # moto's validation error
        if not hash_key_conditions or hash_key_conditions[0][0] != ordering.hash_attr:
            return None
        partition = hash_key_conditions[0][1]
        if range_comparison and (not range_key_conditions or range_key_conditions[0][0] != ordering.sort_attrs[0]):
            return None
    else:
        if hash_key is None:
            return None
        partition = hash_key
        if range_comparison and table.range_key_attr is None:
            return None
    if exclusive_start_key is not None and any(
        not isinstance(exclusive_start_key.get(name), dict) for name in ordering.sort_attrs
    ):
        return None  # a start key without every sort attribute: moto's own handling
    return (
        ordering,
        partitions.rows(ordering, partition),
        range_comparison,
        range_objs,
        limit,
        exclusive_start_key,
        scan_index_forward,
        projection_expressions,
        index_name,
        filter_expression,
    )


def _fast_query(
    table: Any,
    ordering: _Ordering,
    rows: list[tuple[Any, ...]],
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    projection_expressions: Any,
    index_name: str | None,
    filter_expression: Any,
) -> tuple[list[Any], int, dict[str, Any] | None]:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    start = None
    if exclusive_start_key is not None:
        start = tuple(DynamoType(exclusive_start_key[name]).cast_value for name in ordering.sort_attrs)
    range_attr = ordering.sort_attrs[0] if index_name is not None else table.range_key_attr
    results: list[Any] = []
    result_size = 0
    last_evaluated_key = None
    matched = False
    bound = _first_bound(range_comparison, range_objs, scan_index_forward)
    for _sort, key in _walk(rows, start, scan_index_forward, bound):
        item = table.get_item(*key)
        if item is None:
            continue
        # As moto: the Limit (or the 1 MB page) is checked before the next item is compared.
        if len(results) == limit or result_size + item.size() > RESULT_SIZE_LIMIT:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
            break
        if range_comparison:
            value = item.attrs.get(range_attr) if index_name is not None else item.range_key
            if value is None or not value.compare(range_comparison, range_objs):
                if matched:
                    break  # the matching range values are contiguous in a sorted partition: none follow
                continue
            matched = True
        results.append(item)
        result_size += item.size()
    scanned_count = len(results)
    results = copy.deepcopy(results)
    if index_name:
        index = table.get_index(index_name)
        results = [index.project(r) for r in results]
    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expressions:
        results = [r.project(projection_expressions) for r in results]
    return results, scanned_count, last_evaluated_key


# ---------------------------------------------------------------- write hooks
def _wrap_table_put(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original(self, *args, **kwargs)
        _notify(self, item.hash_key, item.range_key)
        return item

    return put_item


def _wrap_table_delete(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        item = original(self, hash_key, range_key)
        _notify(self, hash_key, range_key)
        return item

    return delete_item


def _wrap_backend_update(original: Callable[..., Any]) -> Callable[..., Any]:
    # UpdateItem changes the stored item in place (moto's UpdateExpressionExecutor), past put_item.
    def update_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        item = original(self, table_name, *args, **kwargs)
        _notify(self.get_table(table_name), item.hash_key, item.range_key)
        return item

    return update_item


# ---------------------------------------------------------------- answers
# Item operations, whose results hold only AttributeValue maps, numbers, strings and binary values.
PLAIN_JSON_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
# The stream's records: AttributeValue images, and one timestamp (ApproximateCreationDateTime).
PLAIN_JSON_STREAM_OPERATIONS = frozenset({"GetRecords"})
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"  # DynamoDB's protocol: json, jsonVersion 1.0


class _NotPlain(Exception):
    """A value the plain encoder does not write the way moto's serializer does."""


def _blob(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")  # as moto's _serialize_type_blob
    raise _NotPlain(type(value).__name__)


def _blob_or_time(value: Any) -> str | int | float:
    if isinstance(value, datetime.datetime):
        # As moto's _timestamp_unixtimestamp (the JSON protocol's default): whole milliseconds.
        seconds = calendar.timegm(value.timetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
    return _blob(value)


def _plain_body(result: Any, members: Any, default: Callable[[Any], Any] = _blob) -> str | None:
    """The JSON body of an item operation's result, or None where moto's serializer must decide.
    Only the output shape's members are written, as the serializer does (moto's DeleteItem result
    carries a ConsumedCapacityUnits of its own, for instance)."""
    if not isinstance(result, dict):
        return None
    try:
        return json.dumps({k: v for k, v in result.items() if k in members}, default=default, allow_nan=False)
    except (_NotPlain, ValueError):  # a datetime, a Decimal, a float that is not finite, ...
        return None


def _wrap_execute_result(original: Callable[..., Any]) -> Callable[..., Any]:
    def execute_result(self: Any, context: Any) -> Any:
        operation = context.operation_model
        if (
            operation.name in PLAIN_JSON_OPERATIONS
            and context.service_model.service_name == "dynamodb"
            and not isinstance(self.result, Exception)
        ):
            body = _plain_body(self.result, operation.output_shape.members)
            if body is not None:
                return 200, {"Content-Type": JSON_CONTENT_TYPE}, body
        elif (
            operation.name in PLAIN_JSON_STREAM_OPERATIONS
            and context.service_model.service_name == "dynamodbstreams"
            and not isinstance(self.result, Exception)
        ):
            body = _plain_body(self.result, operation.output_shape.members, _blob_or_time)
            if body is not None:
                return 200, {"Content-Type": JSON_CONTENT_TYPE}, body
        return original(self, context)

    return execute_result


def install() -> None:
    """Replace moto's transaction and Query code with the adapters above (once per process)."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    with _install_lock:
        if _originals:
            return
        _originals["DynamoDBBackend.transact_write_items"] = DynamoDBBackend.transact_write_items
        _originals["DynamoDBBackend.update_item"] = DynamoDBBackend.update_item
        _originals["Table.query"] = Table.query
        _originals["Table.put_item"] = Table.put_item
        _originals["Table.delete_item"] = Table.delete_item
        _originals["ActionResult.execute_result"] = ActionResult.execute_result
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        DynamoDBBackend.update_item = _wrap_backend_update(DynamoDBBackend.update_item)  # type: ignore[method-assign]
        Table.query = query  # type: ignore[method-assign,assignment]
        Table.put_item = _wrap_table_put(Table.put_item)  # type: ignore[method-assign]
        Table.delete_item = _wrap_table_delete(Table.delete_item)  # type: ignore[method-assign]
        ActionResult.execute_result = _wrap_execute_result(ActionResult.execute_result)  # type: ignore[method-assign]


def uninstall() -> None:
    """Put moto's own methods back (tests compare the two)."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    with _install_lock:
        restore(_originals, [DynamoDBBackend, Table, ActionResult])


def restore(originals: dict[str, Any], owners: list[type]) -> None:
    """Set back every `Owner.attribute` recorded in `originals` (held under the caller's lock)."""
    by_name = {owner.__name__: owner for owner in owners}
    for name, value in originals.items():
        owner, attr = name.split(".")
        setattr(by_name[owner], attr, value)
    originals.clear()
