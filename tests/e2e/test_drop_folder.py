"""The drop folder and the scheduled reparse through the local stack: files put straight into
S3 become parsed documents; the timer heals what failed, stalled or changed."""

import json
import time
from pathlib import Path

from kb_ingest.domain.inbox import inbox_document_id

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"


def bucket_of(live):
    return next(iter(live.stack.bucket_names.values()))


def docs_of(api, dataset_id):
    return {d["location"]: d for d in api.call("GET", f"/dataset/{dataset_id}/documents")["data"]["docs"]}


def eventually(check, timeout=30.0):
    deadline = time.time() + timeout
    while True:
        result = check()
        if result or time.time() > deadline:
            return result
        time.sleep(0.25)


def test_a_file_put_in_the_inbox_becomes_a_parsed_document(api, live):
    s3 = live.stack.client("s3")
    dataset_id = api.create_dataset()
    key = f"inbox/{dataset_id}/reports/2024/memo.pdf"
    s3.put_object(Bucket=bucket_of(live), Key=key, Body=(CORPUS / "fake-memo.pdf").read_bytes())
    done = eventually(lambda: docs_of(api, dataset_id).get(key, {}).get("run") == "3")
    document = docs_of(api, dataset_id)[key]
    assert done, document
    assert document["name"] == "memo.pdf" and document["source_type"] == "s3" and document["chunk_num"] > 0
    assert document["id"] == inbox_document_id(dataset_id, key)
    downloaded = api.raw("GET", f"/dataset/{dataset_id}/documents/{document['id']}")
    assert downloaded.content == (CORPUS / "fake-memo.pdf").read_bytes()


def test_putting_the_same_key_again_reparses_the_same_document_and_deleting_it_removes_it(api, live):
    s3 = live.stack.client("s3")
    dataset_id = api.create_dataset()
    key = f"inbox/{dataset_id}/notes.txt"
    s3.put_object(Bucket=bucket_of(live), Key=key, Body=b"first version.\n")
    assert eventually(lambda: docs_of(api, dataset_id).get(key, {}).get("run") == "3")
    first = docs_of(api, dataset_id)[key]
    s3.put_object(Bucket=bucket_of(live), Key=key, Body=b"second version, longer!\nwith two lines.\n")
    assert eventually(lambda: docs_of(api, dataset_id)[key]["size"] != first["size"] and
                      docs_of(api, dataset_id)[key]["run"] == "3")  # fmt: skip
    second = docs_of(api, dataset_id)[key]
    assert second["id"] == first["id"] and len(docs_of(api, dataset_id)) == 1
    assert api.call("GET", f"/dataset/{dataset_id}")["data"]["doc_num"] == 1
    s3.delete_object(Bucket=bucket_of(live), Key=key)
    assert eventually(lambda: docs_of(api, dataset_id) == {})
    assert api.call("GET", f"/dataset/{dataset_id}")["data"]["doc_num"] == 0


def rejected(live, key):
    s3 = live.stack.client("s3")
    target = "rejected/" + key.split("/", 1)[1]
    try:
        return s3.head_object(Bucket=bucket_of(live), Key=target)["Metadata"]
    except s3.exceptions.ClientError:
        return None


def test_objects_that_cannot_become_documents_are_moved_under_rejected_with_the_reason(api, live):
    s3 = live.stack.client("s3")
    dataset_id = api.create_dataset()
    unsupported = f"inbox/{dataset_id}/program.exe"
    unknown = f"inbox/{'ab' * 16}/notes.txt"
    not_an_id = "inbox/not-a-dataset/notes.txt"
    for key in (unsupported, unknown, not_an_id):
        s3.put_object(Bucket=bucket_of(live), Key=key, Body=b"MZ data")
    assert eventually(lambda: all(rejected(live, key) for key in (unsupported, not_an_id)))
    assert "not supported" in rejected(live, unsupported)["rejected-reason"]
    assert "no dataset" in rejected(live, not_an_id)["rejected-reason"]
    # A well-formed id that matches no dataset waits out a grace period first (the id index
    # is eventually consistent), then is rejected too.
    listing = s3.list_objects_v2(Bucket=bucket_of(live), Prefix=f"inbox/{dataset_id}/")
    assert listing.get("KeyCount", 0) == 0
    assert docs_of(api, dataset_id) == {}


def deliver(live, records):
    """Hand the parse function S3 events directly, in the order given (as S3 may)."""
    sqs = live.stack.client("sqs")
    for record in records:
        sqs.send_message(QueueUrl=live.stack.queue_urls["ParseQueue"], MessageBody=json.dumps({"Records": [record]}))


def s3_record(live, key, event_name):
    return {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "eventName": event_name,
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket_of(live), "arn": "arn:aws:s3:::b"},
               "object": {"key": key.replace(" ", "+"), "size": 1, "eTag": "x"}},
    }  # fmt: skip


