"""Edges of the seed API (`/api/v1/dataset...`) where RAGFlow's client and hostile input used to
get code 500 or an answer RAGFlow would not give: blank, long and multibyte names, lone
surrogates, deep JSON, bad doc_ids, malformed multipart, update keys RAGFlow ignores, upload
order, renaming a document onto its own name, and many taken suffixes of one name."""

from concurrent.futures import ThreadPoolExecutor

import pytest

BLANKS = [" ", " " * 1024, "\t", "\n", "\u00a0", "\u3000"]


def names_in_creation_order(api):
    return [d["name"] for d in reversed(api.call("GET", "/dataset")["data"])]


# ---------------------------------------------------------------- item 1: names blank after stripping
@pytest.mark.parametrize("blank", BLANKS, ids=["space", "1024-spaces", "tab", "newline", "nbsp", "ideographic"])
def test_a_name_that_strips_to_nothing_is_stored_empty_and_suffixed_when_taken(api, blank):
    first = api.call("POST", "/dataset", json={"name": blank})
    assert (first["code"], first["data"]["dataset_name"]) == (0, "")
    second = api.call("POST", "/dataset", json={"name": blank})
    assert (second["code"], second["data"]["dataset_name"]) == (0, "(1)")
    shown = api.call("GET", f"/dataset/{first['data']['dataset_id']}")
    assert shown["data"]["name"] == ""
    assert names_in_creation_order(api) == ["", "(1)"]
    assert [d["name"] for d in api.call("GET", "/dataset", params={"orderby": "name", "desc": "false"})["data"]] == [
        "",
        "(1)",
    ]


@pytest.mark.parametrize("blank", BLANKS[:3], ids=["space", "1024-spaces", "tab"])
def test_renaming_to_a_blank_name_stores_the_empty_name(api, blank):
    dataset_id = api.create_dataset("named")
    renamed = api.call("PUT", f"/dataset/{dataset_id}", json={"name": blank})
    assert renamed["code"] == 0 and renamed["data"]["name"] == ""
    other = api.create_dataset("other")
    taken = api.call("PUT", f"/dataset/{other}", json={"name": blank})
    assert taken == {
        "code": 102,
        "message": "The name:  is already used by other datasets. Please choose a different name.",
    }
    assert api.call("POST", "/dataset", json={"name": "named"})["data"]["dataset_name"] == "named"  # freed


# ---------------------------------------------------------------- item 2: characters, not bytes
@pytest.mark.parametrize(
    "name", ["é" * 513, "😀" * 300, "日" * 1024, "n" * 1024], ids=["e-acute", "emoji", "cjk", "ascii"]
)
def test_names_up_to_1024_characters_of_any_width_are_stored_and_suffixed(api, name):
    first = api.call("POST", "/dataset", json={"name": name})
    assert first["code"] == 0 and first["data"]["dataset_name"] == name
    second = api.call("POST", "/dataset", json={"name": name})
    assert second["code"] == 0 and second["data"]["dataset_name"] == f"{name}(1)"  # 1,027 characters for 1,024
    third = api.call("POST", "/dataset", json={"name": name})
    assert third["data"]["dataset_name"] == f"{name}(2)"
    renamed = api.call("PUT", f"/dataset/{second['data']['dataset_id']}", json={"name": name[:-1] + "x"})
    assert renamed["code"] == 0 and renamed["data"]["name"] == name[:-1] + "x"
    onto_taken = api.call("PUT", f"/dataset/{third['data']['dataset_id']}", json={"name": name.upper()})
    assert onto_taken["code"] == 102 and "is already used by other datasets" in onto_taken["message"]
    # Listing by name works too (names sharing their first kilobyte sort among themselves arbitrarily).
    by_name = api.call("GET", "/dataset", params={"orderby": "name", "desc": "false"})["data"]
    assert sorted(d["name"] for d in by_name) == sorted([name, name[:-1] + "x", f"{name}(2)"])


def test_names_sharing_their_first_kilobyte_are_still_distinct(api):
    stem = "é" * 1000
    names = [stem + tail for tail in ("a", "b", "A")]
    answers = [api.call("POST", "/dataset", json={"name": name})["data"]["dataset_name"] for name in names]
    assert answers == [stem + "a", stem + "b", stem + "A(1)"]  # case-insensitive, like every other name


