"""Listing a dataset's documents with the current API's filters: what selects a document and
how a request's query becomes a page (RAGFlow's `GET /datasets/{id}/documents` rules).

Pure logic: the store answers `filtered_page` (kb_ingest.dal.documents says what each
filter costs in DynamoDB).
"""

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.documents import RUN_STATUS_NAMES, Document, DocumentOrder, extension_of
from kb_ingest.domain.errors import ArgumentError, DataError
from kb_ingest.domain.pagination import page_number, page_size

MAX_IDS = 100
FILE_TYPES = ("pdf", "doc", "visual", "aural", "virtual", "folder", "other")
_RUN_CODES = {name: code for code, name in RUN_STATUS_NAMES.items()}
_ORDERS = ("create_time", "update_time", "name")
_FAR_FUTURE = 2**53


class QueryArgs(Protocol):
    """A request's query string: one value, or every value, of a parameter."""

    def get(self, key: str, /) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class MetadataCondition:
    name: str
    operator: str
    value: Any


@dataclass(frozen=True)
class DocumentFilter:
    """What a list request selects. Every field empty selects every document."""

    keywords: str = ""
    runs: tuple[str, ...] = ()  # run codes, "0".."4"
    types: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    name: str | None = None
    metadata: tuple[tuple[str, tuple[str, ...]], ...] = ()  # key -> accepted values
    conditions: tuple[MetadataCondition, ...] = ()
    conditions_logic: str = "and"
    empty_metadata: bool = False
    create_time_from: int = 0  # 0: no bound (RAGFlow's convention), milliseconds
    create_time_to: int = 0

    def has_time_range(self) -> bool:
        return bool(self.create_time_from or self.create_time_to)

    def time_from(self) -> int:
        return self.create_time_from

    def time_to(self) -> int:
        return self.create_time_to or _FAR_FUTURE

    def in_time_range(self, document: Document) -> bool:
        return self.time_from() <= document.create_time <= self.time_to()

    def selects_beyond_time(self) -> bool:
        return bool(
            self.keywords or self.runs or self.types or self.suffixes or self.ids or self.name is not None
            or self.metadata or self.conditions or self.empty_metadata
        )  # fmt: skip


def _values_of(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(item).lower() for item in items if item is not None]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(operator: str, actual: Any, expected: Any) -> bool:
    """One metadata condition on one document's value (None when the document lacks the key)."""
    if operator in ("empty", "not empty"):
        empty = actual is None or actual == "" or actual == []
        return empty if operator == "empty" else not empty
    if actual is None:
        return operator in ("≠", "!=", "not contains", "not in")
    values = _values_of(actual)
    wanted = str(expected).lower()
    if operator in ("=", "==", "is"):
        return wanted in values
    if operator in ("≠", "!=", "is not"):
        return wanted not in values
    if operator in ("contains", "not contains"):
        found = any(wanted in value for value in values)
        return found if operator == "contains" else not found
    if operator in ("in", "not in"):
        accepted = set(_values_of(expected if isinstance(expected, list) else str(expected).split(",")))
        accepted = {value.strip() for value in accepted}
        found = any(value in accepted for value in values)
        return found if operator == "in" else not found
    if operator in ("start with", "end with"):
        test = str.startswith if operator == "start with" else str.endswith
        return any(test(value, wanted) for value in values)
    if operator in (">", "<", "≥", ">=", "≤", "<="):
        left, right = _number(values[0]), _number(expected)
        pair: tuple[Any, Any] = (left, right) if left is not None and right is not None else (values[0], wanted)
        return {
            ">": pair[0] > pair[1], "<": pair[0] < pair[1], "≥": pair[0] >= pair[1], ">=": pair[0] >= pair[1],
            "≤": pair[0] <= pair[1], "<=": pair[0] <= pair[1],
        }[operator]  # fmt: skip
    return False


def matches(wanted: DocumentFilter, document: Document) -> bool:
    """Whether the document passes every filter but the time range."""
    if wanted.keywords and wanted.keywords.lower() not in document.name.lower():
        return False
    if wanted.runs and document.run not in wanted.runs:
        return False
    if wanted.types and document.type not in wanted.types:
        return False
    if wanted.suffixes and extension_of(document.name) not in wanted.suffixes:
        return False
    if wanted.ids and document.id not in wanted.ids:
        return False
    if wanted.name is not None and document.name != wanted.name:
        return False
    meta = document.meta_fields
    if wanted.empty_metadata:
        return not meta
    for key, accepted in wanted.metadata:
        if not set(_values_of(meta.get(key))) & set(accepted):
            return False
    if wanted.conditions:
        outcomes = [_compare(c.operator, meta.get(c.name), c.value) for c in wanted.conditions]
        return all(outcomes) if wanted.conditions_logic != "or" else any(outcomes)
    return True


class ListingStore(Protocol):
    def get(self, dataset_id: str, document_id: str) -> Document | None: ...

    def get_many(self, dataset_id: str, document_ids: list[str]) -> dict[str, Document]: ...

    def find_by_name(self, dataset_id: str, name: str) -> Document | None: ...

    def filtered_page(
        self, dataset_id: str, order: DocumentOrder, descending: bool, offset: int, count: int, wanted: DocumentFilter
    ) -> tuple[list[Document], int | None]: ...


@dataclass
class DocumentPage:
    documents: list[Document]
    total: int
    extra: dict[str, Any] = field(default_factory=dict)


def _values(query: QueryArgs, *names: str) -> list[str]:
    found: list[str] = []
    for name in names:
        found += query.getlist(name) + query.getlist(f"{name}[]")
    return [value.strip() for value in found if value is not None and value.strip()]


