"""`python -m benchmarks.name_suffixes`: what a create costs when its name is taken many times.

The store finds the lowest free `(n)` from one Query over the name's family of claims
(kb_ingest.dal.names). The baseline, measured in the same run against the same moto, is the
walk it replaced: GetItem on `kb`, `kb(1)`, `kb(2)`, ... until one is free, then the same
transaction. Figures: DynamoDB calls and latency of one create with k names taken, and the
latencies of 50 creates of one name racing on 16 threads.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from benchmarks.common import prepare_environment


def main() -> None:
    prepare_environment()
    import botocore.client

    from infra.local.serve import run_local_stack
    from kb_ingest.clock import new_id
    from kb_ingest.dal.datasets import DynamoDatasetStore
    from kb_ingest.dal.models import DatasetModel, NameClaimModel
    from kb_ingest.dal.names import dataset_name_scope, is_claimed, new_claim
    from kb_ingest.dal.transactions import Transaction, TransactionCancelled
    from kb_ingest.domain import datasets
    from kb_ingest.domain.naming import first_free_name

    class ProbingStore(DynamoDatasetStore):
        """The baseline: one GetItem per candidate name."""

        def create(self, dataset: Any) -> Any:
            scope = dataset_name_scope(dataset.tenant_id)
            for _ in range(200):
                candidate = first_free_name(dataset.name, lambda name: is_claimed(scope, name))
                stored = replace(dataset, name=candidate)
                try:
                    with Transaction(self._connection) as transaction:
                        transaction.save(
                            "name",
                            new_claim(scope, candidate, dataset.id),
                            condition=NameClaimModel.scope.does_not_exist(),
                        )
                        transaction.save(
                            "dataset",
                            self._item(stored),
                            condition=DatasetModel.id.does_not_exist(),
                        )
                except TransactionCancelled:
                    continue
                return stored
            raise RuntimeError("contention")

        def _item(self, dataset: Any) -> Any:
            from kb_ingest.dal.datasets import _to_item

            return _to_item(dataset)

    calls = threading.local()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        if getattr(calls, "log", None) is not None:
            calls.log.append(operation)
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]

    def one_create(store: Any, tenant: str) -> tuple[float, list[str]]:
        calls.log = []
        started = time.perf_counter()
        datasets.create_dataset(store, tenant, {"name": "kb"})
        seconds = time.perf_counter() - started
        made, calls.log = calls.log, None
        return seconds, made

    with run_local_stack(port=0, background=False):
        stores = {"family Query (this branch)": DynamoDatasetStore(), "probe each name (baseline)": ProbingStore()}
        print("one create of `kb` with k names of its family taken")
        print(f"{'k':>5} | {'store':<28} | {'DynamoDB calls':>14} | {'latency':>9}")
        results: dict[tuple[int, str], float] = {}
        for taken in (1, 10, 100):
            for label, store in stores.items():
                tenant = new_id()
                for _ in range(taken):
                    datasets.create_dataset(stores["family Query (this branch)"], tenant, {"name": "kb"})
                samples = [one_create(store, tenant) for _ in range(3)]
                seconds = statistics.median(sample[0] for sample in samples)
                results[(taken, label)] = seconds
                print(f"{taken:>5} | {label:<28} | {len(samples[0][1]):>14} | {seconds * 1000:>7.1f} ms")
        for taken in (1, 10, 100):
            base, new = results[(taken, "probe each name (baseline)")], results[(taken, "family Query (this branch)")]
            print(f"k={taken}: baseline / this branch = {base / new:.2f}x")

        print("\n50 creates of one name racing on 16 threads")
        print(f"{'store':<28} | {'median':>9} | {'p90':>9} | {'max':>9} | names")
        for label, store in stores.items():
            tenant = new_id()

            def timed(_: int, store: Any = store, tenant: str = tenant) -> float:
                started = time.perf_counter()
                datasets.create_dataset(store, tenant, {"name": "race"})
                return time.perf_counter() - started

            with ThreadPoolExecutor(max_workers=16) as pool:
                latencies = sorted(pool.map(timed, range(50)))
            names = {d.name for d in store.list_page(tenant, "create_time", True, 0, -1)[0]}
            distinct = "kb..(49) distinct" if names == {"race", *(f"race({n})" for n in range(1, 50))} else names
            print(
                f"{label:<28} | {statistics.median(latencies) * 1000:>7.0f} ms | "
                f"{latencies[44] * 1000:>7.0f} ms | {latencies[-1] * 1000:>7.0f} ms | {distinct}"
            )


if __name__ == "__main__":
    main()
