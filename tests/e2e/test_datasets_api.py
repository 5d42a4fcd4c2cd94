"""The dataset API through the local gateway: every contract line, auth, tenant isolation,
races and bad input, as an HTTP client sees them."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from kb_ingest.dal.api_keys import create_api_key, revoke_api_key


def post(live, path, headers=None, **kwargs):
    return requests.post(live.url + path, headers=headers or {}, timeout=60, **kwargs)


# ---------------------------------------------------------------- auth
def test_bearer_and_bare_keys_are_both_accepted(live):
    key, _ = create_api_key(label="t")
    for header in (f"Bearer {key}", key, f"bearer  {key}"):
        answer = requests.get(live.url + "/api/v1/dataset", headers={"Authorization": header}, timeout=30)
        assert answer.status_code == 200 and answer.json()["code"] == 0, header


@pytest.mark.parametrize("header", [None, "", "Bearer ", "Bearer ragflow-unknown", "garbage with spaces"])
def test_missing_or_unknown_keys_get_109(live, header):
    headers = {} if header is None else {"Authorization": header}
    answer = requests.get(live.url + "/api/v1/dataset", headers=headers, timeout=30)
    assert answer.status_code == 200
    assert answer.json()["code"] == 109


def test_a_revoked_key_stops_working(live):
    key, _ = create_api_key(label="t")
    headers = {"Authorization": f"Bearer {key}"}
    assert post(live, "/api/v1/dataset", headers, json={"name": "x"}).json()["code"] == 0
    revoke_api_key(key)
    answer = post(live, "/api/v1/dataset", headers, json={"name": "y"}).json()
    assert answer["code"] == 109 and answer["message"] == "Token is not valid!"


# ---------------------------------------------------------------- contract lines
def test_create_answers_name_and_id_and_suffixes_duplicates(api):
    first = api.call("POST", "/dataset", json={"name": "kb"})
    assert first["code"] == 0 and first["message"] == "success"
    assert first["data"]["dataset_name"] == "kb" and len(first["data"]["dataset_id"]) == 32
    assert api.call("POST", "/dataset", json={"name": "kb"})["data"]["dataset_name"] == "kb(1)"
    assert api.call("POST", "/dataset", json={"name": "kb"})["data"]["dataset_name"] == "kb(2)"
    assert api.call("POST", "/dataset", json={"name": "kb(1)"})["data"]["dataset_name"] == "kb(3)"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, 101, "required argument are missing: name; "),
        ({"name": "a", "extra": 1}, 102, "fields: ['extra'], are not allowed in request body."),
        ({"name": ""}, 102, "Empty dataset name"),
        ({"name": "n" * 1025}, 102, f"Dataset name: {'n' * 1025} with length 1025 exceeds 1024!"),
    ],
)
def test_create_refusals(api, body, code, message):
    answer = api.call("POST", "/dataset", json=body)
    assert (answer["code"], answer["message"]) == (code, message)


def test_trailing_slashes_are_the_same_routes_without_redirects(api):
    created = api.raw("POST", "/dataset/", json={"name": "slash"}, allow_redirects=False)
    assert created.status_code == 200 and created.json()["code"] == 0
    listed = api.raw("GET", "/dataset/", allow_redirects=False)
    assert listed.status_code == 200 and [d["name"] for d in listed.json()["data"]] == ["slash"]


def test_list_orders_pages_and_range_errors(api):
    for name in ["b", "c", "a"]:
        api.create_dataset(name)
    answer = api.call("GET", "/dataset")
    assert answer["message"] == "List datasets successfully!"
    assert [d["name"] for d in answer["data"]] == ["a", "c", "b"]  # newest first by default
    by_name = api.call("GET", "/dataset", params={"orderby": "name", "desc": "False"})["data"]
    assert [d["name"] for d in by_name] == ["a", "b", "c"]
    page = api.call("GET", "/dataset", params={"orderby": "name", "desc": "false", "offset": 1, "count": 1})
    assert [d["name"] for d in page["data"]] == ["b"]
    assert api.call("GET", "/dataset", params={"count": 0})["data"] == []
    for offset in (-1, 4):
        out_of_range = api.call("GET", "/dataset", params={"offset": offset})
        assert out_of_range == {"code": 100, "message": "IndexError('Offset is out of the valid range.')"}


def test_get_update_delete_lifecycle(api):
    dataset_id = api.create_dataset("life")
    shown = api.call("GET", f"/dataset/{dataset_id}")
    assert shown["code"] == 0 and shown["data"]["id"] == dataset_id and shown["data"]["doc_num"] == 0
    assert shown["data"]["create_date"].endswith("GMT")
    updated = api.call("PUT", f"/dataset/{dataset_id}", json={"name": "renamed", "description": "d"})
    assert updated["code"] == 0 and updated["data"]["name"] == "renamed" and updated["data"]["description"] == "d"
    assert api.call("PUT", f"/dataset/{dataset_id}", json={}) == {
        "code": 102, "message": "Please input at least one parameter that you want to update!",
    }  # fmt: skip
    deleted = api.call("DELETE", f"/dataset/{dataset_id}")
    assert deleted == {"code": 0, "message": f"Remove dataset: {dataset_id} successfully"}
    assert api.call("GET", f"/dataset/{dataset_id}") == {"code": 102, "message": "Can't find this dataset!"}
    assert api.call("DELETE", f"/dataset/{dataset_id}") == {
        "code": 103, "message": "The dataset cannot be found for your current account.",
    }  # fmt: skip
    assert api.call("PUT", f"/dataset/{dataset_id}", json={"name": "x"}) == {
        "code": 103, "message": "Only the owner of knowledgebase is authorized for this operation!",
    }  # fmt: skip


def test_update_refuses_a_name_used_by_another_dataset(api):
    api.create_dataset("Taken")
    other = api.create_dataset("other")
    answer = api.call("PUT", f"/dataset/{other}", json={"name": "TAKEN"})
    assert answer == {
        "code": 102,
        "message": "The name: taken is already used by other datasets. Please choose a different name.",
    }
    assert api.call("PUT", f"/dataset/{other}", json={"chunk_method": "nope"}) == {
        "code": 102, "message": "Illegal value nope for 'chunk_method' field.",
    }  # fmt: skip


# ---------------------------------------------------------------- tenants and races
def test_another_tenant_cannot_see_change_or_delete_a_dataset(new_api):
    alice, bob = new_api(), new_api()
    dataset_id = alice.create_dataset("private")
    assert bob.call("GET", "/dataset")["data"] == []
    assert bob.call("GET", f"/dataset/{dataset_id}")["code"] == 102
    assert bob.call("PUT", f"/dataset/{dataset_id}", json={"name": "stolen"})["code"] == 103
    assert bob.call("DELETE", f"/dataset/{dataset_id}")["code"] == 103
    assert bob.call("GET", f"/dataset/{dataset_id}/documents")["code"] == 102
    assert alice.call("GET", f"/dataset/{dataset_id}")["data"]["name"] == "private"


def test_racing_creates_over_http_never_share_a_name(api):
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: api.call("POST", "/dataset", json={"name": "race"}), range(6)))
    names = [answer["data"]["dataset_name"] for answer in answers]
    assert sorted(names) == sorted({"race", *(f"race({n})" for n in range(1, 6))})


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, not an array"),
        (b'"kb"', "must be a JSON object, not a string"),
        (b'{"name": 5}', "must be a string"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_malformed_bodies_answer_in_the_envelope(api, body, fragment):
    answer = api.raw("POST", "/dataset", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    assert answer.json()["code"] == 101 and fragment in answer.json()["message"]
    assert api.call("GET", "/dataset")["data"] == []


def test_a_body_over_the_limits_is_refused_before_any_function_runs(api):
    # Over API Gateway's 10 MB: the gateway answers itself (locally in the envelope, with 413).
    big = api.raw("POST", "/dataset", data=b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}')
    assert big.status_code == 413 and big.json()["code"] == 101
    # Under it, but over what a JSON route reads: the function refuses it before parsing.
    medium = api.raw("POST", "/dataset", json={"name": "x" * (2 * 1024 * 1024)})
    assert medium.status_code == 200 and medium.json()["code"] == 101
    assert api.call("GET", "/dataset")["data"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/nothing"), ("PATCH", "/api/v1/dataset"), ("POST", "/api/v1/dataset/x/y/z/w/v"), ("GET", "/")],
)
def test_unknown_routes_and_methods_answer_the_envelope(live, method, path):
    answer = requests.request(method, live.url + path, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["code"] == 100 and "no route" in answer.json()["message"]


def test_deleting_a_dataset_purges_its_documents_and_files_in_the_background(api, live):
    dataset_id = api.create_dataset("doomed")
    api.upload(dataset_id, {f"f{n}.txt": b"hello %d" % n for n in range(5)})
    assert api.call("DELETE", f"/dataset/{dataset_id}")["code"] == 0
    s3 = live.stack.client("s3")
    bucket = next(iter(live.stack.bucket_names.values()))
    from kb_ingest.dal.models import DocumentModel, PurgeJobModel

    # The purge deletes its job last, once everything else is gone: wait for that, not for the
    # files (they go a moment before the job, and a check in between saw the job still there).
    deadline = time.time() + 30
    while PurgeJobModel.count(dataset_id, consistent_read=True) and time.time() < deadline:
        time.sleep(0.2)
    assert PurgeJobModel.count(dataset_id, consistent_read=True) == 0
    leftovers = [
        key
        for prefix in ("uploads/", "parsed/")
        for key in (o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))
        if f"/{dataset_id}/" in key
    ]
    assert leftovers == []
    assert list(DocumentModel.query(dataset_id, consistent_read=True)) == []
