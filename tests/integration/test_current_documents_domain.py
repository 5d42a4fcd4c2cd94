"""The current API's document rules on the local stack's DynamoDB and S3: list filters and what
they read, bulk deletion (answered at once, finished by the background job), edits, and the two
forms of starting and stopping parse runs."""

import pytest
from starlette.datastructures import QueryParams

from kb_ingest.dal.blobs import S3FileStore
from kb_ingest.dal.datasets import DynamoDatasetStore
from kb_ingest.dal.deletion_jobs import S3DeletionJobs
from kb_ingest.dal.documents import DynamoDocumentStore
from kb_ingest.dal.runs import DynamoRunStore
from kb_ingest.domain import datasets, document_deletion, documents, listing, parse_batches
from kb_ingest.domain.document_changes import DocumentEdit, edit_document
from kb_ingest.domain.documents import IncomingFile
from kb_ingest.domain.errors import ArgumentError, DataError


class RecordingRequests:
    def __init__(self):
        self.parsed = []

    def request_parse(self, docs):
        self.parsed.extend(docs)

    def request_parse_all(self, tenant_id, dataset_id):
        raise AssertionError("not used by the current API")


class RecordingEvents:
    def __init__(self):
        self.events = []

    def run_ended(self, detail):
        self.events.append(detail)


class RecordingJobs:
    def __init__(self):
        self.jobs = []

    def submit(self, job):
        self.jobs.append(job)


@pytest.fixture
def kb(local_stack, tenant_id):
    dataset_store = DynamoDatasetStore()
    created = datasets.create_dataset(dataset_store, tenant_id, {"name": "kb"})

    class Kb:
        store = DynamoDocumentStore()
        runs = DynamoRunStore()
        files = S3FileStore()

        @property
        def dataset(self):
            return dataset_store.get(tenant_id, created["dataset_id"])

        def upload(self, *names, content=b"hello world"):
            incoming = [IncomingFile(name, content) for name in names]
            stored = documents.upload_documents(self.store, self.files, self.dataset, incoming, 10**7)
            return [doc["id"] for doc in stored]

        def page(self, query=""):
            return listing.list_documents(self.store, self.dataset, self.dataset.id, QueryParams(query))

    return Kb()


# ---------------------------------------------------------------- list
def test_filters_select_what_ragflow_selects(kb):
    ids = kb.upload("a.txt", "b.md", "report.pdf", "notes.txt")
    assert kb.page().total == 4
    assert [d.name for d in kb.page("orderby=name&desc=false").documents] == [
        "a.txt",
        "b.md",
        "notes.txt",
        "report.pdf",
    ]
    assert {d.name for d in kb.page("suffix=txt").documents} == {"a.txt", "notes.txt"}
    assert kb.page("suffix=txt&suffix=md").total == 3
    assert kb.page("keywords=REP").total == 1
    assert kb.page("run=UNSTART").total == 4 and kb.page("run=DONE").total == 0
    assert kb.page("run=0&run=3").total == 4  # numeric codes too
    assert kb.page("types=pdf").total == 1
    assert kb.page(f"id={ids[0]}").documents[0].id == ids[0]
    assert [d.id for d in kb.page(f"ids={ids[0]}&ids={ids[2]}&orderby=name&desc=false").documents] == [ids[0], ids[2]]
    assert kb.page(f"id={ids[0]}&name=b.md").documents == []  # filters combine
    page_2 = kb.page("page=2&page_size=3")
    assert len(page_2.documents) == 1 and page_2.total == 4


def test_time_range_limits_the_page_not_the_total(kb):
    kb.upload("a.txt", "b.txt")
    future = kb.page("create_time_from=9999999999000")
    assert future.documents == [] and future.total == 2  # RAGFlow's total ignores the range
    assert len(kb.page("create_time_from=0&create_time_to=9999999999000").documents) == 2
    assert kb.page("create_time_to=1&orderby=update_time").documents == []


