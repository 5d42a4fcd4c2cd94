"""Today's dataset API (`/api/v1/datasets`) through the local gateway, as RAGFlow's current
clients see it: its envelope, its 401 and 404, its validation wording, and the same records
as the seed API."""

import time

import pytest
import requests

UNAUTHORIZED = {"code": 401, "message": "<Unauthorized '401: Unauthorized'>", "data": None}


def test_create_answers_the_whole_dataset_in_todays_field_names(api):
    answer = api.call("POST", "/datasets", json={"name": "  kb  ", "description": "notes", "chunk_method": "qa"})
    assert answer["code"] == 0 and "message" not in answer
    dataset = answer["data"]
    assert dataset["name"] == "kb" and len(dataset["id"]) == 32
    assert dataset["description"] == "notes" and dataset["avatar"] is None and dataset["permission"] == "me"
    assert dataset["chunk_method"] == "qa" and dataset["embedding_model"] == "BAAI/bge-small-en-v1.5@Builtin"
    assert dataset["document_count"] == 0 and dataset["chunk_count"] == 0 and dataset["token_num"] == 0
    assert dataset["parser_config"]["raptor"] == {"use_raptor": False}
    for storage_name in ("parser_id", "embd_id", "doc_num", "chunk_num", "kb_id"):
        assert storage_name not in dataset


def test_a_dataset_created_today_is_the_seed_apis_dataset_too(api):
    created = api.call("POST", "/datasets", json={"name": "shared", "chunk_method": "table"})["data"]
    seen_by_seed = api.call("GET", "/dataset", params={"name": "shared"})["data"]
    assert [(d["id"], d["parser_id"], d["doc_num"]) for d in seen_by_seed] == [(created["id"], "table", 0)]
    # and the name is claimed across both generations
    assert api.call("POST", "/dataset", json={"name": "SHARED"})["data"]["dataset_name"] == "SHARED(1)"


def test_taken_names_get_a_suffix_case_insensitively(api):
    assert api.call("POST", "/datasets", json={"name": "Docs"})["data"]["name"] == "Docs"
    assert api.call("POST", "/datasets", json={"name": "docs"})["data"]["name"] == "docs(1)"


def test_the_parser_config_sent_is_laid_over_the_methods_defaults(api):
    body = {"name": "cfg", "parser_config": {"chunk_token_num": 1024, "raptor": {"use_raptor": True}}}
    config = api.call("POST", "/datasets", json=body)["data"]["parser_config"]
    assert config["chunk_token_num"] == 1024 and config["raptor"]["use_raptor"] is True
    assert config["graphrag"]["use_graphrag"] is False and config["delimiter"] == "\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": ""}, "String should have at least 1 character"),
        ({"name": "   "}, "String should have at least 1 character"),
        ({"name": "a" * 129}, "String should have at most 128 characters"),
        ({"name": 0}, "Input should be a valid string"),
        ({}, "Field: <name> - Message: <Field required>"),
        ({"name": "x", "permission": "ME"}, "Input should be 'me' or 'team'"),
        ({"name": "x", "chunk_method": "nope"}, "Input should be 'naive', 'book', 'email'"),
        ({"name": "x", "chunk_method": None}, "Input should be 'naive', 'book', 'email'"),
        ({"name": "x", "embedding_model": "no-provider"}, "must follow <model_name>@<provider> format"),
        ({"name": "x", "embedding_model": "@openai"}, "both model_name and provider must be non-empty strings"),
        ({"name": "x", "avatar": "image/png;base64,AAAA"}, "invalid MIME prefix format. Must start with 'data:'"),
        ({"name": "x", "parser_config": {"chunk_token_num": 0}}, "Input should be greater than or equal to 1"),
        ({"name": "x", "parser_config": {"unknown": 1}}, "Extra inputs are not permitted"),
        ({"name": "x", "tenant_id": "someone-else"}, "Field: <tenant_id> - Message: <Extra inputs are not permitted>"),
    ],
)
def test_invalid_fields_answer_101_in_ragflows_words_and_create_nothing(api, body, expected):
    answer = api.call("POST", "/datasets", json=body)
    assert answer["code"] == 101 and expected in answer["message"], answer
    assert api.call("GET", "/dataset")["data"] == []