# ---------------------------------------------------------------- item 3: values that are not text
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/dataset"), ("PUT", "/dataset/{dataset_id}")],
)
def test_a_lone_surrogate_in_a_name_is_an_argument_error(api, method, path):
    dataset_id = api.create_dataset("kept")
    body = b'{"name": "bad \\ud800 name"}'
    answer = api.raw(method, "" + path.format(dataset_id=dataset_id), data=body)
    assert answer.status_code == 200
    assert answer.json()["code"] == 101 and "lone surrogate" in answer.json()["message"]
    assert names_in_creation_order(api) == ["kept"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/dataset"),
        ("PUT", "/dataset/{dataset_id}"),
        ("PUT", "/dataset/{dataset_id}/documents/{document_id}"),
        ("POST", "/dataset/{dataset_id}/documents/status"),
        ("DELETE", "/dataset/{dataset_id}/documents/status"),
        ("POST", "/dataset/{dataset_id}/documents/upload_url"),
    ],
)
def test_json_nested_thousands_of_levels_deep_is_an_argument_error_on_every_json_route(api, method, path):
    dataset_id = api.create_dataset("deep")
    [document] = api.upload(dataset_id, {"a.txt": b"a"})
    deep = b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    answer = api.raw(method, path.format(dataset_id=dataset_id, document_id=document["id"]), data=deep)
    assert answer.status_code == 200
    assert answer.json()["code"] == 101 and "nests deeper than" in answer.json()["message"]


@pytest.mark.parametrize("doc_ids", [[[1]], [{}], [""], [None], [1], ["ok", 2.5]])
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_doc_ids_that_are_not_non_empty_strings_are_argument_errors(api, method, doc_ids):
    dataset_id = api.create_dataset("ids")
    answer = api.call(method, f"/dataset/{dataset_id}/documents/status", json={"doc_ids": doc_ids})
    assert answer["code"] == 101
    assert answer["message"].startswith("'doc_ids' must be a list of document ids (non-empty strings)")


@pytest.mark.parametrize(
    "body",
    [b'{"name": 1' + b"0" * 5000 + b"}", b'{"name": 1e400}', b'{"name": NaN}', b'{"name": -Infinity}'],
    ids=["5000-digit-int", "1e400", "NaN", "-Infinity"],
)
def test_numbers_json_cannot_carry_are_argument_errors(api, body):
    answer = api.raw("POST", "/dataset", data=body)
    assert answer.status_code == 200 and answer.json()["code"] == 101


# ---------------------------------------------------------------- item 4: malformed multipart
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=xyz", b"garbage that is not multipart at all"),
        ("multipart/form-data", b"--xyz\r\nContent-Disposition: form-data; name=file\r\n\r\nx\r\n--xyz--\r\n"),
        ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="file"'),
    ],
    ids=["garbage", "no-boundary", "truncated"],
)
def test_malformed_multipart_is_an_argument_error_about_the_body(api, content_type, body):
    dataset_id = api.create_dataset("mp")
    answer = api.raw("POST", f"/dataset/{dataset_id}/documents", data=body, headers={"Content-Type": content_type})
    assert answer.status_code == 200
    assert answer.json()["code"] == 101, answer.json()
    assert "no route" not in answer.json()["message"]
    assert api.call("GET", f"/dataset/{dataset_id}/documents")["data"]["total"] == 0


def test_a_10000_character_filename_is_refused_with_a_reason(api):
    dataset_id = api.create_dataset("mp")
    answer = api.raw("POST", f"/dataset/{dataset_id}/documents", files=[("file", ("n" * 10_000 + ".txt", b"x"))])
    assert answer.json()["code"] == 101
    assert "multipart body" in answer.json()["message"] or "255 bytes or less" in answer.json()["message"]
    long = api.raw("POST", f"/dataset/{dataset_id}/documents", files=[("file", ("n" * 300 + ".txt", b"x"))])
    assert long.json()["code"] == 101 and "255 bytes or less" in long.json()["message"]


# ---------------------------------------------------------------- item 5: update ignores unknown keys
def test_dataset_update_ignores_keys_ragflow_ignores_but_create_still_refuses_them(api):
    dataset_id = api.create_dataset("kb")
    answer = api.call("PUT", f"/dataset/{dataset_id}", json={"name": "kb2", "parser_id": "qa", "kb_id": "x"})
    assert answer["code"] == 0 and answer["data"]["name"] == "kb2" and answer["data"]["parser_id"] == "naive"
    only_unknown = api.call("PUT", f"/dataset/{dataset_id}", json={"parser_id": "qa"})
    assert only_unknown["code"] == 0 and only_unknown["data"]["name"] == "kb2"
    refused = api.call("POST", "/dataset", json={"name": "x", "parser_id": "qa"})
    assert refused == {"code": 102, "message": "fields: ['parser_id'], are not allowed in request body."}


