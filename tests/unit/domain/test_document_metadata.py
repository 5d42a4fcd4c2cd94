"""Documents' metadata across a dataset: the summary, the flattened view, RAGFlow's condition
filter and the batch update/delete, on in-memory documents."""

import threading
from dataclasses import replace

import pytest

from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.document_metadata import (
    MetadataDelete,
    MetadataUpdate,
    apply_changes,
    batch_update,
    flatten,
    flattened_metadata,
    metadata_summary,
    parse_condition,
    summarize,
)
from kb_ingest.domain.documents import Document
from kb_ingest.domain.errors import ArgumentError, DataError

DATASET = Dataset(id="d" * 32, tenant_id="t" * 32, name="kb", create_time=1, update_time=1)


def document(n, meta=None, **changes):
    base = Document(
        id=f"{n:032x}", kb_id=DATASET.id, tenant_id=DATASET.tenant_id, name=f"f{n}.txt", type="doc",
        parser_id="naive", parser_config={}, size=1, create_time=n, update_time=n, meta_fields=dict(meta or {}),
        version=1,
    )  # fmt: skip
    return replace(base, **changes)


class Store:
    """Documents by id, with the DAL's conditional metadata write (on the version read)."""

    def __init__(self, documents, page_size=2):
        self.documents = {d.id: d for d in documents}
        self.page_size = page_size
        self.writes = 0
        self.key_reads = self.query_reads = 0
        self.lock = threading.Lock()
        self.before_write = None  # a hook to change a document between its read and its write

    def get(self, dataset_id, document_id):
        return self.documents.get(document_id)

    def get_many(self, dataset_id, document_ids):
        self.key_reads += len(document_ids)
        return {i: self.documents[i] for i in document_ids if i in self.documents}

    def fields_pages(self, dataset_id, names):
        items = sorted(self.documents.values(), key=lambda d: d.id)
        self.query_reads += len(items)
        for start in range(0, len(items), self.page_size):
            yield [{"id": d.id, **{n: getattr(d, n) for n in names}} for d in items[start : start + self.page_size]]

    def set_meta_fields_many(self, dataset_id, changes):
        """All or nothing, each document conditional on its version (as the DAL's transaction)."""
        with self.lock:
            if self.before_write:
                hook, self.before_write = self.before_write, None
                hook(self)
            stale = {
                d.id for d, _ in changes if d.id not in self.documents or self.documents[d.id].version != d.version
            }
            if stale:
                return stale
            for document, meta_fields in changes:
                current = self.documents[document.id]
                self.documents[document.id] = replace(current, meta_fields=meta_fields, version=current.version + 1)
                self.writes += 1
            return set()

    def meta_fields_pages(self, dataset_id):
        items = sorted(self.documents.values(), key=lambda d: d.id)
        for start in range(0, len(items), self.page_size):
            yield [(d.id, d.meta_fields) for d in items[start : start + self.page_size]]


# ---------------------------------------------------------------- summary and flattened
def test_summary_counts_each_value_once_per_document_list_items_one_by_one():
    summary = summarize(
        [
            {"tags": ["foo", "bar"], "author": "alice"},
            {"tags": ["foo"], "author": "bob"},
            {"tags": ["bar", "baz"], "author": ""},
        ]
    )
    assert summary["tags"] == {"type": "list", "values": [["foo", 2], ["bar", 2], ["baz", 1]]}
    assert summary["author"] == {"type": "string", "values": [["alice", 1], ["bob", 1], ["", 1]]}


def test_summary_types_follow_most_documents_and_most_frequent_values_come_first():
    summary = summarize([{"n": 1}, {"n": 2}, {"n": 2}, {"n": "x"}, {"at": "2026-02-03T00:00:00"}, {"ok": True}])
    assert summary["n"] == {"type": "number", "values": [["2", 2], ["1", 1], ["x", 1]]}
    assert summary["at"]["type"] == "time"
    assert summary["ok"] == {"type": "string", "values": [["True", 1]]}


