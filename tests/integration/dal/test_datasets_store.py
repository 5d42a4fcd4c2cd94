"""The DynamoDB dataset store on the local stack: names, races, counts, purge jobs."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from kb_ingest.dal.datasets import DynamoDatasetStore
from kb_ingest.dal.models import NameClaimModel, PurgeJobModel
from kb_ingest.dal.names import claim_key
from kb_ingest.domain import datasets
from kb_ingest.domain.datasets import DatasetChanges, NameTaken


@pytest.fixture
def store(local_stack) -> DynamoDatasetStore:
    return DynamoDatasetStore()


def test_racing_creates_of_one_name_get_distinct_names(store, tenant_id):
    # Given eight requests creating "kb" at the same moment
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda _: datasets.create_dataset(store, tenant_id, {"name": "kb"}), range(8)))
    # Then every one got its own name, and exactly one got "kb"
    names = sorted(item["dataset_name"] for item in created)
    assert len(set(names)) == 8
    assert names.count("kb") == 1
    assert set(names) == {"kb", *(f"kb({n})" for n in range(1, 8))}


def test_names_are_unique_case_insensitively_and_rename_frees_the_old_name(store, tenant_id):
    first = datasets.create_dataset(store, tenant_id, {"name": "Reports"})
    assert datasets.create_dataset(store, tenant_id, {"name": "reports"})["dataset_name"] == "reports(1)"
    dataset = store.get(tenant_id, first["dataset_id"])
    store.update(dataset, DatasetChanges(name="annual"), 1)
    assert datasets.create_dataset(store, tenant_id, {"name": "Reports"})["dataset_name"] == "Reports"


def test_rename_onto_a_taken_name_is_refused_and_changes_nothing(store, tenant_id):
    a = datasets.create_dataset(store, tenant_id, {"name": "a"})
    datasets.create_dataset(store, tenant_id, {"name": "b"})
    dataset = store.get(tenant_id, a["dataset_id"])
    with pytest.raises(NameTaken):
        store.update(dataset, DatasetChanges(name="B", values={"description": "x"}), 1)
    assert store.get(tenant_id, a["dataset_id"]).description is None
    assert NameClaimModel.get(f"datasets#{tenant_id}", claim_key("a")).owner_id == a["dataset_id"]


def test_list_pages_in_each_order(store, tenant_id):
    for name in ["c", "a", "b"]:
        datasets.create_dataset(store, tenant_id, {"name": name})
    page, skipped = store.list_page(tenant_id, "name", False, 1, 1)
    assert [d.name for d in page] == ["b"] and skipped == 1
    newest_first, _ = store.list_page(tenant_id, "create_time", True, 0, -1)
    assert [d.name for d in newest_first] == ["b", "a", "c"]


def test_delete_hides_the_dataset_frees_its_name_and_leaves_a_purge_job(store, tenant_id):
    created = datasets.create_dataset(store, tenant_id, {"name": "gone"})
    dataset = store.get(tenant_id, created["dataset_id"])
    assert store.delete(dataset) is True
    assert store.get(tenant_id, created["dataset_id"]) is None
    assert store.list_page(tenant_id, "create_time", True, 0, -1)[0] == []
    assert PurgeJobModel.get(created["dataset_id"]).tenant_id == tenant_id
    assert datasets.create_dataset(store, tenant_id, {"name": "gone"})["dataset_name"] == "gone"
    assert store.delete(dataset) is False


def test_other_tenants_cannot_see_a_dataset(store, tenant_id):
    created = datasets.create_dataset(store, tenant_id, {"name": "mine"})
    assert store.get("f" * 32, created["dataset_id"]) is None


def test_orphaned_uploads_are_reclaimed_and_claimed_ones_kept(local_stack, tenant_id):
    from datetime import timedelta

    from kb_ingest.dal.blobs import S3FileStore, upload_key
    from kb_ingest.dal.documents import DynamoDocumentStore
    from kb_ingest.dal.orphans import reclaim_orphan_uploads
    from kb_ingest.domain.documents import IncomingFile, upload_documents

    datasets_store = DynamoDatasetStore()
    dataset = datasets_store.get(
        tenant_id, datasets.create_dataset(datasets_store, tenant_id, {"name": "o"})["dataset_id"]
    )
    [kept] = upload_documents(DynamoDocumentStore(), S3FileStore(), dataset, [IncomingFile("k.txt", b"k")], 100)
    s3 = local_stack.client("s3")
    bucket = local_stack.bucket_names["DocumentsBucket"]
    orphan = upload_key(tenant_id, dataset.id, "f" * 32)  # as if the request died after the S3 write
    s3.put_object(Bucket=bucket, Key=orphan, Body=b"lost")
    removed = []
    for _ in range(20):  # the walk resumes page by page; go round until it has seen everything
        removed += reclaim_orphan_uploads(max_keys=200, min_age=timedelta(0))
        if orphan in removed:
            break
    assert orphan in removed
    assert upload_key(tenant_id, dataset.id, kept["id"]) not in removed
    s3.head_object(Bucket=bucket, Key=upload_key(tenant_id, dataset.id, kept["id"]))


def count_dynamodb_calls(monkeypatch):
    """Record the DynamoDB operations this thread makes from now on (the session stack's pollers
    run functions in other threads of the process: their calls are not the test's)."""
    import threading

    import botocore.client

    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call
    test_thread = threading.get_ident()

    def recording(self, operation, params):
        if self.meta.service_model.service_name == "dynamodb" and threading.get_ident() == test_thread:
            calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls


def test_a_name_taken_many_times_costs_the_same_calls_as_a_fresh_one(store, tenant_id, monkeypatch):
    # Given "kb" and "kb(1)" .. "kb(39)" taken
    for _ in range(40):
        datasets.create_dataset(store, tenant_id, {"name": "kb"})
    calls = count_dynamodb_calls(monkeypatch)
    # When "kb" is created once more
    assert datasets.create_dataset(store, tenant_id, {"name": "kb"})["dataset_name"] == "kb(40)"
    # Then one read of the name's family found the free suffix, and one transaction took it
    assert calls == ["Query", "TransactWriteItems"]
    calls.clear()
    assert datasets.create_dataset(store, tenant_id, {"name": "fresh"})["dataset_name"] == "fresh"
    assert calls == ["Query", "TransactWriteItems"]


def test_uploading_a_taken_name_many_times_reads_its_family_once(local_stack, tenant_id, monkeypatch):
    from kb_ingest.dal.blobs import S3FileStore
    from kb_ingest.dal.documents import DynamoDocumentStore
    from kb_ingest.domain.documents import IncomingFile, upload_documents

    datasets_store = DynamoDatasetStore()
    dataset = datasets_store.get(
        tenant_id, datasets.create_dataset(datasets_store, tenant_id, {"name": "d"})["dataset_id"]
    )
    documents = DynamoDocumentStore()
    upload_documents(documents, S3FileStore(), dataset, [IncomingFile("a.txt", b"a")] * 30, 100)
    calls = count_dynamodb_calls(monkeypatch)
    [added] = upload_documents(documents, S3FileStore(), dataset, [IncomingFile("a.txt", b"a")], 100)
    assert added["name"] == "a(30).txt"
    assert calls == ["Query", "TransactWriteItems"]
    calls.clear()
    batch = [IncomingFile("a.txt", b"a"), IncomingFile("b.txt", b"b"), IncomingFile("A.txt", b"a")]
    added_many = upload_documents(documents, S3FileStore(), dataset, batch, 100)
    assert [document["name"] for document in added_many] == ["a(31).txt", "b.txt", "A(32).txt"]
    assert calls == ["BatchGetItem", "Query", "TransactWriteItems"]  # only the taken name's family is read


def test_a_dataset_whose_claim_predates_the_key_scheme_can_still_be_renamed_and_deleted(store, tenant_id):
    # Given datasets whose claims were written under the earlier scheme (the raw lowercased name)
    scope = f"datasets#{tenant_id}"
    renamed = store.get(tenant_id, datasets.create_dataset(store, tenant_id, {"name": "old"})["dataset_id"])
    deleted = store.get(tenant_id, datasets.create_dataset(store, tenant_id, {"name": "older"})["dataset_id"])
    for dataset in (renamed, deleted):
        NameClaimModel.get(scope, claim_key(dataset.name)).delete()
        NameClaimModel(scope, dataset.name, owner_id=dataset.id).save()
    # Then renaming and deleting them works (they answered 500 after every retry failed)
    assert store.update(renamed, DatasetChanges(name="new"), 1).name == "new"
    assert store.delete(deleted) is True
    assert store.get(tenant_id, deleted.id) is None
