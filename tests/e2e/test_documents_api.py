"""The document API through the local gateway: uploads of every shape, list, update, delete and
download, byte for byte, with the contract's answers for everything that can go wrong."""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.e2e.ragflow_client import RagflowSdkCalls, write_files

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"


def names_of(api, dataset_id, **params):
    answer = api.call("GET", f"/dataset/{dataset_id}/documents", params=params)
    assert answer["code"] == 0, answer
    return [doc["name"] for doc in answer["data"]["docs"]], answer["data"]["total"]


def download(api, dataset_id, document_id):
    return api.raw("GET", f"/dataset/{dataset_id}/documents/{document_id}")


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("random.txt", os.urandom(200_000)),
        ("memo.pdf", (CORPUS / "fake-memo.pdf").read_bytes()),
        ("emoji.md", "Grüße 👋 from Zürich — 日本語 ✓\n".encode() * 50),
        ("nulls.txt", b"\x00\x01\x02\xff\xfe" * 1000),
    ],
)
def test_upload_then_download_returns_the_exact_bytes(api, name, content):
    dataset_id = api.create_dataset()
    [document] = api.upload(dataset_id, {name: content})
    assert document["size"] == len(content) and document["run"] == "0" and document["progress"] == 0
    answer = download(api, dataset_id, document["id"])
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.content == content


def test_non_ascii_names_download_with_rfc5987_disposition(api):
    dataset_id = api.create_dataset()
    [document] = api.upload(dataset_id, {"résumé 报告.txt": b"hello"})
    disposition = download(api, dataset_id, document["id"]).headers["content-disposition"]
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E6%8A%A5%E5%91%8A.txt" in disposition


def test_a_20_mb_file_goes_through_a_presigned_upload_and_comes_back_through_a_redirect(api):
    dataset_id = api.create_dataset()
    content = os.urandom(20 * 1024 * 1024)
    answer = api.call(
        "POST", f"/dataset/{dataset_id}/documents/upload_url", json={"name": "big.pdf", "size": len(content)}
    )
    assert answer["code"] == 0, answer
    document, upload = answer["data"]["document"], answer["data"]["upload"]
    assert document["upload_status"] == "pending"
    # Until the file arrives the document is visibly pending and cannot be downloaded.
    assert download(api, dataset_id, document["id"]).json()["code"] == 102
    posted = requests.post(upload["url"], data=upload["fields"], files={"file": ("big.pdf", content)}, timeout=120)
    assert posted.status_code in (200, 201, 204), posted.text[:300]
    deadline = time.time() + 30
    while time.time() < deadline:
        docs = api.call("GET", f"/dataset/{dataset_id}/documents")["data"]["docs"]
        if docs[0]["upload_status"] == "done":
            break
        time.sleep(0.3)
    assert docs[0]["upload_status"] == "done" and docs[0]["size"] == len(content)
    raw = download(api, dataset_id, document["id"])
    assert raw.history and raw.history[0].status_code == 302  # redirected to a presigned URL
    assert raw.content == content


def test_256_files_in_one_request_and_257_refused(api):
    dataset_id = api.create_dataset()
    many = {f"file-{n:03d}.txt": f"content {n}".encode() for n in range(256)}
    created = api.upload(dataset_id, many)
    assert len(created) == 256
    assert names_of(api, dataset_id, count=1)[1] == 256
    assert api.call("GET", f"/dataset/{dataset_id}")["data"]["doc_num"] == 256
    too_many = [("file", (f"x{n}.txt", b"x")) for n in range(257)]
    answer = api.call("POST", f"/dataset/{dataset_id}/documents", files=too_many)
    assert answer == {
        "code": 102,
        "message": "You try to upload 257 files, which exceeds the maximum number of uploading files: 256",
    }
    assert api.call("GET", f"/dataset/{dataset_id}")["data"]["doc_num"] == 256


