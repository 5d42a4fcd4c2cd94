"""What a page of today's document list reads in DynamoDB, filter by filter, at two dataset sizes.

`python -m benchmarks.document_filters [--small 100] [--large 2000]` starts an in-process local
stack, fills two datasets (records written in batches, no parsing), and lists a 30-document
page of each with every filter the route takes. Reads are counted at botocore: items DynamoDB
examined (`ScannedCount` of each Query, items of each GetItem/BatchGetItem) and calls. The
baseline is the unfiltered page, measured in the same run; a filter whose reads stay level
from the small to the large dataset costs what the page costs, one whose reads grow with the
dataset does not (docs/api-current.md says which and why).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_counter = threading.local()


def _after_call(parsed: Any, model: Any, **_: Any) -> None:
    tally = getattr(_counter, "tally", None)
    if tally is None:
        return
    tally["calls"] += 1
    if model.name == "Query":
        tally["examined"] += int(parsed.get("ScannedCount", 0))
    elif model.name == "GetItem":
        tally["examined"] += 1 if parsed.get("Item") else 0
    elif model.name == "BatchGetItem":
        tally["examined"] += sum(len(items) for items in parsed.get("Responses", {}).values())


@contextmanager
def counted() -> Iterator[dict[str, int]]:
    _counter.tally = {"calls": 0, "examined": 0}
    try:
        yield _counter.tally
    finally:
        _counter.tally = None


def _fill(dataset: Any, count: int) -> list[Any]:
    from kb_ingest.dal.documents import to_item
    from kb_ingest.dal.models import DocumentModel
    from kb_ingest.domain.documents import new_document

    documents = []
    for index in range(count):
        name = f"report-{index:05d}.pdf" if index % 10 == 0 else f"notes-{index:05d}.txt"
        document = new_document(dataset, name, "pdf" if name.endswith(".pdf") else "doc", 100)
        document.create_time += index  # distinct, increasing creation times
        if index % 7 == 0:
            document.meta_fields = {"author": "alice"}
        if index % 5 == 0:
            document.run = "3"
        documents.append(document)
    with DocumentModel.batch_write() as batch:
        for document in documents:
            batch.save(to_item(document))
    return documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=2000)
    args = parser.parse_args()

    import boto3
    from starlette.datastructures import QueryParams

    from infra.local.serve import run_local_stack

    with run_local_stack(port=0) as _local:
        boto3.DEFAULT_SESSION = None
        from kb_ingest.clock import new_id
        from kb_ingest.dal.clients import client
        from kb_ingest.dal.datasets import DynamoDatasetStore
        from kb_ingest.dal.documents import DynamoDocumentStore
        from kb_ingest.domain import datasets, listing

        for service in ("dynamodb",):
            client(service).meta.events.register("after-call.dynamodb", _after_call)
        from kb_ingest.dal.models import DocumentModel

        DocumentModel._get_connection().connection.client.meta.events.register("after-call.dynamodb", _after_call)

        dataset_store, store = DynamoDatasetStore(), DynamoDocumentStore()
        tenant = new_id()
        sizes = {}
        for label, count in (("small", args.small), ("large", args.large)):
            created = datasets.create_dataset(dataset_store, tenant, {"name": f"bench-{label}"})
            dataset = dataset_store.get(tenant, created["dataset_id"])
            assert dataset is not None
            documents = _fill(dataset, count)
            dataset.doc_num = count
            sizes[label] = (dataset, documents)

        def queries(documents: list[Any]) -> list[tuple[str, str]]:
            middle = documents[len(documents) // 2]
            return [
                ("no filter (baseline)", ""),
                ("page 3", "page=3"),
                ("orderby=name", "orderby=name&desc=false"),
                ("id", f"id={middle.id}"),
                ("ids (3)", "&".join(f"ids={d.id}" for d in documents[:3])),
                ("name", f"name={middle.name}"),
                ("create_time range, create_time order", f"create_time_from={middle.create_time}"),
                ("create_time range, name order", f"create_time_from={middle.create_time}&orderby=name"),
                ("keywords", "keywords=report"),
                ("run=DONE", "run=DONE"),
                ("types=pdf", "types=pdf"),
                ("suffix=pdf", "suffix=pdf"),
                ("metadata author=alice", 'metadata={"author": "alice"}'),
            ]

        rows = []
        small_dataset, small_docs = sizes["small"]
        large_dataset, large_docs = sizes["large"]
        for (label, small_query), (_, large_query) in zip(queries(small_docs), queries(large_docs), strict=True):
            measured = []
            for dataset, query in ((small_dataset, small_query), (large_dataset, large_query)):
                with counted() as tally:
                    page = listing.list_documents(store, dataset, dataset.id, QueryParams(query))
                measured.append((tally["calls"], tally["examined"], len(page.documents), page.total))
            rows.append((label, *measured))

        print(f"\nItems DynamoDB examined for one 30-document page: {args.small} vs {args.large} documents\n")
        print(
            f"| filter | calls | examined at {args.small} | examined at {args.large} | growth | page | total at {args.large} |"
        )
        print("|---|---|---|---|---|---|---|")
        for label, small, large in rows:
            growth = large[1] / small[1] if small[1] else 1.0
            verdict = "page" if growth <= 1.5 else "dataset"
            print(
                f"| {label} | {small[0]} / {large[0]} | {small[1]} | {large[1]} | {growth:.1f}x ({verdict}) "
                f"| {large[2]} | {large[3]} |"
            )


if __name__ == "__main__":
    main()
