"""Today's metadata and ingestion routes through the local gateway: the metadata summary, the
batch metadata change (both routes), the flattened view across datasets, the ingestion
summary and logs, with the answers RAGFlow's suites check."""

import time

import pytest

TEXT = b"Metadata makes documents findable by more than their words.\n" * 5


def _dataset(api, name="kb"):
    answer = api.call("POST", "/datasets", json={"name": name})
    assert answer["code"] == 0, answer
    return answer["data"]["id"]


def _upload(api, dataset_id, count, prefix="doc"):
    parts = [("file", (f"{prefix}{i}.txt", TEXT)) for i in range(count)]
    answer = api.call("POST", f"/datasets/{dataset_id}/documents", files=parts)
    assert answer["code"] == 0, answer
    return [document["id"] for document in answer["data"]]


def _meta(api, dataset_id, ids):
    docs = api.call("GET", f"/datasets/{dataset_id}/documents", params={"ids": ids, "page_size": 100})["data"]["docs"]
    return {document["id"]: document["meta_fields"] for document in docs}


def test_summary_counts_values_over_the_datasets_documents(api):
    dataset_id = _dataset(api)
    ids = _upload(api, dataset_id, 3)
    metas = [{"tags": ["foo", "bar"], "author": "alice"}, {"tags": ["foo"], "author": "bob"}, {"tags": ["baz"], "n": 3}]
    for document_id, meta in zip(ids, metas, strict=True):
        assert (
            api.call("PATCH", f"/datasets/{dataset_id}/documents/{document_id}", json={"meta_fields": meta})["code"]
            == 0
        )
    # When the summary is asked for the whole dataset, then for two documents
    summary = api.call("GET", f"/datasets/{dataset_id}/metadata/summary")["data"]["summary"]
    some = api.call("GET", f"/datasets/{dataset_id}/metadata/summary", params={"doc_ids": ",".join(ids[1:])})
    # Then each value is counted once per document holding it, most frequent first
    # (ties keep the order the documents were read in: by id)
    assert summary["tags"]["type"] == "list" and summary["tags"]["values"][0] == ["foo", 2]
    assert sorted(summary["tags"]["values"][1:]) == [["bar", 1], ["baz", 1]]
    assert sorted(summary["author"]["values"]) == [["alice", 1], ["bob", 1]] and summary["n"]["type"] == "number"
    assert sorted(some["data"]["summary"]["tags"]["values"]) == [["baz", 1], ["foo", 1]]
    unknown = api.call("GET", f"/datasets/{'0' * 32}/metadata/summary")
    assert unknown == {"code": 102, "message": f"You don't own the dataset {'0' * 32}. "}


def test_batch_update_and_delete_through_both_routes(api):
    dataset_id = _dataset(api)
    ids = _upload(api, dataset_id, 4)
    route = f"/datasets/{dataset_id}/documents/metadatas"
    # Given every document gets an author and a status (PATCH), and the first two a category
    body = {
        "selector": {"document_ids": ids},
        "updates": [{"key": "author", "value": "a"}, {"key": "status", "value": "new"}],
    }
    assert api.call("PATCH", route, json=body) == {"code": 0, "data": {"updated": 4, "matched_docs": 4}}
    body = {"selector": {"document_ids": ids[:2]}, "updates": [{"key": "category", "value": "Finance"}]}
    assert api.call("POST", f"/datasets/{dataset_id}/metadata/update", json=body)["data"]["updated"] == 2
    # When the category documents get a new author and lose their status (POST, with a condition)
    condition = {"conditions": [{"name": "category", "comparison_operator": "is", "value": "finance"}]}
    body = {
        "selector": {"document_ids": ids, "metadata_condition": condition},
        "updates": [{"key": "author", "value": "b"}],
        "deletes": [{"key": "status"}],
    }
    answer = api.call("POST", f"/datasets/{dataset_id}/metadata/update", json=body)
    # Then only they changed, and repeating the request changes nothing more
    assert answer == {"code": 0, "data": {"updated": 2, "matched_docs": 2}}
    meta = _meta(api, dataset_id, ids)
    assert [meta[i] for i in ids[:2]] == [{"author": "b", "category": "Finance"}] * 2
    assert [meta[i] for i in ids[2:]] == [{"author": "a", "status": "new"}] * 2
    assert api.call("POST", f"/datasets/{dataset_id}/metadata/update", json=body)["data"] == {
        "updated": 0,
        "matched_docs": 2,
    }
    # And an empty selector matches nothing (RAGFlow's code), on either route
    empty = {"selector": {}, "updates": [{"key": "author", "value": "c"}]}
    assert api.call("PATCH", route, json=empty)["data"] == {"updated": 0, "matched_docs": 0}