def test_metadata_filters(kb):
    first, second = kb.upload("a.txt", "b.txt")
    edit = DocumentEdit(frozenset({"meta_fields"}), meta_fields={"author": "alice", "year": 2024, "tags": ["x", "y"]})
    edit_document(kb.store, kb.runs, kb.dataset, kb.dataset.id, first, edit, lambda _: {})
    assert [d.id for d in kb.page('metadata={"author": "Alice"}').documents] == [first]
    assert [d.id for d in kb.page('metadata={"tags": ["y", "z"]}').documents] == [first]
    condition = '{"logic": "and", "conditions": [{"name": "year", "comparison_operator": ">", "value": "2000"}]}'
    assert [d.id for d in kb.page(f"metadata_condition={condition}").documents] == [first]
    assert [d.id for d in kb.page("return_empty_metadata=true").documents] == [second]


@pytest.mark.parametrize(
    "query, error, message",
    [
        ("orderby=size", ArgumentError, "invalid orderby field: size"),
        ("run=INVALID_STATUS", DataError, "Invalid filter run status conditions: INVALID_STATUS"),
        ("types=exe", DataError, "Invalid filter conditions: exe type"),
        ("metadata_condition={bad json", DataError, "metadata_condition must be valid JSON: {bad json."),
        ("metadata_condition=[1]", DataError, "metadata_condition must be an object."),
        ("name=unknown.txt", DataError, "you don't own the document unknown.txt"),
        ("id=unknown", DataError, "you don't own the document unknown"),
        ("page_size=101", ArgumentError, "page_size must be less than or equal to 100"),
    ],
)
def test_list_errors(kb, query, error, message):
    kb.upload("a.txt")
    with pytest.raises(error) as raised:
        kb.page(query)
    assert raised.value.message == message


def test_unknown_dataset(kb):
    with pytest.raises(DataError, match=r"You don't own the dataset nope\. "):
        listing.list_documents(kb.store, None, "nope", QueryParams(""))


# ---------------------------------------------------------------- delete
def test_bulk_delete_checks_every_id_before_deleting_any(kb):
    ids = kb.upload("a.txt", "b.txt", "c.txt")
    jobs = RecordingJobs()
    with pytest.raises(DataError, match=r"These documents do not belong to dataset .* or Document not found: nope"):
        document_deletion.delete_documents(kb.store, kb.files, jobs, kb.dataset, kb.dataset.id, [ids[0], "nope"], False)
    assert kb.page().total == 3
    assert document_deletion.delete_documents(kb.store, kb.files, jobs, kb.dataset, kb.dataset.id, ids[:2], False) == 2
    assert [d.id for d in kb.page().documents] == [ids[2]] and kb.dataset.doc_num == 1
    assert jobs.jobs == []


def test_many_removals_share_transactions_and_one_removed_meanwhile_is_counted_once(kb, monkeypatch):
    from kb_ingest.dal import documents as dal_documents
    from kb_ingest.dal.blobs import object_key
    from kb_ingest.dal.clients import client

    monkeypatch.setattr(dal_documents, "REMOVALS_PER_TRANSACTION", 3)
    ids = kb.upload(*[f"doc{i}.txt" for i in range(8)])
    stale = [kb.store.get(kb.dataset.id, document_id) for document_id in ids]
    assert kb.store.remove(stale[4])  # removed by someone else before the bulk delete gets to it
    assert kb.dataset.doc_num == 7
    removed = kb.store.remove_many(stale)  # groups of 3: the second one is spoilt and redone one by one
    assert sorted(document.id for document in removed) == sorted(ids[:4] + ids[5:])
    assert kb.dataset.doc_num == 0 and kb.page().total == 0
    assert kb.store.remove_many(stale) == []  # a repeat removes and counts nothing
    assert kb.dataset.doc_num == 0
    # the bulk route deletes the removed documents' files too
    more = kb.upload("x.txt", "y.txt")
    files = [object_key(kb.store.get(kb.dataset.id, document_id)) for document_id in more]
    assert (
        document_deletion.delete_documents(kb.store, kb.files, RecordingJobs(), kb.dataset, kb.dataset.id, more, False)
        == 2
    )
    bucket = kb.files.bucket
    for key in files:
        assert client("s3").list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) == 0


