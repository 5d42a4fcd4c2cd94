"""Parsing through the local stack: upload, start, poll to DONE (or FAIL with a reason), list
chunks, and check that the counts add up, for real files of every supported format."""

import json
import time
from pathlib import Path

import pytest

from kb_ingest.domain.parsing import count_tokens

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"


def wait_for_end(api, dataset_id, document_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = api.call("GET", f"/dataset/{dataset_id}/documents/{document_id}/status")
        assert status["code"] == 0, status
        if status["data"]["status"] in ("DONE", "FAIL", "CANCEL"):
            return status["data"]
        time.sleep(0.2)
    raise AssertionError(f"document {document_id} still {status['data']} after {timeout}s")


def document(api, dataset_id, document_id):
    docs = api.call("GET", f"/dataset/{dataset_id}/documents", params={"count": 1000})["data"]["docs"]
    return next(d for d in docs if d["id"] == document_id)


def all_chunks(api, dataset_id, document_id):
    chunks, offset = [], 0
    while True:
        page = api.call(
            "GET", f"/dataset/{dataset_id}/documents/{document_id}/chunks", params={"offset": offset, "count": 100}
        )
        assert page["code"] == 0, page
        chunks += page["data"]["chunks"]
        if len(page["data"]["chunks"]) < 100:
            return chunks, page["data"]["total"]
        offset += 100


PARSED = [
    ("fake-text.txt", "This is a test document"),
    ("fake-text-utf-16-le.txt", "This is a test document"),
    ("umlauts-non-utf8.md", "ä"),
    ("example-with-scripts.html", None),
    ("fake-html-cp1252.html", None),
    ("fake.docx", None),
    ("docx-tables.docx", None),
    ("fake-power-point.pptx", None),
    ("stanley-cups.xlsx", "Stanley Cups"),
    ("semicolon-delimited.csv", None),
    ("simple.json", None),
    ("simple.yaml", None),
    ("factbook.xml", None),
    ("fake-email.eml", None),
    ("fake-memo.pdf", None),
    ("korean-text-with-tables.pdf", None),
    ("copy-protected.pdf", None),
    ("codeblock.md", None),
]


@pytest.mark.parametrize(("filename", "expected_text"), PARSED)
def test_real_files_parse_to_done_with_chunks_that_add_up(api, filename, expected_text):
    dataset_id = api.create_dataset()
    [uploaded] = api.upload(dataset_id, {filename: (CORPUS / filename).read_bytes()})
    started = api.call("POST", f"/dataset/{dataset_id}/documents/{uploaded['id']}/status")
    assert started == {"code": 0, "message": ""}
    final = wait_for_end(api, dataset_id, uploaded["id"])
    parsed = document(api, dataset_id, uploaded["id"])
    assert final == {"progress": 1.0, "status": "DONE"}, parsed["progress_msg"]
    chunks, total = all_chunks(api, dataset_id, uploaded["id"])
    assert total == parsed["chunk_num"] == len(chunks) > 0
    assert parsed["token_num"] == sum(count_tokens(chunk["content"]) for chunk in chunks)
    assert all(chunk["token_count"] == count_tokens(chunk["content"]) for chunk in chunks)
    if expected_text:
        assert any(expected_text in chunk["content"] for chunk in chunks)
    text = "\n".join(chunk["content"] for chunk in chunks)
    assert "<script" not in text and "\x00" not in text
    assert parsed["process_begin_at"] and parsed["process_duation"] >= 0
    assert "Done." in parsed["progress_msg"]
    dataset = api.call("GET", f"/dataset/{dataset_id}")["data"]
    assert (dataset["chunk_num"], dataset["token_num"]) == (parsed["chunk_num"], parsed["token_num"])


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("password.pdf", "password"),
        ("password_protected.xlsx", "password"),
        ("fake.doc", ".docx"),
        ("photo.png", "OCR"),
        ("voice.mp3", "speech"),
    ],
)
def test_files_that_cannot_be_parsed_end_fail_with_the_reason(api, filename, reason):
    path = CORPUS / filename
    content = path.read_bytes() if path.exists() else b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    if filename.endswith(".mp3"):
        content = b"ID3\x03\x00" + b"\x00" * 200
    dataset_id = api.create_dataset()
    [uploaded] = api.upload(dataset_id, {filename: content})
    api.call("POST", f"/dataset/{dataset_id}/documents/{uploaded['id']}/status")
    assert wait_for_end(api, dataset_id, uploaded["id"]) == {"progress": -1.0, "status": "FAIL"}
    parsed = document(api, dataset_id, uploaded["id"])
    assert "[ERROR]" in parsed["progress_msg"] and reason in parsed["progress_msg"]
    assert parsed["chunk_num"] == 0