def test_batch_update_refusals_write_nothing(api):
    dataset_id = _dataset(api)
    [document_id] = _upload(api, dataset_id, 1)
    route = f"/datasets/{dataset_id}/documents/metadatas"
    cases = [
        ({"selector": [1]}, "selector must be an object."),
        ({"selector": {}, "updates": {"key": "value"}}, "updates and deletes must be lists."),
        ({"selector": {"document_ids": "doc-1"}}, "document_ids must be a list."),
        ({"selector": {}, "updates": [{"key": ""}]}, "Each update requires key and value."),
        ({"selector": {}, "deletes": [{"x": "y"}]}, "Each delete requires key."),
    ]
    for body, message in cases:
        assert api.call("PATCH", route, json=body) == {"code": 102, "message": message}
    body = {"selector": {"document_ids": [document_id, "nope"]}, "updates": [{"key": "a", "value": "x"}]}
    answer = api.call("PATCH", route, json=body)
    assert answer == {"code": 102, "message": f"These documents do not belong to dataset {dataset_id}: nope"}
    assert _meta(api, dataset_id, [document_id]) == {document_id: {}}
    assert api.call("PATCH", "/datasets/invalid_dataset_id/documents/metadatas", json={})["message"] == (
        "You don't own the dataset invalid_dataset_id."
    )
    assert api.call("POST", "/datasets/invalid_dataset_id/metadata/update", json={})["message"] == (
        "You don't own the dataset invalid_dataset_id. "
    )
    unauthorized = api.raw("PATCH", route, json={}, headers={"Authorization": "Bearer nope"})
    assert unauthorized.status_code == 401


def test_a_batch_update_spanning_several_batch_reads(api):
    dataset_id = _dataset(api)
    ids = _upload(api, dataset_id, 150)  # more than one BatchGetItem (100 keys)
    body = {"selector": {"document_ids": ids}, "updates": [{"key": "batch", "value": ["x", "y"]}]}
    assert api.call("POST", f"/datasets/{dataset_id}/metadata/update", json=body)["data"] == {
        "updated": 150,
        "matched_docs": 150,
    }
    summary = api.call("GET", f"/datasets/{dataset_id}/metadata/summary")["data"]["summary"]
    assert summary == {"batch": {"type": "list", "values": [["x", 150], ["y", 150]]}}


def test_flattened_metadata_across_datasets_is_not_taken_for_a_dataset_named_metadata(api, new_api):
    first, second = _dataset(api, "one"), _dataset(api, "two")
    [a] = _upload(api, first, 1)
    [b] = _upload(api, second, 1)
    api.call("PATCH", f"/datasets/{first}/documents/{a}", json={"meta_fields": {"tags": ["x", "y"]}})
    api.call("PATCH", f"/datasets/{second}/documents/{b}", json={"meta_fields": {"tags": "x"}})
    answer = api.call("GET", "/datasets/metadata/flattened", params={"dataset_ids": f"{first},{second}"})
    assert answer == {"code": 0, "data": {"tags": {"x": [a, b], "y": [a]}}}
    assert api.call("GET", "/datasets/metadata/flattened") == {
        "code": 102,
        "message": "Lack of dataset_ids in query parameters",
    }
    # Another tenant's dataset is refused, whatever else is named
    other = new_api()
    refused = other.call("GET", "/datasets/metadata/flattened", params={"dataset_ids": first})
    assert refused == {"code": 102, "message": f"No authorization for dataset '{first}'"}