# ---------------------------------------------------------------- upload refusals
@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        ({"data": b'{"file": 1}', "headers": {"Content-Type": "application/json"}}, 101, "There is no file!"),
        ({"files": [("other", ("a.txt", b"x"))]}, 101, "There is no file!"),
        ({"files": [("file", (None, b"no name"))]}, 101, "There is a file without name!"),
        ({"files": [("file", ("http_mirror.txt", b"x"))]}, 101, "Remote files have not unsupported."),
        ({"files": [("file", ("program.exe", b"MZ"))]}, 102, "This type of file has not been supported yet!"),
        ({"files": [("file", ("../", b"x"))]}, 101, "There is a file without name!"),
    ],
)
def test_upload_refusals_write_nothing(api, live, kwargs, code, message):
    dataset_id = api.create_dataset()
    answer = api.call("POST", f"/dataset/{dataset_id}/documents", **kwargs)
    assert (answer["code"], answer["message"]) == (code, message)
    assert names_of(api, dataset_id) == ([], 0)


def test_upload_to_an_unknown_or_foreign_dataset(api, new_api):
    answer = api.call("POST", f"/dataset/{'0' * 32}/documents", files=[("file", ("a.txt", b"x"))])
    assert answer == {"code": 102, "message": "Can't find this dataset"}
    foreign = new_api().create_dataset()
    assert api.call("POST", f"/dataset/{foreign}/documents", files=[("file", ("a.txt", b"x"))])["code"] == 102


def test_a_file_over_the_route_limit_is_refused_and_names_the_presigned_route(api):
    dataset_id = api.create_dataset()
    answer = api.call("POST", f"/dataset/{dataset_id}/documents", files=[("file", ("big.txt", b"x" * 4_300_000))])
    assert answer["code"] == 102 and "upload_url" in answer["message"]
    assert names_of(api, dataset_id) == ([], 0)


def test_hostile_and_odd_filenames_are_safe(api, live):
    dataset_id = api.create_dataset()
    created = api.upload(
        dataset_id,
        {
            "../../etc/passwd.txt": b"a",
            "/abs/path/file.txt": b"b",
            "C:\\Windows\\win.md": b"c",
            "nul\x00byte.txt": b"d",
            "ünïcødé 文件.txt": b"e",
            ".txt": b"f",
            "empty.txt": b"",
        },
    )
    assert sorted(d["name"] for d in created) == sorted(
        ["passwd.txt", "file.txt", "win.md", "nulbyte.txt", "ünïcødé 文件.txt", ".txt", "empty.txt"]
    )
    s3 = live.stack.client("s3")
    bucket = next(iter(live.stack.bucket_names.values()))
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="uploads/").get("Contents", [])]
    mine = [key for key in keys if f"/{dataset_id}/" in key]
    assert len(mine) == 7 and all(key.split("/")[-1] in {d["id"] for d in created} for key in mine)
    too_long = api.call("POST", f"/dataset/{dataset_id}/documents", files=[("file", ("n" * 300 + ".txt", b"x"))])
    assert too_long["code"] == 101 and "255 bytes" in too_long["message"]


def test_duplicate_names_get_a_suffix_before_the_extension(api):
    dataset_id = api.create_dataset()
    api.upload(dataset_id, {"a.txt": b"1"})
    assert api.upload(dataset_id, {"a.txt": b"2"})[0]["name"] == "a(1).txt"
    assert api.upload(dataset_id, {"A.TXT": b"3"})[0]["name"] == "A(1).TXT".replace("(1)", "(2)")


def test_concurrent_uploads_of_one_name_end_with_distinct_names_and_exact_counts(api):
    dataset_id = api.create_dataset()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda n: api.upload(dataset_id, {"same.txt": b"%d" % n}), range(6)))
    names = sorted(r[0]["name"] for r in results)
    assert names == sorted(["same.txt", *(f"same({n}).txt" for n in range(1, 6))])
    ids = [r[0]["id"] for r in results]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda i: api.call("DELETE", f"/dataset/{dataset_id}/documents/{i}"), ids[:3]))
        list(pool.map(lambda n: api.upload(dataset_id, {f"more{n}.txt": b"x"}), range(4)))
    assert api.call("GET", f"/dataset/{dataset_id}")["data"]["doc_num"] == 7
    assert names_of(api, dataset_id)[1] == 7


