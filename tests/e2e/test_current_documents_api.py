"""Today's document API (`/api/v1/datasets/{id}/documents...`, `/chunks` for parsing) through
the local gateway: RAGFlow's own client (ragflow-sdk) end to end, and the HTTP answers its
suites check, on the same records as the seed API."""

import time

import pytest
import requests
from ragflow_sdk import RAGFlow

UNAUTHORIZED = {"code": 401, "message": "<Unauthorized '401: Unauthorized'>", "data": None}
TEXT = b"Serverless ingestion keeps every document in one store.\n" * 20


@pytest.fixture
def rag(live):
    from kb_ingest.dal.api_keys import create_api_key

    key, _ = create_api_key(label="sdk")
    return RAGFlow(api_key=key, base_url=live.url)


def _dataset(api, name="kb"):
    return api.call("POST", "/datasets", json={"name": name})["data"]["id"]


def _upload(api, dataset_id, files):
    parts = [("file", (name, content)) for name, content in files.items()]
    answer = api.call("POST", f"/datasets/{dataset_id}/documents", files=parts)
    assert answer["code"] == 0, answer
    return answer["data"]


def _wait_until(api, dataset_id, document_id, runs, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        [document] = api.call("GET", f"/datasets/{dataset_id}/documents", params={"id": document_id})["data"]["docs"]
        if document["run"] in runs or time.monotonic() > deadline:
            return document
        time.sleep(0.3)


def test_ragflow_sdk_round_trip(rag):
    # Given a dataset created with RAGFlow's own client
    dataset = rag.create_dataset(name="sdk-docs")
    # When it uploads, lists, edits, downloads, parses and deletes documents
    [document] = dataset.upload_documents([{"display_name": "notes.txt", "blob": TEXT}])
    assert (document.name, document.run, document.dataset_id) == ("notes.txt", "UNSTART", dataset.id)
    listed = dataset.list_documents(keywords="note", page=1, page_size=10)
    assert [d.id for d in listed] == [document.id]
    document.update({"name": "renamed.txt", "meta_fields": {"author": "alice"}, "enabled": 0})
    assert (document.name, document.meta_fields.to_json()["author"], document.status) == ("renamed.txt", "alice", "0")
    assert document.download() == TEXT
    [(document_id, run, chunk_count, token_count)] = dataset.parse_documents([document.id])
    assert (document_id, run) == (document.id, "DONE") and chunk_count >= 1 and token_count > 0
    [parsed] = dataset.list_documents(id=document.id)
    assert parsed.progress == 1.0 and "Task done." in parsed.progress_msg and parsed.process_duration >= 0
    dataset.delete_documents(ids=[document.id])
    # Then the dataset is empty again, and unknown ids are refused with RAGFlow's message
    assert dataset.list_documents() == []
    with pytest.raises(Exception, match="These documents do not belong to dataset"):
        dataset.delete_documents(ids=[document.id])


def test_sdk_stops_a_run_it_started(rag, api):
    dataset = rag.create_dataset(name="sdk-stop")
    documents = dataset.upload_documents([{"display_name": f"d{i}.txt", "blob": TEXT * 50} for i in range(3)])
    ids = [d.id for d in documents]
    dataset.async_parse_documents(ids)
    try:
        dataset.async_cancel_parse_documents(ids)
    except Exception as error:  # a run may already have finished: RAGFlow refuses to stop those
        assert "Can't stop parsing document that has not started or already completed" in str(error)
    for document in dataset.list_documents():
        assert document.run in ("CANCEL", "DONE", "RUNNING")


def test_upload_answers_todays_document_and_the_seed_api_sees_the_same_record(api):
    dataset_id = _dataset(api)
    [document] = _upload(api, dataset_id, {"a.txt": TEXT, "a.txt ": TEXT})[:1]
    for field in ("dataset_id", "chunk_method", "chunk_count", "token_count", "process_duration", "meta_fields"):
        assert field in document
    assert document["run"] == "UNSTART" and document["suffix"] == "txt" and document["size"] == len(TEXT)
    for storage_name in ("kb_id", "parser_id", "chunk_num", "token_num", "process_duation"):
        assert storage_name not in document
    seen_by_seed = api.call("GET", f"/dataset/{dataset_id}/documents")["data"]
    assert seen_by_seed["total"] == 2 and document["id"] in {d["id"] for d in seen_by_seed["docs"]}
    names = {d["name"] for d in api.call("GET", f"/datasets/{dataset_id}/documents")["data"]["docs"]}
    assert names == {"a.txt", "a(1).txt"}


@pytest.mark.parametrize(
    ("files", "code", "message"),
    [
        ({}, 101, "No file part!"),
        ({"": b"x"}, 101, "No file selected!"),
        ({"tool.exe": b"x"}, 500, "tool.exe: This type of file has not been supported yet!"),
        ({"a" * 252 + ".txt": b"x"}, 101, "File name must be 255 bytes or less."),
    ],
)
def test_upload_errors_write_nothing(api, files, code, message):
    dataset_id = _dataset(api)
    parts = [("file", (name, content)) for name, content in files.items()] or None
    answer = api.call("POST", f"/datasets/{dataset_id}/documents", files=parts, data=None if parts else {"x": "1"})
    assert answer == {"code": code, "message": message}
    assert api.call("GET", f"/datasets/{dataset_id}/documents")["data"]["total"] == 0


def test_upload_to_an_unknown_dataset(api):
    answer = api.call("POST", "/datasets/nope/documents", files=[("file", ("a.txt", b"x"))])
    assert answer == {"code": 102, "message": "Can't find the dataset with ID nope!"}


def test_list_filters_and_pages(api):
    dataset_id = _dataset(api)
    uploaded = _upload(api, dataset_id, {f"ragflow_{i}.txt": TEXT for i in range(5)} | {"report.pdf": b"%PDF-1.4"})
    listing = api.call("GET", f"/datasets/{dataset_id}/documents", params={"page": 2, "page_size": 4})["data"]
    assert listing["total"] == 6 and len(listing["docs"]) == 2
    by_suffix = api.call("GET", f"/datasets/{dataset_id}/documents", params={"suffix": ["pdf"]})["data"]
    assert [d["name"] for d in by_suffix["docs"]] == ["report.pdf"] and by_suffix["total"] == 1
    by_run = api.call("GET", f"/datasets/{dataset_id}/documents", params={"run": ["UNSTART", "DONE"]})["data"]
    assert by_run["total"] == 6
    by_name = api.call("GET", f"/datasets/{dataset_id}/documents", params={"name": "ragflow_0.txt"})["data"]
    assert [d["id"] for d in by_name["docs"]] == [uploaded[0]["id"]]
    ordered = api.call("GET", f"/datasets/{dataset_id}/documents", params={"orderby": "name", "desc": "False"})
    assert [d["name"] for d in ordered["data"]["docs"]][:2] == ["ragflow_0.txt", "ragflow_1.txt"]
    future = api.call("GET", f"/datasets/{dataset_id}/documents", params={"create_time_from": 9999999999000})
    assert future == {"code": 0, "message": "success", "data": {"total": 6, "docs": []}}  # RAGFlow's get_json_result
    unknown = api.call("GET", f"/datasets/{dataset_id}/documents", params={"name": "unknown.txt"})
    assert unknown == {"code": 102, "message": "you don't own the document unknown.txt"}
    bad_run = api.call("GET", f"/datasets/{dataset_id}/documents", params={"run": "SOON"})
    assert bad_run == {"code": 102, "message": "Invalid filter run status conditions: SOON"}
    foreign = api.call("GET", "/datasets/not-mine/documents")
    assert foreign == {"code": 102, "message": "You don't own the dataset not-mine. "}


def test_update_through_patch_and_put(api):
    dataset_id = _dataset(api)
    first, _ = _upload(api, dataset_id, {"a.txt": TEXT, "b.txt": TEXT})
    path = f"/datasets/{dataset_id}/documents/{first['id']}"
    renamed = api.call("PATCH", path, json={"name": "c.txt", "meta_fields": {"tags": ["x", 1]}})["data"]
    assert (renamed["name"], renamed["meta_fields"]) == ("c.txt", {"tags": ["x", 1]})
    method = api.call("PUT", path, json={"chunk_method": "qa"})["data"]
    assert method["chunk_method"] == "qa" and method["run"] == "UNSTART"
    assert method["parser_config"]["raptor"]["use_raptor"] is False  # qa's default, merged in
    assert api.call("PATCH", path, json={"name": "b.txt"}) == {
        "code": 102,
        "message": "Duplicated document name in the same dataset.",
    }
    assert api.call("PATCH", path, json={"name": "c.pdf"}) == {
        "code": 101,
        "message": "The extension of file can't be changed",
    }
    assert api.call("PATCH", path, json={"chunk_count": 3}) == {"code": 102, "message": "can't change `chunk_count`"}
    assert api.call("PATCH", path, json={"meta_fields": []}) == {
        "code": 102,
        "message": "Field: <meta_fields> - Message: <Input should be a valid dictionary> - Value: <[]>",
    }
    assert api.call("PATCH", path, json={"parser_config": {"chunk_token_num": "1024"}})["message"] == (
        "Field: <parser_config.chunk_token_num> - Message: <Input should be a valid integer> - Value: <1024>"
    )
    assert api.call("PATCH", f"/datasets/{dataset_id}/documents/nope", json={"name": "x.txt"}) == {
        "code": 102,
        "message": "the dataset doesn't own the document",
    }
    # the seed API sees the same record, in its own names
    seed = api.call("GET", f"/dataset/{dataset_id}/documents", params={"keywords": "c.txt"})["data"]["docs"]
    assert [(d["name"], d["parser_id"]) for d in seed] == [("c.txt", "qa")]


def test_download_answers_the_bytes_or_ragflows_errors(api, live):
    dataset_id = _dataset(api)
    other_id = _dataset(api, "other")
    [document] = _upload(api, dataset_id, {"report.md": TEXT})
    answer = api.raw("GET", f"/datasets/{dataset_id}/documents/{document['id']}")
    assert answer.status_code == 200 and answer.content == TEXT
    assert answer.headers["Content-Disposition"].startswith("attachment")
    assert api.call("GET", f"/datasets/{dataset_id}/documents/nope") == {"code": 102, "message": "document not found"}
    assert api.call("GET", f"/datasets/{other_id}/documents/{document['id']}") == {
        "code": 102,
        "message": f"The dataset not own the document {document['id']}.",
    }
    unauthenticated = requests.get(f"{live.url}/api/v1/datasets/{dataset_id}/documents/{document['id']}", timeout=30)
    assert unauthenticated.status_code == 401 and unauthenticated.json() == UNAUTHORIZED


def test_bulk_delete_rules(api):
    dataset_id = _dataset(api)
    ids = [d["id"] for d in _upload(api, dataset_id, {f"d{i}.txt": TEXT for i in range(3)})]
    path = f"/datasets/{dataset_id}/documents"
    assert api.call("DELETE", path, json={})["message"].startswith(
        "should either provide doc ids or set delete_all(true)"
    )
    assert api.call("DELETE", path, json={"ids": ids + ids[:1]})["message"].startswith(
        "Field: <ids> - Message: <Duplicate ids:"
    )
    partial = api.call("DELETE", path, json={"ids": [ids[0], "nope"]})
    assert partial["code"] == 102 and "Document not found: nope" in partial["message"]
    assert api.call("GET", path)["data"]["total"] == 3  # nothing went
    assert api.call("DELETE", path, json={"ids": ids[:1]}) == {"code": 0, "data": {"deleted": 1}}
    assert api.call("DELETE", path, json={"delete_all": True}) == {"code": 0, "data": {"deleted": 2}}
    assert api.call("GET", path)["data"] == {"total": 0, "docs": []}
    assert api.call("GET", f"/dataset/{dataset_id}")["data"]["doc_num"] == 0


def test_parse_and_stop_through_both_forms(api):
    dataset_id = _dataset(api)
    # b.txt is big enough (~2.8 MB, thousands of chunks) to still be running when the stop arrives.
    first, second = (d["id"] for d in _upload(api, dataset_id, {"a.txt": TEXT, "b.txt": TEXT * 2500}))
    started = api.call("POST", f"/datasets/{dataset_id}/documents/parse", json={"document_ids": [first, first]})
    assert started == {"code": 0, "data": {"success_count": 1, "errors": [f"Duplicate document ids: {first}"]}}
    done = _wait_until(api, dataset_id, first, {"DONE", "FAIL"})
    assert done["run"] == "DONE" and done["chunk_count"] >= 1 and done["process_begin_at"]
    stop_done = api.call("POST", f"/datasets/{dataset_id}/documents/stop", json={"document_ids": [first]})
    assert stop_done["data"] == {
        "success_count": 0,
        "errors": ["Can't stop parsing document that has not started or already completed"],
    }
    assert api.call("POST", f"/datasets/{dataset_id}/chunks", json={"document_ids": [second]}) == {"code": 0}
    stopped = api.call("DELETE", f"/datasets/{dataset_id}/chunks", json={"document_ids": [second]})
    assert stopped == {"code": 0}
    finished = _wait_until(api, dataset_id, second, {"CANCEL", "DONE"})
    assert finished["run"] == "CANCEL" and finished["progress"] == 0.0 and finished["chunk_count"] == 0
    unknown = api.call("POST", f"/datasets/{dataset_id}/chunks", json={"document_ids": ["nope"]})
    assert unknown == {"code": 102, "message": "Documents not found: ['nope']"}
    assert api.call("POST", f"/datasets/{dataset_id}/chunks", json={}) == {
        "code": 102,
        "message": "`document_ids` is required",
    }


def test_download_by_document_id_alone(api):
    dataset_id = _dataset(api)
    [document] = _upload(api, dataset_id, {"notes.txt": TEXT})
    answer = api.raw("GET", f"/documents/{document['id']}")
    assert answer.status_code == 200 and answer.content == TEXT
    assert api.call("GET", "/documents/nope") == {"code": 102, "message": "document not found"}


@pytest.mark.parametrize("path", ["/chunks", "/documents/parse", "/documents/stop"])
def test_parse_routes_answer_ragflows_crash_for_a_body_that_is_not_an_object(api, path):
    dataset_id = _dataset(api)
    answer = api.call("POST", f"/datasets/{dataset_id}{path}", json="not json")
    assert answer == {"code": 100, "message": "AttributeError(\"'str' object has no attribute 'get'\")"}


def test_an_empty_dataset_id_is_answered_as_ragflow_merges_slashes(api):
    assert api.call("DELETE", "/datasets//documents", json={"ids": ["x"]}) == {
        "code": 100,
        "message": "<MethodNotAllowed '405: Method Not Allowed'>",
    }
    redirected = api.raw("GET", "/datasets//documents", allow_redirects=False)
    assert redirected.status_code == 308 and redirected.headers["location"] == "/api/v1/datasets/documents"


@pytest.mark.parametrize("body", [{"ids": "all five"}, {"delete_all": True}])
def test_a_bulk_delete_beyond_what_goes_before_the_answer_is_finished_by_the_cleanup_function(api, monkeypatch, body):
    from kb_ingest.domain import document_deletion

    # Given a stack that removes only two documents before answering (ten thousand in production terms)
    monkeypatch.setattr(document_deletion, "REMOVED_BEFORE_ANSWER", 2)
    dataset_id = _dataset(api)
    ids = [d["id"] for d in _upload(api, dataset_id, {f"d{i}.txt": TEXT for i in range(5)})]
    if body.get("ids"):
        body = {"ids": ids}
    # When all five are deleted, the answer counts them all at once
    assert api.call("DELETE", f"/datasets/{dataset_id}/documents", json=body) == {"code": 0, "data": {"deleted": 5}}
    # Then the cleanup function removes the rest from the queue, counts and names included
    deadline = time.monotonic() + 60
    while api.call("GET", f"/datasets/{dataset_id}/documents")["data"]["total"] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert api.call("GET", f"/datasets/{dataset_id}/documents")["data"] == {"total": 0, "docs": []}
    assert api.call("GET", f"/dataset/{dataset_id}")["data"]["doc_num"] == 0
    # and the names are free again
    assert [d["name"] for d in _upload(api, dataset_id, {"d0.txt": TEXT})] == ["d0.txt"]
