"""The contract's dataset rules, on an in-memory store."""

import pytest

from kb_ingest.domain import datasets
from kb_ingest.domain.errors import ArgumentError, DataError, OperatingError, RangeError
from tests.fakes.datasets import InMemoryDatasetStore, RecordingPurgeQueue

TENANT = "a" * 32


@pytest.fixture
def store() -> InMemoryDatasetStore:
    return InMemoryDatasetStore()


def create(store, name, tenant=TENANT):
    return datasets.create_dataset(store, tenant, {"name": name})


def test_create_returns_name_and_a_32_hex_id(store):
    created = create(store, "kb")
    assert created["dataset_name"] == "kb"
    assert len(created["dataset_id"]) == 32 and int(created["dataset_id"], 16) >= 0


def test_taken_names_get_the_next_suffix(store):
    assert [create(store, "kb")["dataset_name"] for _ in range(3)] == ["kb", "kb(1)", "kb(2)"]
    assert create(store, "kb(1)")["dataset_name"] == "kb(3)"


def test_names_are_unique_per_tenant_only(store):
    create(store, "kb")
    assert create(store, "kb", tenant="b" * 32)["dataset_name"] == "kb"


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({}, ArgumentError, "required argument are missing: name; "),
        ({"name": "x", "color": "red"}, DataError, "fields: ['color'], are not allowed in request body."),
        ({"name": ""}, DataError, "Empty dataset name"),
        ({"name": 5}, ArgumentError, "Dataset name must be a string, not int."),
        ({"name": "x" * 1025}, DataError, f"Dataset name: {'x' * 1025} with length 1025 exceeds 1024!"),
    ],
)
def test_create_refuses_bad_bodies(store, body, error, message):
    with pytest.raises(error) as raised:
        datasets.create_dataset(store, TENANT, body)
    assert raised.value.message == message
    assert store.datasets == {}


def test_blank_name_is_accepted_and_stripped(store):
    assert create(store, " ")["dataset_name"] == ""
    assert create(store, "  padded  ")["dataset_name"] == "padded"


def test_defaults_of_a_new_dataset(store):
    dataset_id = create(store, "kb")["dataset_id"]
    shown = datasets.get_dataset(store, TENANT, dataset_id)
    assert shown["avatar"] is None and shown["description"] is None
    assert (shown["chunk_num"], shown["doc_num"], shown["token_num"]) == (0, 0, 0)
    assert shown["embd_id"] == "BAAI/bge-large-zh-v1.5"
    assert shown["language"] == "English"
    assert shown["parser_id"] == "naive"
    assert shown["parser_config"] == {"pages": [[1, 1000000]]}
    assert shown["permission"] == "me" and shown["status"] == "1"
    assert shown["similarity_threshold"] == 0.2 and shown["vector_similarity_weight"] == 0.3
    assert shown["created_by"] == TENANT and shown["tenant_id"] == TENANT
    assert shown["create_date"].endswith(" GMT") and shown["create_time"] > 1_700_000_000_000


def test_list_orders_and_pages(store):
    for name in ["b", "a", "c"]:
        create(store, name)
    by_name = datasets.list_datasets(store, TENANT, {"orderby": "name", "desc": "false"})
    assert [d["name"] for d in by_name] == ["a", "b", "c"]
    page = datasets.list_datasets(store, TENANT, {"orderby": "name", "desc": "true", "offset": "1", "count": "1"})
    assert [d["name"] for d in page] == ["b"]
    assert datasets.list_datasets(store, TENANT, {"offset": "3"}) == []


@pytest.mark.parametrize("offset", ["-1", "4"])
def test_list_offset_out_of_range(store, offset):
    for name in ["a", "b", "c"]:
        create(store, name)
    with pytest.raises(RangeError) as raised:
        datasets.list_datasets(store, TENANT, {"offset": offset})
    assert raised.value.message == "IndexError('Offset is out of the valid range.')"


def test_list_refuses_garbage_parameters(store):
    with pytest.raises(ArgumentError):
        datasets.list_datasets(store, TENANT, {"offset": "x"})
    with pytest.raises(ArgumentError):
        datasets.list_datasets(store, TENANT, {"orderby": "color"})


def test_get_unknown(store):
    with pytest.raises(DataError, match="Can't find this dataset!"):
        datasets.get_dataset(store, TENANT, "0" * 32)


def test_update_checks_in_the_contract_order(store):
    dataset_id = create(store, "kb")["dataset_id"]
    create(store, "other")
    with pytest.raises(DataError, match="Please input at least one parameter"):
        datasets.update_dataset(store, TENANT, dataset_id, {})
    with pytest.raises(OperatingError, match="Only the owner of knowledgebase"):
        datasets.update_dataset(store, TENANT, "0" * 32, {"name": "x"})
    with pytest.raises(DataError) as raised:
        datasets.update_dataset(store, TENANT, dataset_id, {"name": "OTHER"})
    assert raised.value.message == (
        "The name: other is already used by other datasets. Please choose a different name."
    )
    with pytest.raises(DataError, match=r"Illegal value wrong for 'chunk_method' field\."):
        datasets.update_dataset(store, TENANT, dataset_id, {"chunk_method": "wrong"})


