"""Documents' metadata (`meta_fields`) across a dataset: RAGFlow's summary, its flattened
value -> documents map, its metadata-condition filter, and its batch update and delete.

Restated from RAGFlow's `DocMetadataService` (get_metadata_summary, get_flatted_meta_by_kbs,
batch_update_metadata), `common.metadata_utils` (convert_conditions, meta_filter) and the
routes `POST /datasets/{id}/metadata/update` and `PATCH /datasets/{id}/documents/metadatas`.
Pure logic: the store reads documents by key or a page at a time and writes one document's
metadata conditionally on the version it read (kb_ingest.dal.documents).
"""

import ast
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.documents import Document
from kb_ingest.domain.errors import ArgumentError, DataError

MAX_SUMMARY_IDS = 100  # RAGFlow's REST_API_MAX_IDS, for `doc_ids` of the summary
_PARALLEL_WRITES = 4  # transactions at once
_BATCH_READ = 100  # keys per BatchGetItem
_BATCH_WRITE = 100  # documents per transaction (DynamoDB's limit)
_MAX_WRITE_ATTEMPTS = 20
# RAGFlow's spellings of the comparison operators, folded to the ones its filter evaluates.
_OPERATOR_ALIASES = {"is": "=", "not is": "≠", ">=": "≥", "<=": "≤", "!=": "≠"}
_COMPARISONS = ("=", "≠", ">", "<", "≥", "≤")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


# ---------------------------------------------------------------- summary and flattened view
def _value_type(value: Any) -> str | None:
    """The kind RAGFlow's summary reports for one document's value of a key."""
    if value is None:
        return None
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str) and _ISO_TIME.match(value):
        return "time"
    return "string"


def _flat_values(value: Any) -> list[str]:
    """A value as the strings it is counted and matched as: each list item on its own."""
    items = value if isinstance(value, list) else [value]
    return [str(item) for item in items if item is not None]


def summarize(metas: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """`{key: {"type", "values": [[value, count], ...]}}` over documents' metadata: a value is
    counted once per document holding it (list items one by one), most frequent first (ties in
    the order first seen); `type` is the kind most documents give the key."""
    counts: dict[str, dict[str, int]] = {}
    kinds: dict[str, dict[str, int]] = {}
    for meta in metas:
        for key, value in meta.items():
            kind = _value_type(value)
            if kind is not None:
                kinds.setdefault(key, {})
                kinds[key][kind] = kinds[key].get(kind, 0) + 1
            for text in _flat_values(value):
                counts.setdefault(key, {})
                counts[key][text] = counts[key].get(text, 0) + 1
    summary = {}
    for key, values in counts.items():
        by_count = sorted(values.items(), key=lambda pair: pair[1], reverse=True)
        key_kinds = kinds.get(key, {})
        kind = max(key_kinds.items(), key=lambda pair: pair[1])[0] if key_kinds else "string"
        summary[key] = {"type": kind, "values": [[value, count] for value, count in by_count]}
    return summary


def flatten(documents: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, dict[str, list[str]]]:
    """`{key: {value: [document ids]}}`: which documents hold each value (list items one by one)."""
    flat: dict[str, dict[str, list[str]]] = {}
    for document_id, meta in documents:
        for key, value in meta.items():
            by_value = flat.setdefault(key, {})
            for text in _flat_values(value):
                by_value.setdefault(text, []).append(document_id)
    return flat


# ---------------------------------------------------------------- the metadata condition
@dataclass(frozen=True)
class Condition:
    key: str
    operator: str  # one of RAGFlow's evaluated operators (aliases folded)
    value: Any


@dataclass(frozen=True)
class MetadataCondition:
    conditions: tuple[Condition, ...]
    logic: str  # "and", or anything else meaning "or" (as RAGFlow's filter reads it)

    def selects(self, meta: Mapping[str, Any]) -> bool:
        """Whether a document with this metadata is selected. No condition selects nothing."""
        if not self.conditions:
            return False
        results = (_holds(condition, meta) for condition in self.conditions)
        return all(results) if self.logic == "and" else any(results)


def parse_condition(raw: Mapping[str, Any]) -> MetadataCondition:
    """`{"logic", "conditions": [{"name", "comparison_operator", "value"}]}` as a condition."""
    items = raw.get("conditions") or []
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and {"name", "comparison_operator", "value"} <= item.keys() for item in items
    ):
        raise DataError(
            "metadata_condition.conditions must be a list of objects with name, comparison_operator and value."
        )
    conditions = tuple(
        Condition(
            str(item["name"]),
            _OPERATOR_ALIASES.get(str(item["comparison_operator"]), str(item["comparison_operator"])),
            item["value"],
        )
        for item in items
    )
    return MetadataCondition(conditions, str(raw.get("logic") or "and").lower())


