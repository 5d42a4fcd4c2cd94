"""Presigned uploads on the local stack: the pending document, its completion when the file
lands, the size check, and the cleanup of an upload that never arrives."""

import requests

from kb_ingest.dal.blobs import S3FileStore
from kb_ingest.dal.datasets import DynamoDatasetStore
from kb_ingest.dal.documents import DynamoDocumentStore
from kb_ingest.domain import datasets
from kb_ingest.domain.uploads import UploadLimits, complete_upload, expire_upload, request_upload

LIMITS = UploadLimits(max_bytes=10**9, url_seconds=600, grace_seconds=300)


class RecordingExpiry:
    def __init__(self):
        self.scheduled = []

    def expire_upload_later(self, tenant_id, dataset_id, document_id, delay_seconds):
        self.scheduled.append((document_id, delay_seconds))


def setup(tenant_id):
    dataset_store, store, files = DynamoDatasetStore(), DynamoDocumentStore(), S3FileStore()
    created = datasets.create_dataset(dataset_store, tenant_id, {"name": "big files"})
    return dataset_store, store, files, dataset_store.get(tenant_id, created["dataset_id"])


def test_an_upload_that_never_arrives_is_removed_after_its_url_expires(local_stack, tenant_id):
    dataset_store, store, files, dataset = setup(tenant_id)
    expiry = RecordingExpiry()
    answer = request_upload(store, files, expiry, dataset, {"name": "never.pdf", "size": 100}, LIMITS)
    document_id = answer["document"]["id"]
    assert expiry.scheduled == [(document_id, 900)]  # checked when the URL has expired, plus grace
    assert dataset_store.get(tenant_id, dataset.id).doc_num == 1
    assert expire_upload(store, files, dataset.id, document_id) == "removed"
    assert store.get(dataset.id, document_id) is None
    assert dataset_store.get(tenant_id, dataset.id).doc_num == 0
    assert expire_upload(store, files, dataset.id, document_id) == "nothing to do"  # delivered twice


def test_a_file_that_arrived_is_kept_even_if_its_event_is_late(local_stack, tenant_id):
    _, store, files, dataset = setup(tenant_id)
    answer = request_upload(store, files, RecordingExpiry(), dataset, {"name": "late.txt", "size": 5}, LIMITS)
    upload = answer["upload"]
    posted = requests.post(upload["url"], data=upload["fields"], files={"file": ("late.txt", b"hello")}, timeout=30)
    assert posted.status_code in (200, 201, 204)
    document_id = answer["document"]["id"]
    outcome = expire_upload(store, files, dataset.id, document_id)
    assert outcome in ("completed", "already complete", "nothing to do")  # the S3 event may win the race
    document = store.get(dataset.id, document_id)
    assert document.upload_status == "done" and document.size == 5


def put_file(local_stack, key, content):
    local_stack.client("s3").put_object(Bucket=local_stack.bucket_names["DocumentsBucket"], Key=key, Body=content)


def without_events(store, dataset, document_id):
    """Move the document's file to a key S3 sends no events for, so the stack's own event
    handling cannot complete the upload before the test does (the tests call it themselves)."""
    document = store.get(dataset.id, document_id)
    key = f"uploads/{document.tenant_id}/{dataset.id}/{document_id}"
    store.update(document, {"source_key": key}, None)
    return key


def test_a_file_larger_than_asked_for_is_discarded_with_a_reason(local_stack, tenant_id):
    _, store, files, dataset = setup(tenant_id)
    answer = request_upload(store, files, RecordingExpiry(), dataset, {"name": "small.txt", "size": 3}, LIMITS)
    document_id = answer["document"]["id"]
    put_file(local_stack, without_events(store, dataset, document_id), b"x" * 10_000)
    assert complete_upload(store, files, dataset.id, document_id) == "too large"
    document = store.get(dataset.id, document_id)
    assert document.run == "4" and "more than the 3 bytes" in document.progress_msg
    assert files.size_of(document.source_key) is None


def test_presigned_posts_and_download_urls_are_signed_with_sigv4(local_stack, tenant_id, monkeypatch):
    # us-east-1 is where boto3 may still fall back to SigV2, which buckets created since 2020 refuse.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    _, store, files, dataset = setup(tenant_id)
    answer = request_upload(store, files, RecordingExpiry(), dataset, {"name": "v4.txt", "size": 5}, LIMITS)
    fields = {name.lower(): value for name, value in answer["upload"]["fields"].items()}
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert {"x-amz-credential", "x-amz-date", "x-amz-signature", "policy"} <= set(fields)
    assert "awsaccesskeyid" not in fields and "signature" not in fields
    assert "/us-east-1/s3/aws4_request" in fields["x-amz-credential"]
    posted = requests.post(
        answer["upload"]["url"], data=answer["upload"]["fields"], files={"file": ("v4.txt", b"hello")}, timeout=30
    )
    assert posted.status_code in (200, 201, 204)
    url = files.download_url(f"incoming/{tenant_id}/{dataset.id}/{answer['document']['id']}", "v4.txt", 60)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "AWSAccessKeyId=" not in url


def test_an_event_ahead_of_its_object_completes_nothing(local_stack, tenant_id):
    _, store, files, dataset = setup(tenant_id)
    answer = request_upload(store, files, RecordingExpiry(), dataset, {"name": "soon.txt", "size": 50}, LIMITS)
    document_id = answer["document"]["id"]
    key = without_events(store, dataset, document_id)
    assert complete_upload(store, files, dataset.id, document_id) == "not there"
    document = store.get(dataset.id, document_id)
    assert document.upload_status == "pending" and document.size == 50
    put_file(local_stack, key, b"x" * 7)
    assert complete_upload(store, files, dataset.id, document_id) == "completed"
    assert complete_upload(store, files, dataset.id, document_id) == "already complete"  # duplicate event
    assert store.get(dataset.id, document_id).size == 7


def test_posting_the_form_again_is_a_new_version_and_parsed_documents_are_parsed_again(local_stack, tenant_id):
    _, store, files, dataset = setup(tenant_id)
    answer = request_upload(store, files, RecordingExpiry(), dataset, {"name": "v.txt", "size": 100}, LIMITS)
    document_id = answer["document"]["id"]
    key = without_events(store, dataset, document_id)
    put_file(local_stack, key, b"a" * 42)
    assert complete_upload(store, files, dataset.id, document_id) == "completed"
    document = store.get(dataset.id, document_id)
    store.update(document, {"run": "3"}, None)  # as if it had been parsed
    restarted = []
    put_file(local_stack, key, b"b" * 92)
    assert complete_upload(store, files, dataset.id, document_id, restarted.append) == "new version"
    document = store.get(dataset.id, document_id)
    assert document.size == 92 and document.source_etag == files.state(key).etag
    assert [d.id for d in restarted] == [document_id]
    put_file(local_stack, key, b"c" * 101)  # still over the form's limit on a later post
    assert complete_upload(store, files, dataset.id, document_id) == "too large"