def test_bodies_that_are_not_json_objects_answer_101(api):
    wrong_type = api.call("POST", "/datasets", data="<a/>", headers={"Content-Type": "text/xml"})
    assert wrong_type == {"code": 101, "message": "Unsupported content type: Expected application/json, got text/xml"}
    malformed = api.call("POST", "/datasets", data="{", headers={"Content-Type": "application/json"})
    assert malformed["message"] == "Malformed JSON syntax: Missing commas/brackets or invalid encoding"
    not_object = api.call("POST", "/datasets", data='"a"', headers={"Content-Type": "application/json"})
    assert not_object["message"] == "Invalid request payload: expected object, got str"


@pytest.mark.parametrize("header", [None, "", "Bearer ", "Bearer invalid_key_123", "invalid_key_123"])
def test_a_missing_or_bad_key_answers_http_401_with_ragflows_body(live, header):
    headers = {} if header is None else {"Authorization": header}
    answer = requests.post(live.url + "/api/v1/datasets", json={"name": "x"}, headers=headers, timeout=30)
    assert answer.status_code == 401 and answer.json() == UNAUTHORIZED


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/datasets/x/y/z"), ("PATCH", "/api/v1/datasets"), ("GET", "/api/v1/chats/nothing")],
)
def test_unknown_routes_of_todays_api_answer_http_404(live, method, path):
    answer = requests.request(method, live.url + path, timeout=30)
    assert answer.status_code == 404
    assert answer.json() == {"code": 404, "message": f"Not Found: {path}", "data": None, "error": "Not Found"}


# ---------------------------------------------------------------- list and get
def _create(api, name, **fields):
    answer = api.call("POST", "/datasets", json={"name": name, **fields})
    assert answer["code"] == 0, answer
    return answer["data"]


def test_list_pages_in_order_with_the_total(api):
    ids = [_create(api, f"d{n}")["id"] for n in range(5)]
    newest_first = api.call("GET", "/datasets", params={"page": 1, "page_size": 2})
    assert newest_first["code"] == 0 and newest_first["total_datasets"] == 5
    assert [d["id"] for d in newest_first["data"]] == ids[::-1][:2]
    oldest = api.call("GET", "/datasets", params={"page": 3, "page_size": 2, "desc": "false", "orderby": "create_time"})
    assert [d["id"] for d in oldest["data"]] == ids[4:] and oldest["total_datasets"] == 5
    assert api.call("GET", "/datasets", params={"page": 4, "page_size": 2})["data"] == []


def test_list_filters_by_id_ids_and_name(api):
    first, second, _ = (_create(api, name) for name in ("alpha", "beta", "gamma"))
    by_id = api.call("GET", "/datasets", params={"id": first["id"]})
    assert [d["name"] for d in by_id["data"]] == ["alpha"] and by_id["total_datasets"] == 1
    by_name = api.call("GET", "/datasets", params={"name": "BETA"})
    assert [d["id"] for d in by_name["data"]] == [second["id"]]
    by_ids = api.call("GET", "/datasets", params=[("ids", first["id"]), ("ids", second["id"])])
    assert {d["name"] for d in by_ids["data"]} == {"alpha", "beta"} and by_ids["total_datasets"] == 2
    both_disagree = api.call("GET", "/datasets", params={"id": first["id"], "name": "beta"})
    assert both_disagree["data"] == [] and both_disagree["total_datasets"] == 0


@pytest.mark.parametrize(
    ("params", "code", "expected"),
    [
        ({"id": "not-a-uuid"}, 101, "Invalid UUID format"),
        ({"id": "0" * 32}, 102, "lacks permission for dataset '" + "0" * 32 + "'"),
        ({"name": "nobody"}, 102, "lacks permission for dataset 'nobody'"),
        ({"orderby": "name"}, 101, "Input should be 'create_time' or 'update_time'"),
        ({"desc": "maybe"}, 101, "Input should be a valid boolean, unable to interpret input"),
        ({"page": 0}, 101, "Input should be greater than or equal to 1"),
        ({"page_size": 101}, 101, "page_size must be less than or equal to 100"),
        ({"unknown": 1}, 101, "Extra inputs are not permitted"),
    ],
)
def test_list_refuses_bad_parameters_in_ragflows_words(api, params, code, expected):
    answer = api.call("GET", "/datasets", params=params)
    assert answer["code"] == code and expected in answer["message"], answer