def test_bulk_start_parses_every_document_and_counts_add_up_on_the_dataset(api):
    dataset_id = api.create_dataset()
    files = {name: (CORPUS / name).read_bytes() for name in ["fake-text.txt", "simple.json", "codeblock.md"]}
    files["empty.txt"] = b""
    uploaded = api.upload(dataset_id, files)
    answer = api.call("POST", f"/dataset/{dataset_id}/documents/status", json={"doc_ids": None})
    assert answer == {"code": 0, "data": True, "message": "Empty data in the document: empty.txt; "}
    for doc in uploaded:
        wait_for_end(api, dataset_id, doc["id"])
    docs = api.call("GET", f"/dataset/{dataset_id}/documents")["data"]["docs"]
    assert {d["name"]: d["run"] for d in docs} == {name: "3" for name in files}
    dataset = api.call("GET", f"/dataset/{dataset_id}")["data"]
    assert dataset["chunk_num"] == sum(d["chunk_num"] for d in docs) > 0
    assert dataset["token_num"] == sum(d["token_num"] for d in docs) > 0
    # Re-parsing replaces the counts; it never adds them twice.
    ids = [d["id"] for d in docs]
    again = api.call("POST", f"/dataset/{dataset_id}/documents/status", json={"doc_ids": ids})
    assert again == {"code": 0, "data": True, "message": "Empty data in the document: empty.txt; "}
    for document_id in ids:
        wait_for_end(api, dataset_id, document_id)
    assert api.call("GET", f"/dataset/{dataset_id}")["data"]["chunk_num"] == dataset["chunk_num"]


def test_parsing_contract_errors(api):
    dataset_id = api.create_dataset()
    [doc] = api.upload(dataset_id, {"a.txt": b"hello"})
    unknown_dataset = "0" * 32
    assert api.call("POST", f"/dataset/{unknown_dataset}/documents/{doc['id']}/status") == {
        "code": 102, "message": f"This dataset '{unknown_dataset}' cannot be found!",
    }  # fmt: skip
    assert api.call("POST", f"/dataset/{dataset_id}/documents/{'1' * 32}/status") == {
        "code": 101, "message": f"This document '{'1' * 32}' cannot be found!",
    }  # fmt: skip
    assert api.call("GET", f"/dataset/{unknown_dataset}/documents/{doc['id']}/status") == {
        "code": 102, "message": f"This dataset: '{unknown_dataset}' cannot be found!",
    }  # fmt: skip
    assert api.call("GET", f"/dataset/{dataset_id}/documents/{'1' * 32}/status") == {
        "code": 102, "message": f"This document: '{'1' * 32}' is not a valid document.",
    }  # fmt: skip
    assert api.call("GET", f"/dataset/{dataset_id}/documents/{doc['id']}/status")["data"] == {
        "progress": 0.0, "status": "UNSTART",
    }  # fmt: skip
    missing = api.call("POST", f"/dataset/{dataset_id}/documents/status", json={"doc_ids": [doc["id"], "2" * 32]})
    assert missing == {"code": 101, "message": f"This document '{'2' * 32}' cannot be found!"}
    assert api.call("GET", f"/dataset/{dataset_id}/documents/{doc['id']}/status")["data"]["status"] == "UNSTART"


