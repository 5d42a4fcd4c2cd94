"""DynamoDB storage of datasets: every write that touches a name goes through a transaction
with its name claim, so names stay unique however many requests race."""

from dataclasses import replace
from functools import lru_cache
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from kb_ingest.clock import now_ms
from kb_ingest.dal.clients import transactions_connection
from kb_ingest.dal.models import DatasetModel, NameClaimModel, PurgeJobModel
from kb_ingest.dal.names import NameBook, claim_key, dataset_name_scope, new_claim, released_by
from kb_ingest.dal.retry import contended_attempts
from kb_ingest.dal.transactions import Transaction, TransactionCancelled
from kb_ingest.domain.datasets import Dataset, DatasetChanges, DatasetKey, DatasetOrder, NameTaken
from kb_ingest.domain.naming import name_key

# Racing creates of one name each lose at most once per racer that got in first.
_MAX_NAME_ATTEMPTS = 200
_DELETES_PER_TRANSACTION = 33
_KEY_FIELDS = ["tenant_id", "id", "name"]
_FIELDS = tuple(Dataset.__dataclass_fields__)


def to_domain(item: DatasetModel) -> Dataset:
    values: dict[str, Any] = {name: getattr(item, name) for name in _FIELDS}
    for counter in ("chunk_num", "doc_num", "token_num", "pagerank", "search_lag", "create_time", "update_time"):
        values[counter] = int(values[counter] or 0)
    return Dataset(**values)


def _to_item(dataset: Dataset) -> DatasetModel:
    return DatasetModel(
        dataset.tenant_id, dataset.id, name_key=name_key(dataset.name),
        **{name: getattr(dataset, name) for name in _FIELDS if name not in ("tenant_id", "id")},
    )  # fmt: skip


