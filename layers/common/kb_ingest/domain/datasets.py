"""Datasets (RAGFlow knowledge bases): the contract's rules for create, list, get, update, delete.

Pure logic: storage comes in as a `DatasetStore` (kb_ingest.dal.datasets in production, an
in-memory fake in unit tests). Every message below is the contract's wording.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from kb_ingest.clock import new_id, now_ms, rfc1123
from kb_ingest.domain.errors import ArgumentError, DataError, OperatingError, RangeError
from kb_ingest.domain.naming import name_key
from kb_ingest.domain.parser_config import deep_merge, parser_config_for

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
    search_lag: int = 0  # chunk changes forwarded to the index and not yet searchable (today's API shows it)

    def to_api(self) -> dict[str, Any]:
        """The dataset as the seed API shows it."""
        body = asdict(self)
        for newer in _NEWER_FIELDS:
            del body[newer]
        body["create_date"] = rfc1123(self.create_time)
        body["update_date"] = rfc1123(self.update_time)
        return dict(sorted(body.items()))


_NEWER_FIELDS = ("pagerank", "search_lag")
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

    def get_many(self, tenant_id: str, dataset_ids: list[str]) -> dict[str, Dataset]:
        """Those of `dataset_ids` the tenant has, by id."""

    def find_by_name(self, tenant_id: str, name: str) -> Dataset | None:
        """The tenant's dataset of that name (names are unique case-insensitively)."""

    def count(self, tenant_id: str) -> int: ...

    def keys_of(self, tenant_id: str, dataset_ids: list[str]) -> dict[str, "DatasetKey"]:
        """Those of `dataset_ids` the tenant has (id and name only: cheap for a thousand)."""

    def all_keys(self, tenant_id: str) -> list["DatasetKey"]: ...

    def delete_many(self, datasets: list["DatasetKey"]) -> list["DatasetKey"]:
        """`delete` for each (unless renamed or deleted meanwhile: then read again), batched;
        the datasets this call deleted."""


@dataclass(frozen=True)
class DatasetKey:
    """What deleting a dataset needs: where it is and the name it holds."""

    tenant_id: str
    id: str
    name: str


class PurgeQueue(Protocol):
    def request_purge(self, tenant_id: str, dataset_id: str) -> None: ...

    def request_purges(self, tenant_id: str, dataset_ids: list[str]) -> None: ...


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
class IndexRebuilds(Protocol):
    """Told when a dataset's embedding model changed (kb_ingest.dal.search_feed.IndexRebuilds):
    its index is rebuilt in the background if another embedder built it."""

    def request_rebuild(self, tenant_id: str, dataset_id: str) -> None: ...


def _model_changed(before: Dataset, after: Dataset, rebuilds: IndexRebuilds | None) -> None:
    if rebuilds is not None and (before.embd_id or "").strip().lower() != (after.embd_id or "").strip().lower():
        rebuilds.request_rebuild(after.tenant_id, after.id)


def update_dataset(
    store: DatasetStore,
    tenant_id: str,
    dataset_id: str,
    body: Mapping[str, Any],
    rebuilds: IndexRebuilds | None = None,
) -> dict[str, Any]:
    if not body:
        raise DataError("Please input at least one parameter that you want to update!")
    dataset = store.get(tenant_id, dataset_id)
    if dataset is None:
        raise OperatingError("Only the owner of knowledgebase is authorized for this operation!")
    # Unlike create, RAGFlow's update ignores keys it does not know (its own client sends parser_id).
    changes = _changes_from({key: value for key, value in body.items() if key in _UPDATE_FIELDS}, dataset)
    try:
        updated = store.update(dataset, changes, now_ms())
    except NameTaken:
        raise DataError(_name_used_message(changes.name or "")) from None
    if updated is None:
        raise OperatingError("Only the owner of knowledgebase is authorized for this operation!")
    _model_changed(dataset, updated, rebuilds)
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


# ---------------------------------------------------------------- today's API (/api/v1/datasets)
# Same records and stores as above; the rules and wording are those of RAGFlow's current
# dataset service (requests are checked field by field in kb_ingest.http.current).
def _not_yours(tenant_id: str, what: str) -> DataError:
    return DataError(f"User '{tenant_id}' lacks permission for dataset '{what}'")


def owned_dataset(store: DatasetStore, tenant_id: str, dataset_id: str) -> Dataset:
    dataset = store.get(tenant_id, dataset_id)
    if dataset is None:
        raise _not_yours(tenant_id, dataset_id)
    return dataset