def test_summary_over_named_documents_only_and_unknown_ids_left_out():
    store = Store([document(1, {"a": "x"}), document(2, {"a": "y"}), document(3, {"b": "z"})])
    answer = metadata_summary(store, DATASET, DATASET.id, f"{1:032x},{3:032x},{'f' * 32}")
    assert answer == {
        "summary": {"a": {"type": "string", "values": [["x", 1]]}, "b": {"type": "string", "values": [["z", 1]]}}
    }
    everything = metadata_summary(store, DATASET, DATASET.id, None)["summary"]
    assert everything["a"]["values"] == [["x", 1], ["y", 1]]


def test_summary_refuses_an_unknown_dataset_and_more_than_100_ids():
    store = Store([])
    with pytest.raises(DataError, match=r"^You don't own the dataset nope\. $"):
        metadata_summary(store, None, "nope", None)
    with pytest.raises(ArgumentError, match="doc_ids must contain at most 100 IDs"):
        metadata_summary(store, DATASET, DATASET.id, ",".join(["a"] * 101))


def test_flatten_maps_each_value_to_the_documents_holding_it():
    flat = flatten([("d1", {"tags": ["foo", "bar"], "n": 1}), ("d2", {"tags": ["foo"], "none": None})])
    assert flat == {"tags": {"foo": ["d1", "d2"], "bar": ["d1"]}, "n": {"1": ["d1"]}, "none": {}}


def test_flattened_metadata_needs_ids_and_every_dataset_must_be_the_tenants():
    store = Store([document(1, {"a": "x"})])
    with pytest.raises(DataError, match="Lack of dataset_ids in query parameters"):
        flattened_metadata(store, lambda i: DATASET, ",,")
    with pytest.raises(DataError, match="No authorization for dataset 'other'"):
        flattened_metadata(store, lambda i: DATASET if i == DATASET.id else None, f"{DATASET.id},other")
    assert flattened_metadata(store, lambda i: DATASET, DATASET.id) == {"a": {"x": [f"{1:032x}"]}}


# ---------------------------------------------------------------- the condition filter
def selects(meta, *conditions, logic=None):
    raw = {"conditions": [{"name": n, "comparison_operator": o, "value": v} for n, o, v in conditions]}
    if logic:
        raw["logic"] = logic
    return parse_condition(raw).selects(meta)


@pytest.mark.parametrize(
    ("meta", "condition", "expected"),
    [
        ({"a": "Alice"}, ("a", "is", "alice"), True),  # strings compare without case
        ({"a": ["x", "y"]}, ("a", "=", "y"), True),  # any list item
        ({"a": ["x", "y"]}, ("a", "≠", "x"), True),  # ... even for ≠: "y" differs
        ({"a": "x"}, ("a", "not is", "x"), False),
        ({"b": "x"}, ("a", "≠", "x"), False),  # without the key, nothing matches
        ({"b": "x"}, ("a", "empty", ""), False),
        ({"a": ""}, ("a", "empty", ""), True),
        ({"a": "x"}, ("a", "not empty", ""), True),
        ({"n": "10"}, ("n", ">", "9"), True),  # numbers as numbers, not text ("10" < "9")
        ({"n": 10}, ("n", ">=", 10), True),  # a JSON number too
        ({"n": "abc"}, ("n", ">", 5), False),  # text against a number: no match, no error
        ({"d": "2025-01-02"}, ("d", ">", "2025-01-01"), True),  # dates as dates
        ({"d": "soon"}, ("d", "<", "2025-01-01"), False),  # ... only against dates
        ({"a": "Report"}, ("a", "contains", "port"), True),
        ({"a": "Report"}, ("a", "not contains", "port"), False),
        ({"a": "x"}, ("a", "in", ["X", "y"]), True),
        ({"a": "x"}, ("a", "not in", ["y"]), True),
        ({"a": "Quarterly"}, ("a", "start with", "QUART"), True),
        ({"a": "Quarterly"}, ("a", "end with", "ly"), True),
        ({"a": "x"}, ("a", "no such operator", "x"), False),
    ],
)
def test_a_condition_on_one_document(meta, condition, expected):
    assert selects(meta, condition) is expected


