"""The DynamoDB dataset store on the local stack: names, races, counts, purge jobs."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from kb_ingest.dal.datasets import DynamoDatasetStore
from kb_ingest.dal.models import NameClaimModel, PurgeJobModel
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
    assert NameClaimModel.get(f"datasets#{tenant_id}", "a").owner_id == a["dataset_id"]


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
