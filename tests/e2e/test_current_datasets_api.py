"""Today's dataset API (`/api/v1/datasets`) through the local gateway, as RAGFlow's current
clients see it: its envelope, its 401 and 404, its validation wording, and the same records
as the seed API."""

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
