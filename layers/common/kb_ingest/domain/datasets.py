"""Datasets (RAGFlow knowledge bases): the contract's rules for create, list, get, update, delete.

Pure logic: storage comes in as a `DatasetStore` (kb_ingest.dal.datasets in production, an
in-memory fake in unit tests). Every message below is the contract's wording.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from kb_ingest.clock import new_id, now_ms, rfc1123
from kb_ingest.domain.errors import ArgumentError, DataError, OperatingError, RangeError

PARSER_TYPES = (
    "naive", "qa", "table", "paper", "book", "laws", "presentation", "manual", "picture", "one", "resume",
)  # fmt: skip
MAX_NAME_LENGTH = 1024
DEFAULT_PARSER_CONFIG: dict[str, Any] = {"pages": [[1, 1000000]]}

DatasetOrder = Literal["create_time", "update_time", "name"]
_ORDERS: tuple[DatasetOrder, ...] = ("create_time", "update_time", "name")
_CREATE_FIELDS = {"name"}
_UPDATE_FIELDS = {
    "name", "description", "permission", "language", "chunk_method", "embedding_model_id", "photo",
    "layout_recognize",
}  # fmt: skip


@dataclass
class Dataset:
    id: str
    tenant_id: str
    name: str
    create_time: int
    update_time: int
    created_by: str = ""
    avatar: str | None = None
    description: str | None = None
    language: str = "English"
    embd_id: str = "BAAI/bge-large-zh-v1.5"
    parser_id: str = "naive"
    parser_config: dict[str, Any] = field(default_factory=lambda: {"pages": [[1, 1000000]]})
    permission: str = "me"
    similarity_threshold: float = 0.2
    vector_similarity_weight: float = 0.3
    status: str = "1"
    chunk_num: int = 0
    doc_num: int = 0
    token_num: int = 0
    pagerank: int = 0  # today's API has it; the seed API does not show it

    def to_api(self) -> dict[str, Any]:
        """The dataset as the seed API shows it."""
        body = asdict(self)
        for newer in _NEWER_FIELDS:
            del body[newer]
        body["create_date"] = rfc1123(self.create_time)
        body["update_date"] = rfc1123(self.update_time)
        return dict(sorted(body.items()))


_NEWER_FIELDS = ("pagerank",)
_SETTINGS = frozenset(Dataset.__dataclass_fields__) - {
    "id", "tenant_id", "name", "create_time", "update_time", "created_by", "chunk_num", "doc_num", "token_num",
}  # fmt: skip


@dataclass(frozen=True)
class DatasetChanges:
    """What an update sets; `None` fields are left as they are."""

    name: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


class NameTaken(Exception):
    """Raised by a store when a name claim is held by another dataset."""


class DatasetStore(Protocol):
    def create(self, dataset: Dataset) -> Dataset:
        """Store `dataset` under its name or the first free suffixed name; return what was stored."""

    def get(self, tenant_id: str, dataset_id: str) -> Dataset | None: ...

    def list_page(
        self, tenant_id: str, order: DatasetOrder, descending: bool, offset: int, count: int
    ) -> tuple[list[Dataset], int]:
        """Datasets after skipping `offset` (all when count < 0), and how many were skipped."""

    def update(self, dataset: Dataset, changes: DatasetChanges, update_time: int) -> Dataset | None:
        """Apply changes; raise NameTaken on a name conflict; None if the dataset is gone."""

    def delete(self, dataset: Dataset) -> bool:
        """Make the dataset disappear and record a purge job; False if it was already gone."""


class PurgeQueue(Protocol):
    def request_purge(self, tenant_id: str, dataset_id: str) -> None: ...


# ---------------------------------------------------------------- create
def create_dataset(store: DatasetStore, tenant_id: str, body: Mapping[str, Any]) -> dict[str, str]:
    if "name" not in body:
        raise ArgumentError("required argument are missing: name; ")
    unknown = [key for key in body if key not in _CREATE_FIELDS]
    if unknown:
        raise DataError(f"fields: {unknown}, are not allowed in request body.")
    name = body["name"]
    if not isinstance(name, str):
        raise ArgumentError(f"Dataset name must be a string, not {type(name).__name__}.")
    if name == "":
        raise DataError("Empty dataset name")
    name = name.strip()
    _check_name_length(name)
    now = now_ms()
    stored = store.create(
        Dataset(
            id=new_id(),
            tenant_id=tenant_id,
            created_by=tenant_id,
            name=name,
            create_time=now,
            update_time=now,
        )
    )
    return {"dataset_name": stored.name, "dataset_id": stored.id}


def add_dataset(store: DatasetStore, tenant_id: str, name: str, settings: Mapping[str, Any]) -> Dataset:
    """A new dataset named `name` (or `name(1)`, ... when taken) with `settings` (any of the
    dataset's own fields: description, embd_id, parser_id, parser_config, permission, ...)."""
    unknown = sorted(set(settings) - _SETTINGS)
    if unknown:
        raise ValueError(f"not dataset settings: {unknown}")
    if not name.strip():
        raise DataError("dataset name can't be empty")
    now = now_ms()
    dataset = Dataset(
        id=new_id(), tenant_id=tenant_id, created_by=tenant_id, name=name.strip(), create_time=now, update_time=now,
        **{key: value for key, value in settings.items() if value is not None},
    )  # fmt: skip
    return store.create(dataset)


def _check_name_length(name: str) -> None:
    if len(name) > MAX_NAME_LENGTH:
        raise DataError(f"Dataset name: {name} with length {len(name)} exceeds {MAX_NAME_LENGTH}!")


# ---------------------------------------------------------------- list and get
def list_datasets(store: DatasetStore, tenant_id: str, query: Mapping[str, str]) -> list[dict[str, Any]]:
    offset = parse_int(query, "offset", 0)
    count = parse_int(query, "count", -1)
    order = query.get("orderby", "create_time")
    if order not in _ORDERS:
        raise ArgumentError(f"Illegal value {order} for 'orderby' field.")
    descending = parse_bool(query, "desc", True)
    if offset < 0:
        raise RangeError("IndexError('Offset is out of the valid range.')")
    datasets, skipped = store.list_page(tenant_id, order, descending, offset, count)  # type: ignore[arg-type]
    if skipped < offset:
        raise RangeError("IndexError('Offset is out of the valid range.')")
    return [dataset.to_api() for dataset in datasets]


def get_dataset(store: DatasetStore, tenant_id: str, dataset_id: str) -> dict[str, Any]:
    dataset = store.get(tenant_id, dataset_id)
    if dataset is None:
        raise DataError("Can't find this dataset!")
    return dataset.to_api()


def parse_int(query: Mapping[str, str], key: str, default: int) -> int:
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ArgumentError(f"'{key}' must be an integer, not {raw!r}.") from None


def parse_bool(query: Mapping[str, str], key: str, default: bool) -> bool:
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ArgumentError(f"'{key}' must be true or false, not {raw!r}.")


# ---------------------------------------------------------------- update
def update_dataset(store: DatasetStore, tenant_id: str, dataset_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    if not body:
        raise DataError("Please input at least one parameter that you want to update!")
    dataset = store.get(tenant_id, dataset_id)
    if dataset is None:
        raise OperatingError("Only the owner of knowledgebase is authorized for this operation!")
    unknown = [key for key in body if key not in _UPDATE_FIELDS]
    if unknown:
        raise DataError(f"fields: {unknown}, are not allowed in request body.")
    changes = _changes_from(body, dataset)
    try:
        updated = store.update(dataset, changes, now_ms())
    except NameTaken:
        raise DataError(_name_used_message(changes.name or "")) from None
    if updated is None:
        raise OperatingError("Only the owner of knowledgebase is authorized for this operation!")
    return updated.to_api()


def _name_used_message(name: str) -> str:
    return f"The name: {name.lower()} is already used by other datasets. Please choose a different name."


def _changes_from(body: Mapping[str, Any], dataset: Dataset) -> DatasetChanges:
    values: dict[str, Any] = {}
    new_name: str | None = None
    if "name" in body:
        name = _require_str(body, "name")
        if name == "":
            raise DataError("Empty dataset name")
        name = name.strip()
        _check_name_length(name)
        if name != dataset.name:
            new_name = name
    if body.get("embedding_model_id") is not None:
        embedding = _require_str(body, "embedding_model_id")
        if dataset.chunk_num != 0:
            raise DataError(
                "You have already parsed the document in this dataset, so you cannot change the embedding model."
            )
        values["embd_id"] = embedding
    if "chunk_method" in body:
        method = body["chunk_method"]
        if method not in PARSER_TYPES:
            raise DataError(f"Illegal value {method} for 'chunk_method' field.")
        values["parser_id"] = method
    if body.get("photo") is not None:
        values["avatar"] = _require_str(body, "photo")
    if "layout_recognize" in body:
        if not isinstance(body["layout_recognize"], bool):
            raise ArgumentError("'layout_recognize' must be true or false.")
        values["parser_config"] = {**dataset.parser_config, "layout_recognize": body["layout_recognize"]}
    for key in ("description", "language", "permission"):
        if key in body:
            value = body[key]
            if value is not None and not isinstance(value, str):
                raise ArgumentError(f"'{key}' must be a string, not {type(value).__name__}.")
            values[key] = value
    return DatasetChanges(name=new_name, values=values)


def _require_str(body: Mapping[str, Any], key: str) -> str:
    value = body[key]
    if not isinstance(value, str):
        raise ArgumentError(f"'{key}' must be a string, not {type(value).__name__}.")
    return value


# ---------------------------------------------------------------- delete
def delete_dataset(store: DatasetStore, purge: PurgeQueue, tenant_id: str, dataset_id: str) -> str:
    """Remove the dataset from the API at once; its documents are purged in the background."""
    dataset = store.get(tenant_id, dataset_id)
    if dataset is None or not store.delete(dataset):
        raise OperatingError("The dataset cannot be found for your current account.")
    purge.request_purge(tenant_id, dataset_id)
    return f"Remove dataset: {dataset_id} successfully"