def test_bulk_delete_hands_the_rest_to_a_job_that_finishes_it(kb, monkeypatch):
    monkeypatch.setattr(document_deletion, "REMOVED_BEFORE_ANSWER", 2)
    monkeypatch.setattr(document_deletion, "PAGE", 2)
    ids = kb.upload(*[f"doc{i}.txt" for i in range(7)])
    jobs = RecordingJobs()
    assert document_deletion.delete_documents(kb.store, kb.files, jobs, kb.dataset, kb.dataset.id, ids, False) == 7
    assert kb.dataset.doc_num == 5  # two went before the answer
    [job] = jobs.jobs
    assert job.ids == ids[2:]
    # The job runs out of time after its first page and carries on where it stopped.
    remaining = document_deletion.run_deletion_job(kb.store, kb.files, job, lambda: True)
    assert remaining is not None and remaining.ids == ids[4:]
    assert document_deletion.run_deletion_job(kb.store, kb.files, remaining, lambda: False) is None
    assert kb.page().total == 0 and kb.page().documents == []
    # Repeating a finished job (a duplicate message) changes nothing.
    assert document_deletion.run_deletion_job(kb.store, kb.files, job, lambda: False) is None
    assert kb.dataset.doc_num == 0


def test_delete_all_leaves_documents_uploaded_after_the_request(kb, monkeypatch):
    monkeypatch.setattr(document_deletion, "REMOVED_BEFORE_ANSWER", 2)
    kb.upload("a.txt", "b.txt", "c.txt", "d.txt")
    jobs = RecordingJobs()
    assert document_deletion.delete_documents(kb.store, kb.files, jobs, kb.dataset, kb.dataset.id, None, True) == 4
    [job] = jobs.jobs
    [late] = kb.upload("late.txt")
    assert document_deletion.run_deletion_job(kb.store, kb.files, job, lambda: False) is None
    assert [d.id for d in kb.page().documents] == [late]


def test_deletion_job_survives_in_s3(kb):
    jobs = S3DeletionJobs()
    job = document_deletion.DeletionJob(kb.dataset.tenant_id, kb.dataset.id, ["x", "y"], 5)
    key = "jobs/delete-documents/test/one.json"
    jobs.save(key, job)
    assert jobs.load(key) == job
    jobs.finish(key)
    assert jobs.load(key) is None


@pytest.mark.parametrize(
    "ids, delete_all, message",
    [
        (None, False, "should either provide doc ids or set delete_all(true), dataset: "),
        ([], False, "should either provide doc ids or set delete_all(true), dataset: "),
        (["x"], True, "should not provide both doc ids and delete_all(true), dataset: "),
    ],
)
def test_bulk_delete_needs_ids_or_all(kb, ids, delete_all, message):
    with pytest.raises(DataError) as raised:
        document_deletion.delete_documents(
            kb.store, kb.files, RecordingJobs(), kb.dataset, kb.dataset.id, ids, delete_all
        )
    assert raised.value.message == f"{message}{kb.dataset.id}. "


