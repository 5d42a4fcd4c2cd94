"""An in-memory DatasetStore with the same contract as the DynamoDB one, for domain unit tests."""

from dataclasses import replace

from kb_ingest.domain.datasets import Dataset, DatasetChanges, DatasetKey, DatasetOrder, NameTaken
from kb_ingest.domain.naming import first_free_name, name_key


class InMemoryDatasetStore:
    def __init__(self) -> None:
        self.datasets: dict[tuple[str, str], Dataset] = {}
        self.purge_jobs: list[str] = []

    def _names(self, tenant_id: str) -> set[str]:
        return {name_key(d.name) for (tenant, _), d in self.datasets.items() if tenant == tenant_id}

    def create(self, dataset: Dataset) -> Dataset:
        taken = self._names(dataset.tenant_id)
        stored = replace(dataset, name=first_free_name(dataset.name, lambda n: name_key(n) in taken))
        self.datasets[(dataset.tenant_id, dataset.id)] = stored
        return stored

    def get(self, tenant_id: str, dataset_id: str) -> Dataset | None:
        return self.datasets.get((tenant_id, dataset_id))

    def list_page(self, tenant_id: str, order: DatasetOrder, descending: bool, offset: int, count: int):
        key = {"create_time": lambda d: d.create_time, "update_time": lambda d: d.update_time}.get(
            order, lambda d: name_key(d.name)
        )
        mine = sorted((d for (t, _), d in self.datasets.items() if t == tenant_id), key=key, reverse=descending)
        page = mine[offset:] if count < 0 else mine[offset : offset + count]
        return page, min(offset, len(mine))

    def update(self, dataset: Dataset, changes: DatasetChanges, update_time: int) -> Dataset | None:
        current = self.get(dataset.tenant_id, dataset.id)
        if current is None:
            return None
        renamed = changes.name is not None and name_key(changes.name) != name_key(current.name)
        if renamed and name_key(changes.name) in self._names(dataset.tenant_id):
            raise NameTaken(changes.name)
        updated = replace(current, **changes.values, update_time=update_time)
        if changes.name is not None:
            updated = replace(updated, name=changes.name)
        self.datasets[(dataset.tenant_id, dataset.id)] = updated
        return updated

    def delete(self, dataset: Dataset) -> bool:
        removed = self.datasets.pop((dataset.tenant_id, dataset.id), None)
        return removed is not None

    def delete_many(self, datasets: list[DatasetKey]) -> list[DatasetKey]:
        return [key for key in datasets if self.datasets.pop((key.tenant_id, key.id), None) is not None]

    def keys_of(self, tenant_id: str, dataset_ids: list[str]) -> dict[str, DatasetKey]:
        return {i: DatasetKey(tenant_id, i, d.name) for i, d in self.get_many(tenant_id, dataset_ids).items()}

    def all_keys(self, tenant_id: str) -> list[DatasetKey]:
        return [DatasetKey(t, d.id, d.name) for (t, _), d in self.datasets.items() if t == tenant_id]

    def get_many(self, tenant_id: str, dataset_ids: list[str]) -> dict[str, Dataset]:
        return {i: self.datasets[(tenant_id, i)] for i in dataset_ids if (tenant_id, i) in self.datasets}

    def find_by_name(self, tenant_id: str, name: str) -> Dataset | None:
        mine = (d for (t, _), d in self.datasets.items() if t == tenant_id and name_key(d.name) == name_key(name))
        return next(mine, None)

    def count(self, tenant_id: str) -> int:
        return sum(1 for tenant, _ in self.datasets if tenant == tenant_id)


class RecordingPurgeQueue:
    def __init__(self) -> None:
        self.requested: list[tuple[str, str]] = []

    def request_purge(self, tenant_id: str, dataset_id: str) -> None:
        self.requested.append((tenant_id, dataset_id))

    def request_purges(self, tenant_id: str, dataset_ids: list[str]) -> None:
        self.requested.extend((tenant_id, dataset_id) for dataset_id in dataset_ids)