def test_another_tenants_dataset_is_never_visible(api, new_api):
    other = new_api()
    theirs = _create(other, "private")
    for path, params in ((f"/datasets/{theirs['id']}", None), ("/datasets", {"id": theirs["id"]})):
        answer = api.call("GET", path, params=params)
        assert answer["code"] == 102 and "lacks permission" in answer["message"]
    assert api.call("GET", "/datasets", params={"name": "private"})["code"] == 102
    assert api.call("PUT", f"/datasets/{theirs['id']}", json={"name": "mine"})["code"] == 102
    assert api.call("DELETE", "/datasets", json={"ids": [theirs["id"]]})["code"] == 102
    assert other.call("GET", f"/datasets/{theirs['id']}")["data"]["name"] == "private"


def test_get_answers_the_dataset_with_seed_uploads_counted(api):
    created = _create(api, "counted")
    api.upload(created["id"], {"a.txt": b"hello", "b.txt": b"world"})
    got = api.call("GET", f"/datasets/{created['id']}")["data"]
    assert got["id"] == created["id"] and got["document_count"] == 2 and got["connectors"] == []


# ---------------------------------------------------------------- update
def test_update_changes_only_the_fields_sent(api):
    created = _create(api, "before", description="d", parser_config={"chunk_token_num": 256})
    answer = api.call("PUT", f"/datasets/{created['id']}", json={"name": "after", "parser_config": {"delimiter": "#"}})
    updated = answer["data"]
    assert answer["code"] == 0 and updated["name"] == "after" and updated["description"] == "d"
    assert updated["parser_config"]["chunk_token_num"] == 256 and updated["parser_config"]["delimiter"] == "#"
    assert updated["update_time"] >= created["update_time"]
    # the seed API sees the same record, and the old name is free again
    assert api.call("GET", "/dataset", params={"name": "after"})["data"][0]["id"] == created["id"]
    assert _create(api, "before")["name"] == "before"


def test_update_to_another_chunk_method_starts_from_its_defaults(api):
    created = _create(api, "m")
    updated = api.call("PUT", f"/datasets/{created['id']}", json={"chunk_method": "qa"})["data"]
    assert updated["chunk_method"] == "qa"
    assert updated["parser_config"] == {
        "table_context_size": 0,
        "image_context_size": 0,
        "raptor": {"use_raptor": False},
        "graphrag": {"use_graphrag": False},
    }


def test_update_clears_fields_set_to_null_and_keeps_the_embedding_model(api):
    created = _create(api, "n", description="something")
    answer = api.call("PUT", f"/datasets/{created['id']}", json={"description": None, "embedding_model": None})
    assert answer["data"]["description"] is None
    assert answer["data"]["embedding_model"] == created["embedding_model"]


@pytest.mark.parametrize(
    ("body", "code", "expected"),
    [
        ({}, 102, "no properties were modified"),
        ({"name": ""}, 101, "String should have at least 1 character"),
        ({"chunk_method": None}, 101, "Input should be 'naive'"),
        ({"pagerank": 101}, 101, "Input should be less than or equal to 100"),
        ({"id": "x"}, 101, "Extra inputs are not permitted"),
    ],
)
def test_update_refuses_bad_fields(api, body, code, expected):
    created = _create(api, "u")
    answer = api.call("PUT", f"/datasets/{created['id']}", json=body)
    assert answer["code"] == code and expected in answer["message"], answer


def test_update_to_a_taken_name_is_refused_and_changes_nothing(api):
    _create(api, "taken")
    mine = _create(api, "mine")
    answer = api.call("PUT", f"/datasets/{mine['id']}", json={"name": "TAKEN", "description": "x"})
    assert answer == {"code": 102, "message": "Dataset name 'TAKEN' already exists"}
    assert api.call("GET", f"/datasets/{mine['id']}")["data"]["description"] is None