# ---------------------------------------------------------------- edit
def test_edit_renames_sets_metadata_and_disables(kb):
    first, _ = kb.upload("a.txt", "b.txt")
    edit = DocumentEdit(frozenset({"name", "enabled", "meta_fields"}), name="c.txt", enabled=0, meta_fields={"k": "v"})
    edited = edit_document(kb.store, kb.runs, kb.dataset, kb.dataset.id, first, edit, lambda _: {})
    assert (edited.name, edited.status, edited.meta_fields) == ("c.txt", "0", {"k": "v"})
    with pytest.raises(DataError, match=r"Duplicated document name in the same dataset\."):
        edit_document(
            kb.store, kb.runs, kb.dataset, kb.dataset.id, first, DocumentEdit(frozenset({"name"}), name="b.txt"), dict
        )
    with pytest.raises(ArgumentError, match="The extension of file can't be changed"):
        edit_document(
            kb.store, kb.runs, kb.dataset, kb.dataset.id, first, DocumentEdit(frozenset({"name"}), name="c"), dict
        )
    with pytest.raises(DataError, match="can't change `chunk_count`"):
        edit_document(
            kb.store, kb.runs, kb.dataset, kb.dataset.id, first, DocumentEdit(frozenset(), chunk_count=3), dict
        )


def test_new_chunk_method_resets_the_document_and_takes_its_defaults(kb):
    [doc_id] = kb.upload("a.txt")
    kb.runs.set_outcome(kb.store.get(kb.dataset.id, doc_id), "3", 1.0, "done", 1)
    edit = DocumentEdit(frozenset({"chunk_method"}), chunk_method="qa")
    edited = edit_document(kb.store, kb.runs, kb.dataset, kb.dataset.id, doc_id, edit, lambda m: {"method": m})
    assert (edited.parser_id, edited.run, edited.progress, edited.parser_config["method"]) == ("qa", "0", 0, "qa")
    assert edited.config_pinned and edited.parser_pinned
    with pytest.raises(DataError, match="`chunk_method` \\(empty string\\) is not valid"):
        edit_document(
            kb.store,
            kb.runs,
            kb.dataset,
            kb.dataset.id,
            doc_id,
            DocumentEdit(frozenset({"chunk_method"}), chunk_method=""),
            dict,
        )


def test_parser_config_is_merged_into_the_documents_own(kb):
    [doc_id] = kb.upload("a.txt")
    edit = DocumentEdit(
        frozenset({"parser_config"}), parser_config={"chunk_token_num": 256, "raptor": {"use_raptor": False}}
    )
    edited = edit_document(kb.store, kb.runs, kb.dataset, kb.dataset.id, doc_id, edit, dict)
    assert edited.parser_config["chunk_token_num"] == 256 and edited.parser_config["pages"] == [[1, 1000000]]


def test_picture_documents_keep_their_parser(kb):
    [doc_id] = kb.upload("photo.png")
    with pytest.raises(DataError, match="the automatically detected parser type cannot be changed"):
        edit_document(
            kb.store,
            kb.runs,
            kb.dataset,
            kb.dataset.id,
            doc_id,
            DocumentEdit(frozenset({"chunk_method"}), chunk_method="naive"),
            dict,
        )


# ---------------------------------------------------------------- parse start / stop
def test_chunks_form_starts_and_stops(kb):
    ids = kb.upload("a.txt", "b.txt")
    requests, events = RecordingRequests(), RecordingEvents()
    outcome = parse_batches.start_parsing_chunks(
        kb.store, kb.runs, requests, kb.dataset, kb.dataset.id, {"document_ids": ids}
    )
    assert outcome.data is None and {d.id for d in requests.parsed} == set(ids)
    assert {d.run for d in kb.page().documents} == {"1"}
    with pytest.raises(DataError, match="Can't parse document that is currently being processed"):
        parse_batches.start_parsing_chunks(
            kb.store, kb.runs, requests, kb.dataset, kb.dataset.id, {"document_ids": ids}
        )
    parse_batches.stop_parsing_chunks(kb.store, kb.runs, events, kb.dataset, kb.dataset.id, {"document_ids": ids})
    stopped = kb.page().documents
    assert {(d.run, d.progress) for d in stopped} == {("2", 0.0)} and len(events.events) == 2
    assert all("Task stopped by user." in d.progress_msg for d in stopped)
    with pytest.raises(DataError) as raised:
        parse_batches.stop_parsing_chunks(kb.store, kb.runs, events, kb.dataset, kb.dataset.id, {"document_ids": ids})
    assert raised.value.message == parse_batches.STOP_INVALID_STATE
    assert raised.value.data == {"error_code": "DOC_STOP_PARSING_INVALID_STATE"}