def _time(query: QueryArgs, name: str) -> int:
    raw = query.get(name) or "0"
    try:
        return int(float(raw))
    except ValueError:
        raise ArgumentError(f"{name} must be an integer timestamp in milliseconds, not {raw!r}.") from None


def _metadata_filters(query: QueryArgs) -> dict[str, Any]:
    empty = str(query.get("return_empty_metadata") or "false").lower() == "true"
    raw_conditions = query.get("metadata_condition") or "{}"
    try:
        conditions = json.loads(raw_conditions)
    except (ValueError, RecursionError):  # bad JSON, an integer past 4,300 digits, deep nesting
        raise DataError(f"metadata_condition must be valid JSON: {raw_conditions}.") from None
    try:
        metadata = json.loads(query.get("metadata") or "{}")
    except (ValueError, RecursionError):  # bad JSON, an integer past 4,300 digits, deep nesting
        raise DataError("metadata must be valid JSON.") from None
    if isinstance(metadata, dict) and metadata.get("empty_metadata"):
        empty = True
    if empty:
        return {"empty_metadata": True}
    if conditions and not isinstance(conditions, dict):
        raise DataError("metadata_condition must be an object.")
    if metadata and not isinstance(metadata, dict):
        raise DataError("metadata must be an object.")
    selected: dict[str, Any] = {}
    if conditions:
        items = conditions.get("conditions") or []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise DataError("metadata_condition.conditions must be a list of objects.")
        selected["conditions"] = tuple(
            MetadataCondition(str(item.get("name", "")), str(item.get("comparison_operator", "=")), item.get("value"))
            for item in items
        )
        selected["conditions_logic"] = str(conditions.get("logic") or "and").lower()
    if metadata:
        pairs = []
        for key, accepted in metadata.items():
            values = tuple(value for value in _values_of(accepted) if value.strip())
            if values:
                pairs.append((str(key), values))
        selected["metadata"] = tuple(pairs)
    return selected


def parse_list_query(query: QueryArgs, dataset_id: str) -> tuple[DocumentOrder, bool, int, int, DocumentFilter]:
    """(order, descending, offset, count, filter) of a list request, or RAGFlow's error."""
    page = page_number(query.get("page"))
    size = page_size(query.get("page_size"))
    order = query.get("orderby") or "create_time"
    if order not in _ORDERS:
        raise ArgumentError(f"invalid orderby field: {order}")
    descending = str(query.get("desc") or "true").strip().lower() != "false"
    types = _values(query, "types")
    bad_types = sorted({kind for kind in types if kind not in FILE_TYPES})
    if bad_types:
        raise DataError(f"Invalid filter conditions: {', '.join(bad_types)} type{'s' if len(bad_types) > 1 else ''}")
    runs = [_RUN_CODES.get(status.upper(), status) for status in _values(query, "run", "run_status")]
    bad_runs = sorted({run for run in runs if run not in RUN_STATUS_NAMES})
    if bad_runs:
        raise DataError(f"Invalid filter run status conditions: {', '.join(bad_runs)}")
    metadata = _metadata_filters(query)
    ids = _values(query, "ids")
    if len(ids) > MAX_IDS:
        raise ArgumentError(f"ids must contain at most {MAX_IDS} IDs")
    document_id = query.get("id") or ""
    if document_id and ids:
        raise DataError(f"Should not provide both 'id':{document_id} and 'ids'{ids}")
    wanted = DocumentFilter(
        keywords=(query.get("keywords") or "").strip(),
        runs=tuple(dict.fromkeys(runs)),
        types=tuple(types),
        suffixes=tuple(suffix.lower().lstrip(".") for suffix in _values(query, "suffix")),
        ids=(document_id,) if document_id else tuple(dict.fromkeys(ids)),
        name=query.get("name") or None,
        create_time_from=_time(query, "create_time_from"),
        create_time_to=_time(query, "create_time_to"),
        **metadata,
    )
    return order, descending, (page - 1) * size, size, wanted  # type: ignore[return-value]


def list_documents(store: ListingStore, dataset: Dataset | None, dataset_id: str, query: QueryArgs) -> DocumentPage:
    """A page of documents and the total RAGFlow reports: the matches of every filter but the
    create_time range (RAGFlow applies that range to the page only, and so does this)."""
    if dataset is None:
        raise DataError(f"You don't own the dataset {dataset_id}. ")
    order, descending, offset, count, wanted = parse_list_query(query, dataset_id)
    document_id = query.get("id") or ""
    if wanted.ids or wanted.name is not None:
        # A few known documents: read them by key, never the dataset.
        candidates = list(store.get_many(dataset.id, list(wanted.ids)).values()) if wanted.ids else []
        if document_id and not candidates:
            raise DataError(f"you don't own the document {document_id}")
        if wanted.name is not None:
            named = store.find_by_name(dataset.id, wanted.name)
            if named is None:
                raise DataError(f"you don't own the document {wanted.name}")
            if not wanted.ids:
                candidates = [named]
        selected = [document for document in candidates if matches(wanted, document)]
        key = {"create_time": lambda d: d.create_time, "update_time": lambda d: d.update_time}.get(
            order, lambda d: d.name.lower()
        )
        selected.sort(key=key, reverse=descending)  # type: ignore[arg-type]
        in_range = [document for document in selected if wanted.in_time_range(document)]
        return DocumentPage(in_range[offset : offset + count], len(selected))
    documents, total = store.filtered_page(dataset.id, order, descending, offset, count, wanted)
    return DocumentPage(documents, dataset.doc_num if total is None else total)
