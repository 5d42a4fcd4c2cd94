"""What a deleted dataset leaves behind, through the local stack: nothing, whichever way its
files came in (multipart, presigned, drop folder), parsed or half-parsed, and whatever arrives
late (a presigned form posted after the delete, a dead parse worker's output). Also presigned
documents describing what the bucket holds: a second post of the form is a new version."""

import time

import requests

from kb_ingest.dal.models import ChunkModel, DocumentModel, NameClaimModel, PurgeJobModel
from kb_ingest.dal.names import document_name_scope
from tests.e2e.test_parsing_api import wait_for_end


def bucket_of(live):
    return live.stack.bucket_names["DocumentsBucket"]


def keys_under(live, prefixes):
    s3 = live.stack.client("s3")
    return [
        item["Key"]
        for prefix in prefixes
        for item in s3.list_objects_v2(Bucket=bucket_of(live), Prefix=prefix).get("Contents", [])
    ]


def eventually(check, timeout=60.0):
    deadline = time.time() + timeout
    while True:
        result = check()
        if result or time.time() > deadline:
            return result
        time.sleep(0.25)


def presigned(api, dataset_id, name, size):
    answer = api.call("POST", f"/dataset/{dataset_id}/documents/upload_url", json={"name": name, "size": size})
    assert answer["code"] == 0, answer
    return answer["data"]["document"], answer["data"]["upload"]


def post_form(upload, name, content):
    posted = requests.post(upload["url"], data=upload["fields"], files={"file": (name, content)}, timeout=60)
    assert posted.status_code in (200, 201, 204), posted.text[:300]


def documents_of(api, dataset_id):
    return {d["name"]: d for d in api.call("GET", f"/dataset/{dataset_id}/documents")["data"]["docs"]}


def test_deleting_a_dataset_leaves_nothing_under_its_prefixes_whatever_path_its_files_took(api, live):
    s3 = live.stack.client("s3")
    dataset_id = api.create_dataset("everything")
    tenant_id = api.call("GET", f"/dataset/{dataset_id}")["data"]["tenant_id"]
    # Multipart documents: one parsed, one being parsed when the dataset goes.
    parsed, half = api.upload(dataset_id, {"parsed.txt": b"parsed text.\n" * 50, "half.txt": b"half. " * 20000})
    api.call("POST", f"/dataset/{dataset_id}/documents/{parsed['id']}/status")
    assert wait_for_end(api, dataset_id, parsed["id"])["status"] == "DONE"
    # Presigned documents: one delivered and parsed, one whose file never came (yet).
    delivered, delivered_form = presigned(api, dataset_id, "delivered.txt", 100)
    post_form(delivered_form, "delivered.txt", b"delivered text.\n")
    assert eventually(lambda: documents_of(api, dataset_id)["delivered.txt"]["upload_status"] == "done")
    api.call("POST", f"/dataset/{dataset_id}/documents/{delivered['id']}/status")
    assert wait_for_end(api, dataset_id, delivered["id"])["status"] == "DONE"
    _, late_form = presigned(api, dataset_id, "late.txt", 100)
    # Drop-folder documents: one parsed, one rejected (unsupported type).
    s3.put_object(Bucket=bucket_of(live), Key=f"inbox/{dataset_id}/dropped.txt", Body=b"dropped text.\n")
    s3.put_object(Bucket=bucket_of(live), Key=f"inbox/{dataset_id}/bad.exe", Body=b"MZ")
    assert eventually(lambda: documents_of(api, dataset_id).get("dropped.txt", {}).get("run") == "3")
    assert eventually(lambda: keys_under(live, [f"rejected/{dataset_id}/"]))
    prefixes = [
        f"uploads/{tenant_id}/{dataset_id}/",
        f"incoming/{tenant_id}/{dataset_id}/",
        f"parsed/{tenant_id}/{dataset_id}/",
        f"inbox/{dataset_id}/",
        f"rejected/{dataset_id}/",
    ]
    # Chunks are items of ChunksTable (parsed/ holds only content too big for an item)
    assert {key.split("/")[0] for key in keys_under(live, prefixes)} == {
        "uploads", "incoming", "inbox", "rejected",
    }  # fmt: skip
    parsed_ids = [parsed["id"], delivered["id"]]
    assert all(list(ChunkModel.query(document_id, consistent_read=True)) for document_id in parsed_ids)

    # When the dataset is deleted while half.txt is being parsed
    api.call("POST", f"/dataset/{dataset_id}/documents/{half['id']}/status")
    assert api.call("DELETE", f"/dataset/{dataset_id}")["code"] == 0

    # Then the purge ends (its job goes last), with no record, claim or object left
    assert eventually(lambda: PurgeJobModel.count(dataset_id) == 0), "the purge did not finish"
    assert list(DocumentModel.query(dataset_id, consistent_read=True)) == []
    assert list(NameClaimModel.query(document_name_scope(dataset_id), consistent_read=True)) == []
    assert all(list(ChunkModel.query(document_id, consistent_read=True)) == [] for document_id in parsed_ids)
    assert eventually(lambda: keys_under(live, prefixes) == []), keys_under(live, prefixes)

    # And what arrives after the purge is reclaimed by the scheduled sweep: the form posted late,
    # and the output of a parse worker that died after writing it.
    post_form(late_form, "late.txt", b"too late")
    dead_worker = f"parsed/{tenant_id}/{dataset_id}/{half['id']}/{'f' * 32}/chunks-00000.jsonl"
    s3.put_object(Bucket=bucket_of(live), Key=dead_worker, Body=b"{}\n")
    assert sorted(key.split("/")[0] for key in keys_under(live, prefixes)) == ["incoming", "parsed"]
    for _ in range(30):  # the sweep walks the bucket a page of one prefix at a time, round and round
        live.invoke_scheduled("CleanupFunction")
        if not keys_under(live, prefixes):
            break
    assert keys_under(live, prefixes) == []


def test_a_second_post_of_the_form_is_a_new_version_and_the_document_says_so(api):
    dataset_id = api.create_dataset("versions")
    document, upload = presigned(api, dataset_id, "v.txt", 200)
    post_form(upload, "v.txt", b"a" * 42)
    assert eventually(lambda: documents_of(api, dataset_id)["v.txt"]["size"] == 42)
    assert documents_of(api, dataset_id)["v.txt"]["upload_status"] == "done"
    api.call("POST", f"/dataset/{dataset_id}/documents/{document['id']}/status")
    assert wait_for_end(api, dataset_id, document["id"])["status"] == "DONE"
    post_form(upload, "v.txt", b"b" * 92)
    assert eventually(lambda: documents_of(api, dataset_id)["v.txt"]["size"] == 92), documents_of(api, dataset_id)
    download = api.raw("GET", f"/dataset/{dataset_id}/documents/{document['id']}")
    assert download.content == b"b" * 92
    # The new version is parsed again: its chunks describe the file the bucket holds.
    assert eventually(lambda: "new version" in documents_of(api, dataset_id)["v.txt"]["progress_msg"])
    assert wait_for_end(api, dataset_id, document["id"])["status"] == "DONE"
    chunks = api.call("GET", f"/dataset/{dataset_id}/documents/{document['id']}/chunks")["data"]["chunks"]
    assert chunks and chunks[0]["content"].startswith("b")