# ---------------------------------------------------------------- list
def test_list_pages_orders_and_keywords(api):
    dataset_id = api.create_dataset()
    for name in ["beta.txt", "alpha.txt", "gamma.md", "Alphabet.txt"]:
        api.upload(dataset_id, {name: b"x"})
    names, total = names_of(api, dataset_id)
    assert names == ["Alphabet.txt", "gamma.md", "alpha.txt", "beta.txt"] and total == 4
    names, total = names_of(api, dataset_id, order_by="name", descend="false", offset=1, count=2)
    assert names == ["Alphabet.txt", "beta.txt"] and total == 4
    names, total = names_of(api, dataset_id, keywords="ALPHA", descend="false")
    assert names == ["alpha.txt", "Alphabet.txt"] and total == 2
    names, total = names_of(api, dataset_id, keywords="alpha", count=1, offset=1, descend="false")
    assert names == ["Alphabet.txt"] and total == 2
    assert names_of(api, dataset_id, count=0) == ([], 4)
    for offset in (-1, 5):
        answer = api.call("GET", f"/dataset/{dataset_id}/documents", params={"offset": offset})
        assert answer == {"code": 100, "message": "IndexError('Offset is out of the valid range.')"}


def test_list_documents_fields(api):
    dataset_id = api.create_dataset()
    api.upload(dataset_id, {"deck.pptx": b"pk", "photo.JPG": b"jpg", "notes.txt": b"n", "paper.pdf": b"%PDF"})
    docs = {d["name"]: d for d in api.call("GET", f"/dataset/{dataset_id}/documents/")["data"]["docs"]}
    assert docs["deck.pptx"]["type"] == "doc" and docs["deck.pptx"]["parser_id"] == "presentation"
    assert docs["photo.JPG"]["type"] == "visual" and docs["photo.JPG"]["parser_id"] == "picture"
    assert docs["paper.pdf"]["type"] == "pdf" and docs["notes.txt"]["parser_id"] == "naive"
    note = docs["notes.txt"]
    for field in ["chunk_num", "create_date", "create_time", "created_by", "id", "kb_id", "location", "name",
                  "parser_config", "parser_id", "process_begin_at", "process_duation", "progress", "progress_msg",
                  "run", "size", "source_type", "status", "thumbnail", "token_num", "type", "update_date",
                  "update_time"]:  # fmt: skip
        assert field in note, field
    assert note["source_type"] == "local" and note["status"] == "1" and note["kb_id"] == dataset_id


# ---------------------------------------------------------------- update
def test_update_checks_in_the_contract_order(api):
    dataset_id = api.create_dataset()
    [doc, _other] = api.upload(dataset_id, {"doc.txt": b"1", "other.txt": b"2"})
    path = f"/dataset/{dataset_id}/documents/{doc['id']}"
    cases = [
        ({"color": "red"}, {"code": 101, "message": "color is an illegal parameter."}),
        ({}, {"code": 102, "message": "Please input at least one parameter that you want to update!"}),
        ({"name": ""}, {"code": 102, "message": "There is no new name."}),
        ({"name": "doc.pdf"}, {"code": 101, "data": False, "message": "The extension of file cannot be changed"}),
        ({"name": "OTHER.txt"}, {"code": 101, "message": "Duplicated document name in the same dataset."}),
        ({"enable": "2"}, {"code": 102, "message": "Illegal value 2 for 'enable' field."}),
        ({"template_type": "x"}, {"code": 102, "message": "Illegal value x for 'template_type' field."}),
    ]
    for body, expected in cases:
        assert api.call("PUT", path, json=body) == expected, body
    unknown_dataset = api.call("PUT", f"/dataset/{'0' * 32}/documents/{doc['id']}", json={"name": "a.txt"})
    assert unknown_dataset == {"code": 102, "message": f"This dataset {'0' * 32} cannot be found!"}
    unknown_doc = api.call("PUT", f"/dataset/{dataset_id}/documents/{'0' * 32}", json={"name": "a.txt"})
    assert unknown_doc == {"code": 101, "message": f"This document {'0' * 32} cannot be found!"}