def test_conditions_combine_with_and_by_default_or_otherwise_and_none_select_nothing():
    meta = {"a": "x", "b": "y"}
    assert selects(meta, ("a", "=", "x"), ("b", "=", "z")) is False
    assert selects(meta, ("a", "=", "x"), ("b", "=", "z"), logic="or") is True
    assert parse_condition({"logic": "and"}).selects(meta) is False


def test_a_malformed_condition_is_refused_with_a_clear_message():
    with pytest.raises(DataError, match="must be a list of objects with name, comparison_operator and value"):
        parse_condition({"conditions": [{"name": "a"}]})


# ---------------------------------------------------------------- updates and deletes
def change(meta, updates=(), deletes=()):
    return apply_changes(meta, [MetadataUpdate(*u) for u in updates], [MetadataDelete(*d) for d in deletes])


def test_updates_set_append_and_replace_as_ragflow():
    assert change({}, [("author", "bob")]) == {"author": "bob"}
    assert change({"tags": ["a"]}, [("tags", "b")]) == {"tags": ["a", "b"]}
    assert change({"tags": ["a"]}, [("tags", ["a", "c", "c"])]) == {"tags": ["a", "c"]}
    assert change({"tags": ["a", "old"]}, [("tags", "new", "old")]) == {"tags": ["a", "new"]}
    assert change({"author": "x"}, [("author", "y", "z")]) is None  # match differs: unchanged
    assert change({"author": "x"}, [("author", "y", "x")]) == {"author": "y"}
    assert change({}, [("author", "y", "x")]) is None  # match given, key missing: not created
    assert change({"n": 1}, [("n", 2, "1")]) == {"n": 2}  # match compares as strings


def test_deletes_remove_a_key_or_one_value():
    assert change({"a": "x", "b": "y"}, deletes=[("a",)]) == {"b": "y"}
    assert change({"tags": ["a", "b"]}, deletes=[("tags", "a")]) == {"tags": ["b"]}
    assert change({"tags": ["a"]}, deletes=[("tags", "a")]) == {}
    assert change({"a": "x"}, deletes=[("a", "other")]) is None
    assert change({"a": "x"}, [("a", "y")], [("a",)]) == {}  # updates first, then deletes


def test_repeating_a_change_changes_nothing_more():
    first = change({"tags": ["a"]}, [("tags", "b"), ("author", "x")], [("old",)])
    assert change(first, [("tags", "b"), ("author", "x")], [("old",)]) is None


# ---------------------------------------------------------------- the batch request
def run(store, body, dataset=DATASET):
    return batch_update(store, dataset, DATASET.id, body, "You don't own the dataset x.")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"selector": [1]}, "selector must be an object."),
        ({"selector": {}, "updates": {"key": "value"}}, "updates and deletes must be lists."),
        ({"selector": {"metadata_condition": [1]}}, "metadata_condition must be an object."),
        ({"selector": {"document_ids": "doc-1"}}, "document_ids must be a list."),
        ({"selector": {}, "updates": [{"key": ""}]}, "Each update requires key and value."),
        ({"selector": {}, "updates": [{"key": "a"}]}, "Each update requires key and value."),
        ({"selector": {}, "deletes": [{"x": "y"}]}, "Each delete requires key."),
        ({"selector": {}, "updates": [{"key": "a", "value": {"deep": 1}}]}, "The type is not supported: {'deep': 1}"),
    ],
)
def test_malformed_requests_answer_ragflows_messages_and_write_nothing(body, message):
    store = Store([document(1)])
    with pytest.raises(DataError) as raised:
        run(store, body)
    assert raised.value.message == message and store.writes == 0


def test_ids_no_document_can_have_are_unknown_without_being_looked_up():
    store = Store([document(1)])
    body = {"selector": {"document_ids": ["", "x" * 1025]}, "updates": [{"key": "a", "value": "x"}]}
    with pytest.raises(DataError, match="do not belong to dataset"):
        run(store, body)
    assert store.key_reads == 0
    assert metadata_summary(store, DATASET, DATASET.id, ",,")["summary"] == {}
    assert store.key_reads == 0