def test_duplicated_and_reordered_events_end_matching_the_bucket(api, live):
    s3 = live.stack.client("s3")
    dataset_id = api.create_dataset()
    kept, removed = f"inbox/{dataset_id}/kept file.txt", f"inbox/{dataset_id}/removed.txt"
    s3.put_object(Bucket=bucket_of(live), Key=kept, Body=b"kept\n")
    assert eventually(lambda: docs_of(api, dataset_id).get(kept, {}).get("run") == "3")
    # A late delete event for a key that exists, and a duplicate create: nothing changes.
    deliver(live, [s3_record(live, kept, "ObjectRemoved:Delete"), s3_record(live, kept, "ObjectCreated:Put")])
    # A create event for an object already gone, arriving after its delete event: no document.
    deliver(live, [s3_record(live, removed, "ObjectRemoved:Delete"), s3_record(live, removed, "ObjectCreated:Put")])
    time.sleep(3)
    documents = docs_of(api, dataset_id)
    assert list(documents) == [kept] and documents[kept]["run"] == "3"
    history = api.call("GET", f"/dataset/{dataset_id}/documents/{documents[kept]['id']}/history")["data"]
    assert [entry["outcome"] for entry in history["history"]] == ["DONE"]  # parsed once, not twice


def sweep_until(live, predicate, rounds=20):
    for _ in range(rounds):
        result = live.invoke_scheduled("ReparseDocumentsFunction").result
        if predicate(result):
            return result
    raise AssertionError("the sweep never re-queued what was expected")


def test_the_scheduled_reparse_heals_a_dataset_after_its_parser_settings_are_fixed(api, live):
    dataset_id = api.create_dataset()
    [doc] = api.upload(dataset_id, {"plain.txt": b"Just prose, no questions here.\n" * 20})
    # Break the parser settings: the qa parser finds no question/answer pairs in prose.
    api.call("PUT", f"/dataset/{dataset_id}", json={"chunk_method": "qa"})
    api.call("POST", f"/dataset/{dataset_id}/documents/{doc['id']}/status")
    assert eventually(lambda: docs_of(api, dataset_id)["plain.txt"]["run"] == "4")
    # Fix them: the next scheduled run notices the change and parses again.
    api.call("PUT", f"/dataset/{dataset_id}", json={"chunk_method": "naive"})
    sweep_until(live, lambda r: any(item["document_id"] == doc["id"] for item in r["requeued"]))
    assert eventually(lambda: docs_of(api, dataset_id)["plain.txt"]["run"] == "3")
    history = api.call("GET", f"/dataset/{dataset_id}/documents/{doc['id']}/history")["data"]
    assert [entry["outcome"] for entry in history["history"]] == ["DONE", "FAIL"]
    assert history["history"][1]["error_class"] == "ParseError"


def test_the_scheduled_reparse_notices_a_file_changed_behind_its_back(api, live):
    s3 = live.stack.client("s3")
    dataset_id = api.create_dataset()
    [doc] = api.upload(dataset_id, {"a.txt": b"one chunk.\n"})
    api.call("POST", f"/dataset/{dataset_id}/documents/{doc['id']}/status")
    assert eventually(lambda: docs_of(api, dataset_id)["a.txt"]["run"] == "3")
    tenant_key = next(
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket_of(live), Prefix="uploads/")["Contents"]
        if o["Key"].endswith(doc["id"])
    )  # fmt: skip
    s3.put_object(Bucket=bucket_of(live), Key=tenant_key, Body=b"first line.\nsecond line, much longer now.\n")
    sweep_until(live, lambda r: any(item["document_id"] == doc["id"] for item in r["requeued"]))
    assert eventually(lambda: docs_of(api, dataset_id)["a.txt"]["run"] == "3")
    chunks = api.call("GET", f"/dataset/{dataset_id}/documents/{doc['id']}/chunks")["data"]["chunks"]
    assert "second line" in " ".join(chunk["content"] for chunk in chunks)


def test_a_dataset_not_found_yet_is_retried_quietly_within_its_grace(live, capfd, monkeypatch):
    """An id that matches no dataset may be one created a moment ago: the message comes back
    (60 s later) as an expected answer, not a function error with a traceback (which, in AWS,
    would also trip the function's Errors alarm)."""
    import sys

    key = f"inbox/{'cd' * 16}/early.txt"
    live.stack.client("s3").put_object(Bucket=bucket_of(live), Key=key, Body=b"before its dataset")
    handler = live.runtime.handler("ParseDocumentFunction")
    module = sys.modules[handler.__module__]
    delayed: list[int] = []
    monkeypatch.setattr(module, "delay_redelivery", lambda arn, handle, seconds: delayed.append(seconds))
    record = {
        "messageId": "m-1", "receiptHandle": "r-1", "body": json.dumps({"Records": [s3_record(live, key, "ObjectCreated:Put")]}),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ParseQueue", "awsRegion": "us-east-1",
    }  # fmt: skip
    capfd.readouterr()
    invocation = live.runtime.invoke("ParseDocumentFunction", {"Records": [record]})
    logs = capfd.readouterr()
    assert invocation.ok, invocation.error
    # It comes back. (Locally the stack's poller may run the real event in the same container at
    # the same time, sharing the batch processor, which Lambda never does: its failure may be listed too.)
    assert {"itemIdentifier": "m-1"} in invocation.result["batchItemFailures"]
    assert delayed and set(delayed) == {60}  # (the stack's own poller may take the real event too)
    assert "Traceback" not in logs.out + logs.err