def test_rename_disable_and_parser_keep_the_stored_file(api):
    dataset_id = api.create_dataset()
    [doc] = api.upload(dataset_id, {"old.txt": b"keep me"})
    path = f"/dataset/{dataset_id}/documents/{doc['id']}"
    answer = api.call("PUT", path, json={"name": "new.txt", "enable": "0", "template_type": "qa"})
    assert answer["code"] == 0 and answer["message"] == "Success"
    assert (answer["data"]["name"], answer["data"]["status"], answer["data"]["parser_id"]) == ("new.txt", "0", "qa")
    assert answer["data"]["location"] == "old.txt"
    assert download(api, dataset_id, doc["id"]).content == b"keep me"
    assert api.upload(dataset_id, {"old.txt": b"again"})[0]["name"] == "old.txt"  # the old name is free


# ---------------------------------------------------------------- delete and download
def test_delete_contract_lines_and_counts(api, new_api):
    first, second = api.create_dataset("one"), api.create_dataset("two")
    [doc] = api.upload(first, {"a.txt": b"a"})
    assert api.call("DELETE", f"/dataset/{second}/documents/{doc['id']}") == {
        "code": 101,
        "message": f"The document {doc['id']} is not in the dataset: {second}, but in the dataset: {first}.",
    }
    assert new_api().call("DELETE", f"/dataset/{first}/documents/{doc['id']}") == {
        "code": 102, "message": f"Document {doc['id']} not found!",
    }  # fmt: skip
    assert api.call("DELETE", f"/dataset/{first}/documents/{doc['id']}") == {
        "code": 0, "data": True, "message": "success",
    }  # fmt: skip
    assert api.call("DELETE", f"/dataset/{first}/documents/{doc['id']}")["code"] == 102
    assert api.call("GET", f"/dataset/{first}")["data"]["doc_num"] == 0
    assert download(api, first, doc["id"]).json()["code"] == 101


def test_download_contract_lines(api):
    dataset_id = api.create_dataset()
    [empty] = api.upload(dataset_id, {"empty.txt": b""})
    assert download(api, "f" * 32, empty["id"]).json() == {
        "code": 102, "message": f"This dataset '{'f' * 32}' cannot be found!",
    }  # fmt: skip
    assert download(api, dataset_id, "e" * 32).json() == {
        "code": 101, "message": f"This document '{'e' * 32}' cannot be found!",
    }  # fmt: skip
    assert download(api, dataset_id, empty["id"]).json() == {"code": 102, "message": "This file is empty."}


# ---------------------------------------------------------------- RAGFlow's own client
def test_ragflow_sdk_calls_work_unchanged(api, live, tmp_path):
    from kb_ingest.dal.api_keys import create_api_key

    key, _ = create_api_key(label="sdk")
    rag = RagflowSdkCalls(key, live.url)
    assert rag.create_dataset("sdk_kb")["code"] == 0
    assert [d["name"] for d in rag.list_dataset()["data"]] == ["sdk_kb"]
    dataset_id = rag.find_dataset_id_by_name("sdk_kb")
    assert rag.get_dataset("sdk_kb")["data"]["id"] == dataset_id
    paths = write_files(tmp_path, {"test.txt": b"test\ntest\ntest", "doc.md": b"# title\nbody"})
    uploaded = rag.upload_local_file(dataset_id, paths)
    assert uploaded["code"] == 0 and {d["name"] for d in uploaded["data"]} == {"test.txt", "doc.md"}
    listing = rag.list_files(dataset_id)
    assert listing["code"] == 0 and listing["data"]["total"] == 2
    document_id = next(d["id"] for d in listing["data"]["docs"] if d["name"] == "test.txt")
    assert rag.update_file(dataset_id, document_id, name="renamed.txt")["data"]["name"] == "renamed.txt"
    assert rag.update_file(dataset_id, document_id, enable="0")["data"]["status"] == "0"
    assert rag.download_file(dataset_id, document_id) == {"code": 0, "data": b"test\ntest\ntest"}
    assert rag.delete_files(document_id, dataset_id)["data"] is True
    assert rag.update_dataset("sdk_kb", name="sdk_kb2")["data"]["name"] == "sdk_kb2"
    assert rag.delete_dataset("sdk_kb2")["code"] == 0