def test_chunks_form_reports_unknown_and_duplicate_ids(kb):
    [doc_id] = kb.upload("a.txt")
    requests = RecordingRequests()
    with pytest.raises(DataError, match=r"Documents not found: \['nope'\]"):
        parse_batches.start_parsing_chunks(
            kb.store, kb.runs, requests, kb.dataset, kb.dataset.id, {"document_ids": [doc_id, "nope"]}
        )
    kb.runs.set_outcome(kb.store.get(kb.dataset.id, doc_id), "3", 1.0, "done", 1)
    outcome = parse_batches.start_parsing_chunks(
        kb.store, kb.runs, requests, kb.dataset, kb.dataset.id, {"document_ids": [doc_id, doc_id]}
    )
    assert outcome.data == {"success_count": 1, "errors": [f"Duplicate document ids: {doc_id}"]}
    assert outcome.message == "Partially parsed 1 documents with 1 errors"
    with pytest.raises(DataError, match="`document_ids` is required"):
        parse_batches.start_parsing_chunks(kb.store, kb.runs, requests, kb.dataset, kb.dataset.id, {})


def test_documents_form_counts_successes(kb):
    ids = kb.upload("a.txt", "b.txt")
    requests, events = RecordingRequests(), RecordingEvents()
    outcome = parse_batches.start_parsing_documents(
        kb.store, kb.runs, requests, kb.dataset, kb.dataset.id, {"document_ids": ids + ids[:1]}
    )
    assert outcome.data == {"success_count": 2, "errors": [f"Duplicate document ids: {ids[0]}"]}
    stopped = parse_batches.stop_parsing_documents(
        kb.store, kb.runs, events, kb.dataset, kb.dataset.id, {"document_ids": ids[:1]}
    )
    assert stopped.data == {"success_count": 1}
    with pytest.raises(DataError, match="Request body is required"):
        parse_batches.start_parsing_documents(kb.store, kb.runs, requests, kb.dataset, kb.dataset.id, None)
    with pytest.raises(DataError, match=r"Documents not found: \['nope'\]"):
        parse_batches.stop_parsing_documents(
            kb.store, kb.runs, events, kb.dataset, kb.dataset.id, {"document_ids": ["nope"]}
        )


def test_an_update_without_raptor_settings_drops_the_documents_as_ragflow_does(kb):
    [doc_id] = kb.upload("a.txt")
    with_raptor = DocumentEdit(frozenset({"parser_config"}), parser_config={"raptor": {"use_raptor": True}})
    edit_document(kb.store, kb.runs, kb.dataset, kb.dataset.id, doc_id, with_raptor, dict)
    without = DocumentEdit(frozenset({"parser_config"}), parser_config={"delimiter": "##"})
    edited = edit_document(kb.store, kb.runs, kb.dataset, kb.dataset.id, doc_id, without, dict)
    assert "raptor" not in edited.parser_config and edited.parser_config["delimiter"] == "##"


def test_many_documents_start_in_parallel_groups_and_each_gets_one_message(kb):
    ids = kb.upload(*[f"doc{i}.txt" for i in range(25)])
    requests = RecordingRequests()
    outcome = parse_batches.start_parsing_documents(
        kb.store, kb.runs, requests, kb.dataset, kb.dataset.id, {"document_ids": ids}
    )
    assert outcome.data == {"success_count": 25}
    assert sorted(d.id for d in requests.parsed) == sorted(ids)
    assert {d.run for d in kb.page("page_size=100").documents} == {"1"}
