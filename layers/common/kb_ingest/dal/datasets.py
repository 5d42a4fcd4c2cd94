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
from kb_ingest.domain.datasets import Dataset, DatasetChanges, DatasetOrder, NameTaken
from kb_ingest.domain.naming import name_key

# Racing creates of one name each lose at most once per racer that got in first.
_MAX_NAME_ATTEMPTS = 200
_FIELDS = tuple(Dataset.__dataclass_fields__)


def to_domain(item: DatasetModel) -> Dataset:
    values: dict[str, Any] = {name: getattr(item, name) for name in _FIELDS}
    for counter in ("chunk_num", "doc_num", "token_num", "create_time", "update_time"):
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
        actions = [getattr(DatasetModel, key).set(value) for key, value in changes.values.items()]
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
        scope = dataset_name_scope(dataset.tenant_id)
        for _ in contended_attempts():
            current = self.get(dataset.tenant_id, dataset.id)
            if current is None:
                return False
            try:
                with Transaction(self._connection) as transaction:
                    transaction.delete(
                        "dataset",
                        DatasetModel(current.tenant_id, current.id),
                        condition=DatasetModel.name == current.name,
                    )
                    transaction.delete(
                        "name",
                        NameClaimModel(scope, claim_key(current.name)),
                        condition=released_by(current.id),
                    )
                    # The job outlives the request: if the queue message is lost, the sweep finds it.
                    job = PurgeJobModel(current.id, tenant_id=current.tenant_id, requested_at=now_ms())
                    transaction.save("purge job", job)
            except TransactionCancelled:
                continue  # renamed or deleted meanwhile: read it again
            return True
        raise RuntimeError("could not delete the dataset: too much contention")


@lru_cache(maxsize=1)
def get_dataset_store() -> DynamoDatasetStore:
    return DynamoDatasetStore()


__all__ = ["DynamoDatasetStore", "get_dataset_store"]