def test_update_of_a_bad_id(api):
    answer = api.call("PUT", "/datasets/not_uuid", json={"name": "x"})
    assert answer["code"] == 101 and "Field: <dataset_id> - Message: <Invalid UUID format>" in answer["message"]
    assert api.call("PUT", f"/datasets/{'0' * 32}", json={"name": "x"})["code"] == 102


# ---------------------------------------------------------------- delete
def test_delete_by_ids_is_all_or_nothing(api):
    keep, doomed = _create(api, "keep"), _create(api, "doomed")
    refused = api.call("DELETE", "/datasets", json={"ids": [doomed["id"], "0" * 32]})
    assert refused["code"] == 102 and "lacks permission for datasets: '" + "0" * 32 in refused["message"]
    assert api.call("GET", "/datasets")["total_datasets"] == 2
    assert api.call("DELETE", "/datasets", json={"ids": [doomed["id"]]}) == {"code": 0, "data": {"success_count": 1}}
    assert [d["id"] for d in api.call("GET", "/datasets")["data"]] == [keep["id"]]
    again = api.call("DELETE", "/datasets", json={"ids": [doomed["id"]]})
    assert again["code"] == 102 and "lacks permission" in again["message"]


def test_delete_without_ids_deletes_nothing_unless_delete_all(api):
    for name in ("a", "b", "c"):
        _create(api, name)
    assert api.call("DELETE", "/datasets", json={"ids": []})["data"] == {"success_count": 0}
    assert api.call("DELETE", "/datasets", json={})["data"] == {"success_count": 0}
    assert api.call("GET", "/datasets")["total_datasets"] == 3
    assert api.call("DELETE", "/datasets", json={"ids": None, "delete_all": True})["data"] == {"success_count": 3}
    assert api.call("GET", "/datasets")["data"] == [] and api.call("GET", "/dataset")["data"] == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"ids": ["not-a-uuid"]}, "Invalid UUID format"),
        ({"ids": ["0" * 32, "0" * 32]}, "Duplicate ids: '" + "0" * 32 + "'"),
        ({"ids": "abc"}, "Input should be a valid list"),
        ({"delete_all": "yes"}, "Input should be a valid boolean"),
        ({"ids": [], "extra": 1}, "Extra inputs are not permitted"),
    ],
)
def test_delete_refuses_bad_bodies(api, body, expected):
    answer = api.call("DELETE", "/datasets", json=body)
    assert answer["code"] == 101 and expected in answer["message"], answer


def test_deleting_many_datasets_purges_their_documents_in_the_background(api, live):
    datasets = [_create(api, f"bulk{n}") for n in range(40)]  # more than one transaction's worth
    api.upload(datasets[0]["id"], {"a.txt": b"one", "b.txt": b"two"})
    api.upload(datasets[39]["id"], {"c.txt": b"three"})
    prefixes = [f"uploads/{d['tenant_id']}/{d['id']}/" for d in (datasets[0], datasets[39])]
    s3 = live.stack.client("s3")
    bucket = next(iter(live.stack.bucket_names.values()))

    def files_left() -> int:
        return sum(s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0) for prefix in prefixes)

    assert files_left() == 3
    answer = api.call("DELETE", "/datasets", json={"ids": [d["id"] for d in datasets]})
    assert answer["data"] == {"success_count": 40}
    assert api.call("GET", "/datasets")["total_datasets"] == 0
    deadline = time.time() + 30
    while files_left() and time.time() < deadline:
        time.sleep(0.5)
    assert files_left() == 0
    from kb_ingest.dal.models import DocumentModel, PurgeJobModel

    assert not list(DocumentModel.query(datasets[0]["id"]))
    deadline = time.time() + 10
    while PurgeJobModel.count(datasets[39]["id"]) and time.time() < deadline:
        time.sleep(0.2)
    assert PurgeJobModel.count(datasets[39]["id"]) == 0