def test_update_sets_fields(store):
    dataset_id = create(store, "kb")["dataset_id"]
    updated = datasets.update_dataset(
        store,
        TENANT,
        dataset_id,
        {"name": "renamed", "chunk_method": "qa", "photo": "img", "layout_recognize": True, "description": "d"},
    )
    assert updated["name"] == "renamed" and updated["parser_id"] == "qa" and updated["avatar"] == "img"
    assert updated["parser_config"] == {"pages": [[1, 1000000]], "layout_recognize": True}
    assert updated["description"] == "d"


def test_embedding_model_is_fixed_once_chunks_exist(store):
    dataset_id = create(store, "kb")["dataset_id"]
    assert datasets.update_dataset(store, TENANT, dataset_id, {"embedding_model_id": "m"})["embd_id"] == "m"
    store.datasets[(TENANT, dataset_id)].chunk_num = 3
    with pytest.raises(DataError, match="cannot change the embedding model"):
        datasets.update_dataset(store, TENANT, dataset_id, {"embedding_model_id": "n"})


def test_delete_removes_and_requests_a_purge(store):
    purges = RecordingPurgeQueue()
    dataset_id = create(store, "kb")["dataset_id"]
    assert datasets.delete_dataset(store, purges, TENANT, dataset_id) == f"Remove dataset: {dataset_id} successfully"
    assert purges.requested == [(TENANT, dataset_id)]
    with pytest.raises(OperatingError, match=r"The dataset cannot be found for your current account\."):
        datasets.delete_dataset(store, purges, TENANT, dataset_id)


# ---------------------------------------------------------------- add_dataset (today's create)
def test_add_dataset_stores_its_settings_and_suffixes_a_taken_name():
    from kb_ingest.domain.datasets import add_dataset

    store = InMemoryDatasetStore()
    first = add_dataset(store, "t1", " kb ", {"parser_id": "qa", "embd_id": "m@p", "permission": "team"})
    second = add_dataset(store, "t1", "KB", {})
    assert (first.name, first.parser_id, first.embd_id, first.permission) == ("kb", "qa", "m@p", "team")
    assert second.name == "KB(1)" and second.parser_id == "naive"
    assert "pagerank" not in first.to_api()  # the seed view shows only its own fields


def test_add_dataset_refuses_fields_that_are_not_settings():
    from kb_ingest.domain.datasets import add_dataset

    with pytest.raises(ValueError, match="chunk_num"):
        add_dataset(InMemoryDatasetStore(), "t1", "kb", {"chunk_num": 5})


# ---------------------------------------------------------------- today's API operations
def _today(store, tenant, *names):
    return [datasets.add_dataset(store, tenant, name, {}) for name in names]


def test_find_datasets_pages_and_counts_the_tenants_datasets_only():
    store = InMemoryDatasetStore()
    mine = _today(store, "t1", "a", "b", "c")
    _today(store, "t2", "theirs")
    page, total = datasets.find_datasets(store, "t1", datasets.DatasetFilter(), "create_time", False, 2, 2)
    assert total == 3 and [d.id for d in page] == [mine[2].id]
    where = datasets.DatasetFilter(dataset_ids=[mine[0].id, mine[1].id, "f" * 32])
    page, total = datasets.find_datasets(store, "t1", where, "create_time", False, 1, 30)
    assert total == 2 and {d.id for d in page} == {mine[0].id, mine[1].id}


def test_find_datasets_refuses_an_unknown_id_or_name():
    store = InMemoryDatasetStore()
    with pytest.raises(DataError, match="User 't1' lacks permission for dataset 'x'"):
        datasets.find_datasets(store, "t1", datasets.DatasetFilter(name="x"), "create_time", True, 1, 30)


def test_change_dataset_merges_parser_config_and_refuses_a_taken_name():
    store = InMemoryDatasetStore()
    first, second = _today(store, "t1", "one", "two")
    changed = datasets.change_dataset(store, "t1", first.id, {"parser_config": {"delimiter": "#"}, "pagerank": 7})
    assert changed.parser_config["delimiter"] == "#" and changed.pagerank == 7
    assert changed.parser_config["pages"] == [[1, 1000000]]  # what it had is kept
    with pytest.raises(DataError, match="Dataset name 'ONE' already exists"):
        datasets.change_dataset(store, "t1", second.id, {"name": "ONE"})
    with pytest.raises(DataError, match="no properties were modified"):
        datasets.change_dataset(store, "t1", second.id, {})


def test_delete_datasets_is_all_or_nothing_and_requests_a_purge_per_dataset():
    store, purge = InMemoryDatasetStore(), RecordingPurgeQueue()
    a, b = _today(store, "t1", "a", "b")
    with pytest.raises(DataError, match="lacks permission for datasets"):
        datasets.delete_datasets(store, purge, "t1", [a.id, "f" * 32], False)
    assert store.count("t1") == 2 and purge.requested == []
    assert datasets.delete_datasets(store, purge, "t1", None, False) == 0
    assert datasets.delete_datasets(store, purge, "t1", None, True) == 2
    assert sorted(purge.requested) == sorted([("t1", a.id), ("t1", b.id)])