# ---------------------------------------------------------------- item 6: upload order
def test_files_of_one_upload_list_newest_first_in_request_order(api):
    dataset_id = api.create_dataset("order")
    names = [f"f{n:02d}.txt" for n in range(30)]
    created = api.upload(dataset_id, {name: b"x" for name in names})
    times = [document["create_time"] for document in created]
    assert times == sorted(times) and len(set(times)) == len(times)
    listed = api.call("GET", f"/dataset/{dataset_id}/documents")["data"]["docs"]
    assert [document["name"] for document in listed] == names[::-1]


# ---------------------------------------------------------------- item 7: renaming onto its own name
@pytest.mark.parametrize("same", ["a.txt", "A.TXT"])
def test_renaming_a_document_to_its_own_name_is_a_duplicate(api, same):
    dataset_id = api.create_dataset("docs")
    [document] = api.upload(dataset_id, {"a.txt": b"a"})
    answer = api.call("PUT", f"/dataset/{dataset_id}/documents/{document['id']}", json={"name": same})
    assert answer == {"code": 101, "message": "Duplicated document name in the same dataset."}


# ---------------------------------------------------------------- item 11: many taken suffixes
def test_the_lowest_free_suffix_is_found_whatever_is_taken(api):
    ids = {}
    for expected in ["kb", "kb(1)", "kb(2)", "kb(3)", "kb(4)"]:
        created = api.call("POST", "/dataset", json={"name": "kb"})["data"]
        assert created["dataset_name"] == expected
        ids[expected] = created["dataset_id"]
    api.call("DELETE", f"/dataset/{ids['kb(2)']}")
    assert api.call("POST", "/dataset", json={"name": "KB"})["data"]["dataset_name"] == "KB(2)"  # the gap first
    assert api.call("POST", "/dataset", json={"name": "kb(3)"})["data"]["dataset_name"] == "kb(5)"  # above its own
    assert api.call("POST", "/dataset", json={"name": "kb(01)"})["data"]["dataset_name"] == "kb(01)"  # another name
    assert api.call("POST", "/dataset", json={"name": "kb(9)"})["data"]["dataset_name"] == "kb(9)"
    assert api.call("POST", "/dataset", json={"name": "kb"})["data"]["dataset_name"] == "kb(6)"


def test_racing_creates_of_one_name_take_each_suffix_once(api):
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda _: api.call("POST", "/dataset", json={"name": "race"}), range(24)))
    names = sorted(answer["data"]["dataset_name"] for answer in answers)
    assert names == sorted({"race", *(f"race({n})" for n in range(1, 24))})


def test_document_suffixes_keep_the_extension_and_fill_gaps(api):
    dataset_id = api.create_dataset("docs")
    first = api.upload(dataset_id, {"a.txt": b"1"})
    api.upload(dataset_id, {"a.txt": b"2"})
    third = api.upload(dataset_id, {"a.txt": b"3"})
    assert third[0]["name"] == "a(2).txt"
    api.call("DELETE", f"/dataset/{dataset_id}/documents/{first[0]['id']}")
    parts = [("file", ("A.TXT", b"4")), ("file", ("a.txt", b"5")), ("file", ("a.md", b"6"))]
    batch = api.call("POST", f"/dataset/{dataset_id}/documents", files=parts)["data"]
    assert [document["name"] for document in batch] == ["A.TXT", "a(3).txt", "a.md"]


# ---------------------------------------------------------------- item 8: empty documents named on "start all"
@pytest.mark.parametrize("doc_ids", [None, []], ids=["null", "empty-list"])
def test_starting_every_document_names_each_empty_one(api, doc_ids):
    dataset_id = api.create_dataset("empties")
    documents = api.upload(dataset_id, {"e1.txt": b"", "full.txt": b"text", "e2.md": b""})
    listed = api.call("POST", f"/dataset/{dataset_id}/documents/status", json={"doc_ids": doc_ids})
    assert listed == {
        "code": 0,
        "data": True,
        "message": "Empty data in the document: e1.txt; Empty data in the document: e2.md; ",
    }
    # The same message as naming the ids, and a document that stops being empty leaves the list.
    by_ids = api.call("POST", f"/dataset/{dataset_id}/documents/status", json={"doc_ids": [d["id"] for d in documents]})
    assert by_ids["message"] == listed["message"]
    api.call("DELETE", f"/dataset/{dataset_id}/documents/{documents[0]['id']}")
    again = api.call("POST", f"/dataset/{dataset_id}/documents/status", json={"doc_ids": doc_ids})
    assert again["message"] == "Empty data in the document: e2.md; "
    renamed = api.call("PUT", f"/dataset/{dataset_id}/documents/{documents[2]['id']}", json={"name": "e3.md"})
    assert renamed["code"] == 0
    assert api.call("POST", f"/dataset/{dataset_id}/documents/status", json={})["message"] == (
        "Empty data in the document: e3.md; "
    )