def test_stop_ends_a_run_as_cancel_and_a_new_start_supersedes_it(api, live):
    dataset_id = api.create_dataset()
    big = ("All work and no play makes Jack a dull boy. " * 50 + "\n").encode() * 4000  # ~9 MB of text
    answer = api.call("POST", f"/dataset/{dataset_id}/documents/upload_url", json={"name": "big.txt", "size": len(big)})
    upload = answer["data"]["upload"]
    document_id = answer["data"]["document"]["id"]
    import requests

    requests.post(upload["url"], data=upload["fields"], files={"file": ("big.txt", big)}, timeout=120)
    deadline = time.time() + 30
    while document(api, dataset_id, document_id)["upload_status"] != "done" and time.time() < deadline:
        time.sleep(0.2)
    api.call("POST", f"/dataset/{dataset_id}/documents/{document_id}/status")
    stopped = api.call("DELETE", f"/dataset/{dataset_id}/documents/{document_id}/status")
    assert stopped["code"] == 0
    assert wait_for_end(api, dataset_id, document_id)["status"] == "CANCEL"
    time.sleep(3)  # let the worker notice and give up
    cancelled = document(api, dataset_id, document_id)
    assert cancelled["run"] == "2" and cancelled["chunk_num"] == 0
    assert "Stopped by the user." in cancelled["progress_msg"]
    assert all_chunks(api, dataset_id, document_id) == ([], 0)
    # Stopping every running document of the dataset (doc_ids null) cancels a restarted run too.
    api.call("POST", f"/dataset/{dataset_id}/documents/{document_id}/status")
    stopped_all = api.call("DELETE", f"/dataset/{dataset_id}/documents/status", json={"doc_ids": None})
    assert stopped_all["code"] == 0
    assert wait_for_end(api, dataset_id, document_id)["status"] == "CANCEL"
    assert document(api, dataset_id, document_id)["run"] == "2"
    # A new start begins a fresh run that supersedes the cancelled ones.
    api.call("POST", f"/dataset/{dataset_id}/documents/{document_id}/status")
    assert wait_for_end(api, dataset_id, document_id, timeout=120)["status"] == "DONE"
    assert document(api, dataset_id, document_id)["chunk_num"] > 100


def test_every_run_that_ends_is_published_on_the_event_bus(api, live):
    events, sqs = live.stack.client("events"), live.stack.client("sqs")
    bus = next(iter(live.stack.event_bus_names.values()))
    queue_url = sqs.create_queue(QueueName="run-events-subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all-runs", EventBusName=bus, EventPattern=json.dumps({"source": ["kb-ingest"]}))
    events.put_targets(Rule="all-runs", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    dataset_id = api.create_dataset()
    [ok, bad] = api.upload(dataset_id, {"ok.txt": b"hello world", "bad.pdf": b"%PDF-1.4 broken"})
    api.call("POST", f"/dataset/{dataset_id}/documents/status", json={"doc_ids": [ok["id"], bad["id"]]})
    wait_for_end(api, dataset_id, ok["id"])
    wait_for_end(api, dataset_id, bad["id"])
    received, deadline = {}, time.time() + 20
    while len(received) < 2 and time.time() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            detail = json.loads(message["Body"])["detail"]
            if detail["dataset_id"] == dataset_id:
                received[detail["document_id"]] = detail
    assert received[ok["id"]]["status"] == "DONE" and received[ok["id"]]["chunk_num"] == 1
    assert received[bad["id"]]["status"] == "FAIL"
    assert received[ok["id"]]["tenant_id"] and received[ok["id"]]["run_id"]


def test_malformed_queue_messages_are_dropped_not_retried(live):
    sqs = live.stack.client("sqs")
    queue = live.stack.queue_urls["ParseQueue"]
    dlq = live.stack.queue_urls["ParseDeadLetterQueue"]
    for body in ("not json", '{"job": "parse", "dataset_id": 5}', "[1, 2]"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    time.sleep(8)  # long enough for three deliveries with the test's 2-second visibility timeout
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert not any(m["Body"] in ("not json", "[1, 2]") for m in dead)