def test_unknown_ids_refuse_the_whole_request():
    store = Store([document(1)])
    body = {"selector": {"document_ids": [f"{1:032x}", "nope-1", "nope-2"]}, "updates": [{"key": "a", "value": "x"}]}
    with pytest.raises(DataError, match=f"^These documents do not belong to dataset {DATASET.id}: nope-1, nope-2$"):
        run(store, body)
    assert store.writes == 0
    with pytest.raises(DataError, match=r"You don.t own the dataset x\."):
        run(store, body, dataset=None)


def test_ids_select_the_condition_narrows_and_an_empty_selector_matches_nothing():
    docs = [document(i, {"category": "a" if i < 3 else "b"}) for i in range(5)]
    store = Store(docs)
    ids = [d.id for d in docs]
    update = [{"key": "author", "value": "x"}]
    assert run(store, {"selector": {}, "updates": update}) == {"updated": 0, "matched_docs": 0}
    condition = {"conditions": [{"name": "category", "comparison_operator": "is", "value": "a"}]}
    # A condition without ids selects nothing (RAGFlow's code intersects it with the ids).
    assert run(store, {"selector": {"metadata_condition": condition}, "updates": update}) == {
        "updated": 0,
        "matched_docs": 0,
    }
    answer = run(store, {"selector": {"document_ids": ids, "metadata_condition": condition}, "updates": update})
    assert answer == {"updated": 3, "matched_docs": 3}
    assert [store.documents[i].meta_fields.get("author") for i in ids] == ["x", "x", "x", None, None]
    # Matched but already so: counted as matched, not updated.
    assert run(store, {"selector": {"document_ids": ids}, "updates": update}) == {"updated": 2, "matched_docs": 5}


def test_a_document_changed_between_read_and_write_gets_the_change_on_top_of_the_new_version():
    store = Store([document(1, {"tags": ["a"]})])
    doc_id = f"{1:032x}"

    def concurrent_edit(s):  # someone adds a tag right after the batch read the document
        current = s.documents[doc_id]
        s.documents[doc_id] = replace(current, meta_fields={"tags": ["a", "z"]}, version=current.version + 1)

    store.before_write = concurrent_edit
    answer = run(store, {"selector": {"document_ids": [doc_id]}, "updates": [{"key": "tags", "value": "b"}]})
    assert answer == {"updated": 1, "matched_docs": 1}
    assert store.documents[doc_id].meta_fields == {"tags": ["a", "z", "b"]}


def test_a_document_deleted_before_its_write_is_not_counted_nor_recreated_and_the_others_are_written():
    store = Store([document(1), document(2)])
    gone, kept = f"{1:032x}", f"{2:032x}"
    store.before_write = lambda s: s.documents.pop(gone)
    answer = run(store, {"selector": {"document_ids": [gone, kept]}, "updates": [{"key": "a", "value": "x"}]})
    assert answer == {"updated": 1, "matched_docs": 2} and gone not in store.documents
    assert store.documents[kept].meta_fields == {"a": "x"}


def test_a_thousand_documents_in_one_request_read_with_the_datasets_query():
    docs = [document(i) for i in range(1010)]
    store = Store(docs)
    body = {"selector": {"document_ids": [d.id for d in docs]}, "updates": [{"key": "status", "value": "processed"}]}
    assert run(store, body, replace(DATASET, doc_num=1010)) == {"updated": 1010, "matched_docs": 1010}
    assert all(d.meta_fields == {"status": "processed"} for d in store.documents.values())
    assert (store.key_reads, store.query_reads) == (0, 1010)


def test_a_few_documents_of_a_big_dataset_are_read_by_key():
    docs = [document(i) for i in range(300)]
    store = Store(docs)
    body = {"selector": {"document_ids": [d.id for d in docs[:120]]}, "updates": [{"key": "a", "value": "x"}]}
    assert run(store, body, replace(DATASET, doc_num=300))["updated"] == 120
    assert (store.key_reads, store.query_reads) == (120, 0)