@dataclass(frozen=True)
class DatasetFilter:
    dataset_id: str | None = None
    dataset_ids: list[str] | None = None
    name: str | None = None


def find_datasets(
    store: DatasetStore,
    tenant_id: str,
    where: DatasetFilter,
    order: DatasetOrder,
    descending: bool,
    page: int,
    size: int,
) -> tuple[list[Dataset], int]:
    """One page of the tenant's datasets matching `where`, and how many match in all."""
    if where.dataset_id and where.dataset_ids:
        raise DataError(f"Should not provide both 'id':{where.dataset_id} and 'ids'{where.dataset_ids}")
    chosen: list[Dataset] | None = None
    if where.dataset_id:
        chosen = [owned_dataset(store, tenant_id, where.dataset_id)]
    if where.name:
        named = store.find_by_name(tenant_id, where.name)
        if named is None:
            raise _not_yours(tenant_id, where.name)
        chosen = [named] if chosen is None or chosen[0].id == named.id else []
    if where.dataset_ids:
        found = store.get_many(tenant_id, where.dataset_ids)
        chosen = [found[i] for i in where.dataset_ids if i in found and (chosen is None or found[i] in chosen)]
    offset = (page - 1) * size
    if chosen is not None:  # a handful of datasets, already read: order and cut them here
        chosen.sort(key=lambda d: getattr(d, order), reverse=descending)
        return chosen[offset : offset + size], len(chosen)
    datasets, _ = store.list_page(tenant_id, order, descending, offset, size)
    return datasets, store.count(tenant_id)


def change_dataset(
    store: DatasetStore,
    tenant_id: str,
    dataset_id: str,
    fields: Mapping[str, Any],
    rebuilds: IndexRebuilds | None = None,
) -> Dataset:
    """Apply the fields a client set (domain names); `parser_config` merges into the dataset's
    own, and a new chunk method without settings starts from that method's defaults."""
    if not fields:
        raise DataError("no properties were modified")
    dataset = owned_dataset(store, tenant_id, dataset_id)
    values = {key: value for key, value in fields.items() if key != "name"}
    unknown = sorted(set(values) - _SETTINGS)
    if unknown:
        raise ValueError(f"not dataset settings: {unknown}")
    if values.get("parser_config"):
        given = dict(values["parser_config"])
        parent_child = given.get("parent_child") or {}
        if parent_child.get("use_parent_child"):
            given["children_delimiter"] = parent_child.get("children_delimiter", "\n")
            given["enable_children"] = True
        else:
            given.update(children_delimiter="", enable_children=False, parent_child={})
        given.update(given.pop("ext", None) or {})
        values["parser_config"] = deep_merge(dataset.parser_config, given)
    method = values.get("parser_id")
    if method and method != dataset.parser_id and not values.get("parser_config"):
        values["parser_config"] = parser_config_for(method, None)
    elif "parser_config" in values and not values["parser_config"]:
        del values["parser_config"]
    if "embd_id" in values and not values["embd_id"]:
        del values["embd_id"]  # an empty model keeps the one the dataset has
    new_name = fields.get("name")
    if new_name is not None:
        new_name = new_name.strip()
        if name_key(new_name) == name_key(dataset.name) and new_name == dataset.name:
            new_name = None
    try:
        updated = store.update(dataset, DatasetChanges(name=new_name, values=values), now_ms())
    except NameTaken:
        raise DataError(f"Dataset name '{new_name}' already exists") from None
    if updated is None:
        raise _not_yours(tenant_id, dataset_id)
    _model_changed(dataset, updated, rebuilds)
    return updated


def delete_datasets(
    store: DatasetStore, purge: PurgeQueue, tenant_id: str, dataset_ids: list[str] | None, delete_all: bool
) -> int:
    """Remove datasets from both APIs at once (all of them, or none when one is not the
    tenant's); their documents and files are purged in the background. Answers how many."""
    if not dataset_ids:
        if not delete_all:
            return 0
        targets = store.all_keys(tenant_id)
    else:
        found = store.keys_of(tenant_id, dataset_ids)
        missing = [dataset_id for dataset_id in dataset_ids if dataset_id not in found]
        if missing:
            raise DataError(f"User '{tenant_id}' lacks permission for datasets: '{', '.join(missing)}'")
        targets = [found[dataset_id] for dataset_id in dataset_ids]
    deleted = store.delete_many(targets)
    if deleted:  # one deleted meanwhile by another request was purged by that request
        purge.request_purges(tenant_id, [dataset.id for dataset in deleted])
    return len(deleted)