def _parse_and_wait(api, dataset_id, document_id, seconds=60):
    assert api.call("POST", f"/datasets/{dataset_id}/chunks", json={"document_ids": [document_id]})["code"] == 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        [document] = api.call("GET", f"/datasets/{dataset_id}/documents", params={"id": document_id})["data"]["docs"]
        if document["run"] in ("DONE", "FAIL", "CANCEL"):
            return document
        time.sleep(0.3)
    pytest.fail(f"{document_id} still {document['run']} after {seconds} s")


def test_ingestion_summary_and_logs_follow_parse_runs(api):
    dataset_id = _dataset(api)
    parsed, _unparsed = _upload(api, dataset_id, 2)
    assert _parse_and_wait(api, dataset_id, parsed)["run"] == "DONE"
    # The summary counts the dataset and its documents per run state
    summary = api.call("GET", f"/datasets/{dataset_id}/ingestions/summary")["data"]
    assert summary["doc_num"] == 2 and summary["chunk_num"] >= 1 and summary["token_num"] > 0
    assert summary["status"] == {
        "unstart_count": 1,
        "running_count": 0,
        "cancel_count": 0,
        "done_count": 1,
        "fail_count": 0,
    }
    # Dataset-wide logs are none; each ended run is one file log, readable by its id
    assert api.call("GET", f"/datasets/{dataset_id}/ingestions")["data"] == {"total": 0, "logs": []}
    logs = api.call(
        "GET", f"/datasets/{dataset_id}/ingestions", params={"log_type": "file", "page": 1, "page_size": 10}
    )
    [log] = logs["data"]["logs"]
    assert (logs["data"]["total"], log["document_id"], log["operation_status"], log["progress"]) == (
        1,
        parsed,
        "3",
        1.0,
    )
    assert log["document_name"] == "doc0.txt" and "Task done." in log["progress_msg"]
    one = api.call("GET", f"/datasets/{dataset_id}/ingestions/{log['id']}")
    assert one == {"code": 0, "data": log}
    assert api.call("GET", f"/datasets/{dataset_id}/ingestions/nonexistent_log") == {
        "code": 102,
        "message": "Log not found",
    }
    # An inverted date range selects nothing (RAGFlow's code), a malformed date is refused
    inverted = {"log_type": "file", "create_date_from": "2025-02-01", "create_date_to": "2025-01-01"}
    assert api.call("GET", f"/datasets/{dataset_id}/ingestions", params=inverted)["data"] == {"total": 0, "logs": []}
    assert api.call("GET", f"/datasets/{dataset_id}/ingestions", params={"create_date_to": "soon"})["code"] == 101
    for path in ("ingestions/summary", "ingestions", "ingestions/x"):
        assert api.call("GET", f"/datasets/invalid_id/{path}")["code"] == 102


def test_images_and_artifacts_answer_ragflows_not_found_after_its_checks(api):
    # No images are rendered and no agents run here: every id is one that does not exist
    for image_id in ("not-a-valid-image-id", "nohyphen", f"{'0' * 32}-thumbnail.png"):
        assert api.call("GET", f"/documents/images/{image_id}") == {"code": 102, "message": "Image not found."}
    assert api.call("GET", "/documents/artifact/not-an-artifact.exe") == {"code": 102, "message": "invalid file type"}
    assert api.call("GET", "/documents/artifact/..%5Cx.png") == {"code": 102, "message": "Invalid filename."}
    assert api.call("GET", "/documents/artifact/chart.png") == {"code": 102, "message": "Artifact not found."}
    assert api.raw("GET", "/documents/artifact/chart.png", headers={"Authorization": "Bearer nope"}).status_code == 401