class DynamoDatasetStore:
    def __init__(self) -> None:
        self._connection = transactions_connection()

    # ------------------------------------------------------------ reads
    def get(self, tenant_id: str, dataset_id: str) -> Dataset | None:
        try:
            return to_domain(DatasetModel.get(tenant_id, dataset_id, consistent_read=True))
        except DoesNotExist:
            return None

    def find(self, dataset_id: str) -> Dataset | None:
        """A dataset from its id alone (the drop folder knows no tenant)."""
        for item in DatasetModel.by_dataset_id.query(dataset_id, limit=1):
            return self.get(str(item.tenant_id), dataset_id)
        return None

    def list_page(
        self, tenant_id: str, order: DatasetOrder, descending: bool, offset: int, count: int
    ) -> tuple[list[Dataset], int]:
        index = {
            "create_time": DatasetModel.by_create_time,
            "update_time": DatasetModel.by_update_time,
            "name": DatasetModel.by_name,
        }[order]
        # DynamoDB has no offset: read offset + count in order and drop the first `offset`.
        # A tenant has few datasets, and the cost still follows the page asked for.
        limit = None if count < 0 else offset + count
        if limit == 0:
            return [], 0
        items = list(index.query(tenant_id, scan_index_forward=not descending, limit=limit, consistent_read=True))
        skipped = min(offset, len(items))
        return [to_domain(item) for item in items[offset:]], skipped

    # ------------------------------------------------------------ writes
    def create(self, dataset: Dataset) -> Dataset:
        scope = dataset_name_scope(dataset.tenant_id)
        for _ in contended_attempts(_MAX_NAME_ATTEMPTS):
            # One Query over the name's family finds the lowest free suffix, however many are taken.
            candidate = NameBook(scope).free_name(dataset.name)
            stored = replace(dataset, name=candidate)
            try:
                with Transaction(self._connection) as transaction:
                    transaction.save(
                        "name",
                        new_claim(scope, candidate, dataset.id),
                        condition=NameClaimModel.scope.does_not_exist(),
                    )
                    transaction.save("dataset", _to_item(stored), condition=DatasetModel.id.does_not_exist())
            except TransactionCancelled as cancelled:
                if "name" in cancelled.failed or cancelled.conflict:
                    continue  # somebody took this name a moment ago: look for the next free one
                raise
            return stored
        raise RuntimeError("could not claim a dataset name: too much contention")

    def update(self, dataset: Dataset, changes: DatasetChanges, update_time: int) -> Dataset | None:
        # A field set to None (a cleared description or avatar) is removed from the item.
        actions = [
            getattr(DatasetModel, key).remove() if value is None else getattr(DatasetModel, key).set(value)
            for key, value in changes.values.items()
        ]
        actions.append(DatasetModel.update_time.set(update_time))
        item = DatasetModel(dataset.tenant_id, dataset.id)
        if changes.name is None:
            try:
                item.update(actions=actions, condition=DatasetModel.id.exists())
            except UpdateError as error:
                if error.cause_response_code == "ConditionalCheckFailedException":
                    return None
                raise
            return to_domain(item)
        return self._rename(dataset, changes.name, actions)

    def _rename(self, dataset: Dataset, new_name: str, actions: list[Any]) -> Dataset | None:
        scope = dataset_name_scope(dataset.tenant_id)
        actions = [*actions, DatasetModel.name.set(new_name), DatasetModel.name_key.set(name_key(new_name))]
        for _ in contended_attempts():
            old_name = dataset.name
            try:
                with Transaction(self._connection) as transaction:
                    transaction.update(
                        "dataset",
                        DatasetModel(dataset.tenant_id, dataset.id),
                        actions=actions,
                        condition=DatasetModel.id.exists() & (DatasetModel.name == old_name),
                    )
                    if claim_key(new_name) != claim_key(old_name):
                        transaction.save(
                            "new name",
                            new_claim(scope, new_name, dataset.id),
                            condition=NameClaimModel.scope.does_not_exist(),
                        )
                        transaction.delete(
                            "old name",
                            NameClaimModel(scope, claim_key(old_name)),
                            condition=released_by(dataset.id),
                        )
            except TransactionCancelled as cancelled:
                if "new name" in cancelled.failed:
                    raise NameTaken(new_name) from None
                if cancelled.failed or cancelled.conflict:
                    current = self.get(dataset.tenant_id, dataset.id)
                    if current is None:
                        return None
                    dataset = current  # renamed meanwhile: rename from its current name
                    continue
                raise
            return self.get(dataset.tenant_id, dataset.id)
        raise RuntimeError("could not rename the dataset: too much contention")

    def delete(self, dataset: Dataset) -> bool:
        return self._delete_key(DatasetKey(dataset.tenant_id, dataset.id, dataset.name))

    def _delete_key(self, dataset: DatasetKey) -> bool:
        for _ in contended_attempts():
            current = self.get(dataset.tenant_id, dataset.id)
            if current is None:
                return False
            try:
                with Transaction(self._connection) as transaction:
                    _delete_in(transaction, current)
            except TransactionCancelled:
                continue  # renamed or deleted meanwhile: read it again
            return True
        raise RuntimeError("could not delete the dataset: too much contention")

    def delete_many(self, datasets: list[DatasetKey]) -> list[DatasetKey]:
        """Up to 33 datasets per transaction (3 items each; a transaction takes 100). A group
        that a concurrent rename or delete spoils is done again one dataset at a time."""
        deleted: list[DatasetKey] = []
        for start in range(0, len(datasets), _DELETES_PER_TRANSACTION):
            group = datasets[start : start + _DELETES_PER_TRANSACTION]
            try:
                with Transaction(self._connection) as transaction:
                    for dataset in group:
                        _delete_in(transaction, dataset)
            except TransactionCancelled:
                deleted.extend(key for key in group if self._delete_key(key))
                continue
            deleted.extend(group)
        return deleted

    # ------------------------------------------------------------ reads for today's API
    def get_many(self, tenant_id: str, dataset_ids: list[str]) -> dict[str, Dataset]:
        found: dict[str, Dataset] = {}
        unique = list(dict.fromkeys(dataset_ids))
        for start in range(0, len(unique), 100):  # BatchGetItem's limit
            keys = [(tenant_id, dataset_id) for dataset_id in unique[start : start + 100]]
            for item in DatasetModel.batch_get(keys, consistent_read=True):
                found[str(item.id)] = to_domain(item)
        return found

    def keys_of(self, tenant_id: str, dataset_ids: list[str]) -> dict[str, DatasetKey]:
        found: dict[str, DatasetKey] = {}
        unique = list(dict.fromkeys(dataset_ids))
        for start in range(0, len(unique), 100):
            keys = [(tenant_id, dataset_id) for dataset_id in unique[start : start + 100]]
            for item in DatasetModel.batch_get(keys, consistent_read=True, attributes_to_get=_KEY_FIELDS):
                found[str(item.id)] = DatasetKey(tenant_id, str(item.id), str(item.name))
        return found

    def all_keys(self, tenant_id: str) -> list[DatasetKey]:
        items = DatasetModel.query(tenant_id, consistent_read=True, attributes_to_get=_KEY_FIELDS)
        return [DatasetKey(tenant_id, str(item.id), str(item.name)) for item in items]

    def find_by_name(self, tenant_id: str, name: str) -> Dataset | None:
        for item in DatasetModel.by_name.query(
            tenant_id, DatasetModel.name_key == name_key(name), limit=1, consistent_read=True
        ):
            return to_domain(item)
        return None

    def count(self, tenant_id: str) -> int:
        """A Select=COUNT Query of the tenant's partition: no items travel back."""
        return int(DatasetModel.count(tenant_id, consistent_read=True))


def _delete_in(transaction: Transaction, dataset: Dataset | DatasetKey) -> None:
    """The dataset (as read: not renamed since), its name claim and its purge job, together."""
    transaction.delete(
        f"dataset {dataset.id}",
        DatasetModel(dataset.tenant_id, dataset.id),
        condition=DatasetModel.name == dataset.name,
    )
    transaction.delete(
        f"name {dataset.id}",
        NameClaimModel(dataset_name_scope(dataset.tenant_id), claim_key(dataset.name)),
        condition=released_by(dataset.id),
    )
    # The job outlives the request: if the queue message is lost, the sweep finds it.
    transaction.save(
        f"purge job {dataset.id}", PurgeJobModel(dataset.id, tenant_id=dataset.tenant_id, requested_at=now_ms())
    )


@lru_cache(maxsize=1)
def get_dataset_store() -> DynamoDatasetStore:
    return DynamoDatasetStore()


__all__ = ["DynamoDatasetStore", "get_dataset_store"]