def _is_date(text: str) -> bool:
    return len(text) == 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit() and text[5:7].isdigit() and text[8:10].isdigit()  # fmt: skip


def _lower(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return [item.lower() if isinstance(item, str) else item for item in value]
    return value


def _comparable(actual: str, expected: Any) -> tuple[Any, Any] | None:
    """The two sides of =, ≠, <, >, ≥, ≤ as RAGFlow compares them: dates (YYYY-MM-DD) as
    text, only against dates; otherwise Python literals when both sides are one (numbers
    compare as numbers), strings without case. None: this value cannot match."""
    wanted = str(expected).strip()
    if _is_date(wanted):
        return (actual.strip(), wanted) if _is_date(actual.strip()) else None
    left: Any = actual
    right: Any = expected
    # A JSON number compares as the number (RAGFlow evaluates only text, so `5` never matched).
    source = str(expected) if isinstance(expected, int | float) and not isinstance(expected, bool) else expected
    try:
        left, right = ast.literal_eval(actual), ast.literal_eval(source)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        left, right = actual, expected
    return _lower(left) if isinstance(left, str) else left, _lower(right) if isinstance(right, str) else right


def _matches_one(operator: str, actual: str, expected: Any) -> bool:
    """One of a document's values (a string, as the flattened metadata holds it) against one
    condition; a comparison Python cannot make (text against a number) does not match."""
    if operator in _COMPARISONS:
        pair = _comparable(actual, expected)
        if pair is None:
            return False
        left, right = pair
    else:
        left, right = _lower(actual), _lower(expected)
    try:
        if operator == "contains":
            return left.find(right) >= 0
        if operator == "not contains":
            return left.find(right) == -1
        if operator == "in":
            return bool(left in right)
        if operator == "not in":
            return bool(left not in right)
        if operator == "start with":
            return left.startswith(str(right).lower())
        if operator == "end with":
            return left.endswith(str(right).lower())
        if operator == "empty":
            return not left
        if operator == "not empty":
            return bool(left)
        comparisons: dict[str, Callable[[Any, Any], bool]] = {
            "=": lambda a, b: a == b,
            "≠": lambda a, b: a != b,
            ">": lambda a, b: a > b,
            "<": lambda a, b: a < b,
            "≥": lambda a, b: a >= b,
            "≤": lambda a, b: a <= b,
        }
        compare = comparisons.get(operator)
        return bool(compare(left, right)) if compare else False
    except TypeError:
        return False


def _holds(condition: Condition, meta: Mapping[str, Any]) -> bool:
    """A document meets a condition when one of its values of the key does (a document without
    the key meets none, not even `≠` or `empty`: RAGFlow looks values up, not documents)."""
    if condition.key not in meta:
        return False
    return any(_matches_one(condition.operator, text, condition.value) for text in _flat_values(meta[condition.key]))


# ---------------------------------------------------------------- updates and deletes
@dataclass(frozen=True)
class MetadataUpdate:
    key: str
    value: Any
    match: Any = None  # only values equal to this (compared as strings) are replaced

    @property
    def matching(self) -> bool:
        return self.match is not None and self.match != ""


@dataclass(frozen=True)
class MetadataDelete:
    key: str
    value: Any = None  # None: the whole key; otherwise only this value (compared as strings)


def _dedupe(values: list[Any]) -> list[Any]:
    """A list without repeats (compared as strings), first occurrence kept."""
    seen: set[str] = set()
    kept = []
    for value in values:
        if str(value) not in seen:
            seen.add(str(value))
            kept.append(value)
    return kept


def _same(a: Any, b: Any) -> bool:
    return str(a) == str(b)


def apply_changes(
    meta: Mapping[str, Any], updates: Iterable[MetadataUpdate], deletes: Iterable[MetadataDelete]
) -> dict[str, Any] | None:
    """The metadata after the updates, then the deletes; None when nothing changes.

    Updates: a new key is set (unless `match` is given); a list key gains the value (or each
    item of a list value) without repeats, or with `match` has matching items replaced; a
    scalar key is overwritten, or with `match` only if it equals it. Deletes: the whole key, or
    one value (from a list: the key goes when its list empties).
    """
    result = {key: list(value) if isinstance(value, list) else value for key, value in meta.items()}
    for update in updates:
        new = update.value
        if update.key not in result:
            if not update.matching:
                result[update.key] = _dedupe(new) if isinstance(new, list) else new
            continue
        current = result[update.key]
        if isinstance(current, list):
            if not update.matching:
                result[update.key] = _dedupe(current + (new if isinstance(new, list) else [new]))
            elif any(_same(item, update.match) for item in current):
                result[update.key] = _dedupe([new if _same(item, update.match) else item for item in current])
        elif not update.matching or _same(current, update.match):
            result[update.key] = new
    for delete in deletes:
        if delete.key not in result:
            continue
        current = result[delete.key]
        if isinstance(current, list) and delete.value is not None:
            remaining = [item for item in current if not _same(item, delete.value)]
            if len(remaining) != len(current):
                if remaining:
                    result[delete.key] = remaining
                else:
                    del result[delete.key]
        elif delete.value is None or _same(current, delete.value):
            del result[delete.key]
    return None if result == dict(meta) else result


# ---------------------------------------------------------------- the batch request
@dataclass(frozen=True)
class MetadataTarget:
    """What a metadata change needs of a document: its id, the version read and its metadata."""

    id: str
    version: int
    meta_fields: dict[str, Any]

    @classmethod
    def of(cls, document: Document) -> "MetadataTarget":
        return cls(document.id, document.version, document.meta_fields)


class MetadataStore(Protocol):
    def fields_pages(self, dataset_id: str, fields: tuple[str, ...]) -> Iterable[list[dict[str, Any]]]: ...

    def get_many(self, dataset_id: str, document_ids: list[str]) -> dict[str, Document]: ...

    def set_meta_fields_many(self, dataset_id: str, changes: list[tuple[MetadataTarget, dict[str, Any]]]) -> set[str]:
        """Replace each document's metadata, all or nothing, each conditional on the version
        read; the ids of documents changed meanwhile (and then nothing was written)."""


@dataclass(frozen=True)
class BatchRequest:
    document_ids: tuple[str, ...]
    condition: MetadataCondition | None
    updates: tuple[MetadataUpdate, ...]
    deletes: tuple[MetadataDelete, ...]


def _supported_value(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(item, str | int | float) for item in value)
    return isinstance(value, str | int | float)


def parse_batch_request(body: Mapping[str, Any]) -> BatchRequest:
    """The body checked as RAGFlow checks it, in its order and with its messages (all 102).

    Beyond RAGFlow: a value must be what `meta_fields` holds (a string, a number, or a list of
    them), else `The type is not supported: ...` as the document update answers."""
    selector = body.get("selector") or {}
    updates = body.get("updates") or []
    deletes = body.get("deletes") or []
    if not isinstance(selector, dict):
        raise DataError("selector must be an object.")
    if not isinstance(updates, list) or not isinstance(deletes, list):
        raise DataError("updates and deletes must be lists.")
    raw_condition = selector.get("metadata_condition") or {}
    if raw_condition and not isinstance(raw_condition, dict):
        raise DataError("metadata_condition must be an object.")
    document_ids = selector.get("document_ids") or []
    if document_ids and not isinstance(document_ids, list):
        raise DataError("document_ids must be a list.")
    for update in updates:
        if not isinstance(update, dict) or not update.get("key") or "value" not in update:
            raise DataError("Each update requires key and value.")
    for delete in deletes:
        if not isinstance(delete, dict) or not delete.get("key"):
            raise DataError("Each delete requires key.")
    for update in updates:
        if not _supported_value(update["value"]):
            raise DataError(f"The type is not supported: {update['value']!r}")
    if not all(isinstance(document_id, str) for document_id in document_ids):
        raise DataError("document_ids must be a list of strings.")
    return BatchRequest(
        document_ids=tuple(dict.fromkeys(document_ids)),
        condition=parse_condition(raw_condition) if raw_condition else None,
        updates=tuple(MetadataUpdate(str(u["key"]), u["value"], u.get("match")) for u in updates),
        deletes=tuple(MetadataDelete(str(d["key"]), d.get("value")) for d in deletes),
    )


def _read_targets(store: MetadataStore, dataset: Dataset, ids: tuple[str, ...]) -> dict[str, MetadataTarget]:
    """The dataset's documents among `ids`: by key (BatchGetItem, 100 a call), or, when the ids
    name at least half the dataset, by reading the dataset's id, version and metadata in order
    (a Query costs the bytes it reads, a key read at least one unit per item: for many small
    documents the Query is cheaper, and never more than twice the key reads)."""
    if len(ids) > _BATCH_READ and len(ids) * 2 >= dataset.doc_num:
        wanted = set(ids)
        return {
            str(fields["id"]): MetadataTarget(
                str(fields["id"]), int(fields["version"]), dict(fields.get("meta_fields") or {})
            )
            for page in store.fields_pages(dataset.id, ("version", "meta_fields"))
            for fields in page
            if fields["id"] in wanted
        }
    return _by_key(store, dataset.id, [document_id for document_id in ids if is_storable_id(document_id)])


def _by_key(store: MetadataStore, dataset_id: str, ids: list[str]) -> dict[str, MetadataTarget]:
    found: dict[str, MetadataTarget] = {}
    for start in range(0, len(ids), _BATCH_READ):
        documents = store.get_many(dataset_id, ids[start : start + _BATCH_READ])
        found.update((document_id, MetadataTarget.of(document)) for document_id, document in documents.items())
    return found


def batch_update(
    store: MetadataStore, dataset: Dataset | None, dataset_id: str, body: Mapping[str, Any], unknown_dataset: str
) -> dict[str, int]:
    """`{"updated", "matched_docs"}`: the documents the selector names (document_ids, narrowed
    by metadata_condition when given), each changed by the updates and deletes.

    As in RAGFlow's code, only `document_ids` selects: an empty selector, or a condition without
    ids, matches nothing (RAGFlow's reference says "all documents"; its code and suites say 0).
    Unknown ids refuse the whole request before anything is written. Documents are written a
    hundred to a transaction, four transactions at once, each document conditionally on the
    version read (one edited meanwhile is re-read and the change applied to what it holds now);
    repeating a request changes nothing more.
    """
    if dataset is None:
        raise DataError(unknown_dataset)
    request = parse_batch_request(body)
    found = _read_targets(store, dataset, request.document_ids)
    invalid = [document_id for document_id in request.document_ids if document_id not in found]
    if invalid:
        raise DataError(f"These documents do not belong to dataset {dataset_id}: {', '.join(invalid)}")
    targets = [found[document_id] for document_id in request.document_ids]
    if request.condition is not None:
        targets = [document for document in targets if request.condition.selects(document.meta_fields)]
    if not targets:
        return {"updated": 0, "matched_docs": 0}

    def write(batch: list[MetadataTarget]) -> int:
        """How many of the batch's documents changed: retried on fresh reads of the ones another
        writer changed meanwhile (a deleted one drops out)."""
        pending = {document.id: document for document in batch}
        for _ in range(_MAX_WRITE_ATTEMPTS):
            changes: list[tuple[MetadataTarget, dict[str, Any]]] = []
            for document in pending.values():
                changed = apply_changes(document.meta_fields, request.updates, request.deletes)
                if changed is not None:
                    changes.append((document, changed))
            stale = store.set_meta_fields_many(dataset.id, changes)
            if not stale:
                return len(changes)
            fresh = _by_key(store, dataset.id, sorted(stale))
            for document_id in stale:
                if document_id in fresh:
                    pending[document_id] = fresh[document_id]
                else:
                    pending.pop(document_id, None)
        raise RuntimeError("could not update the documents' metadata: too much contention")

    batches = [targets[start : start + _BATCH_WRITE] for start in range(0, len(targets), _BATCH_WRITE)]
    with ThreadPoolExecutor(max_workers=min(_PARALLEL_WRITES, len(batches))) as pool:
        updated = sum(pool.map(write, batches))
    return {"updated": updated, "matched_docs": len(targets)}


# ---------------------------------------------------------------- reading a dataset's metadata
class MetadataPages(Protocol):
    def get_many(self, dataset_id: str, document_ids: list[str]) -> dict[str, Document]: ...

    def meta_fields_pages(self, dataset_id: str) -> Iterable[list[tuple[str, dict[str, Any]]]]:
        """(document id, meta_fields) of every document of the dataset, a page at a time."""


def is_storable_id(value: str) -> bool:
    """Whether an id can name a stored document (DynamoDB refuses empty keys and keys over
    1,024 bytes: such an id names nothing, and is not sent)."""
    return 0 < len(value.encode("utf-8", "surrogatepass")) <= 1024


def summary_ids(raw: str | None) -> list[str] | None:
    """`doc_ids` of the summary: comma-separated, at most 100 (RAGFlow's argument error)."""
    ids = raw.split(",") if raw else None
    if ids is not None and len(ids) > MAX_SUMMARY_IDS:
        raise ArgumentError(f"doc_ids must contain at most {MAX_SUMMARY_IDS} IDs")
    return ids


def metadata_summary(
    store: MetadataPages, dataset: Dataset | None, dataset_id: str, doc_ids_param: str | None
) -> dict[str, Any]:
    """`{"summary": ...}` over the named documents of the dataset (unknown ids are left out),
    or over all of them."""
    if dataset is None:
        raise DataError(f"You don't own the dataset {dataset_id}. ")
    ids = summary_ids(doc_ids_param)
    if ids:
        found = store.get_many(dataset.id, [i for i in dict.fromkeys(ids) if is_storable_id(i)])
        return {"summary": summarize(document.meta_fields for document in found.values())}
    metas = (meta for page in store.meta_fields_pages(dataset.id) for _, meta in page)
    return {"summary": summarize(metas)}


def flattened_metadata(
    store: MetadataPages, datasets: Callable[[str], Dataset | None], raw_ids: str | None
) -> dict[str, dict[str, list[str]]]:
    """`{key: {value: [document ids]}}` over every document of the named datasets."""
    ids = [item for item in (raw_ids or "").split(",") if item]
    if not ids:
        raise DataError("Lack of dataset_ids in query parameters")
    if len(ids) > MAX_SUMMARY_IDS:
        raise ArgumentError(f"dataset_ids must contain at most {MAX_SUMMARY_IDS} IDs")
    found = []
    for dataset_id in dict.fromkeys(ids):
        dataset = datasets(dataset_id)
        if dataset is None:
            raise DataError(f"No authorization for dataset '{dataset_id}'")
        found.append(dataset)
    return flatten(pair for dataset in found for page in store.meta_fields_pages(dataset.id) for pair in page)
