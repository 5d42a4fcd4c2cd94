"""Parse runs on the local stack's DynamoDB and S3, driven in-process: the worker pipeline,
conditional writes, stop, restart, duplicate delivery and retries."""

from pathlib import Path

import pytest

from kb_ingest.dal.blobs import S3FileStore, object_key
from kb_ingest.dal.chunks import ChunkModel, ChunkTableWriter, DynamoChunkStore
from kb_ingest.dal.datasets import DynamoDatasetStore
from kb_ingest.dal.documents import DynamoDocumentStore
from kb_ingest.dal.runs import DynamoRunStore
from kb_ingest.domain import datasets, documents, parse_runs
from kb_ingest.domain.documents import IncomingFile
from kb_ingest.domain.parse_worker import ParseJob, run_parse
from kb_ingest.domain.parsing import count_tokens

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
TEXT = ("The quick brown fox jumps over the lazy dog. " * 40 + "\n") * 30


class RecordingRequests:
    def __init__(self):
        self.parsed = []
        self.all = []

    def request_parse(self, docs):
        self.parsed.extend(docs)

    def request_parse_all(self, tenant_id, dataset_id):
        self.all.append(dataset_id)


class RecordingEvents:
    def __init__(self):
        self.events = []

    def run_ended(self, detail):
        self.events.append(detail)


@pytest.fixture
def world(local_stack, tenant_id):
    dataset_store, store, runs, files = DynamoDatasetStore(), DynamoDocumentStore(), DynamoRunStore(), S3FileStore()
    created = datasets.create_dataset(dataset_store, tenant_id, {"name": "kb"})
    dataset = dataset_store.get(tenant_id, created["dataset_id"])

    class World:
        pass

    world = World()
    world.__dict__.update(
        dataset_store=dataset_store, store=store, runs=runs, files=files, dataset=dataset,
        requests=RecordingRequests(), events=RecordingEvents(),
    )  # fmt: skip

    def upload(name, content):
        [doc] = documents.upload_documents(store, files, dataset, [IncomingFile(name, content)], 10**7)
        return doc["id"]

    def job_for(document_id, attempt=1):
        document = store.get(dataset.id, document_id)
        return ParseJob(tenant_id, dataset.id, document_id, document.run_id, attempt=attempt, max_attempts=3)

    def work(job, **overrides):
        arguments = dict(
            read_file=lambda d: files.read_object(object_key(d)),
            new_sink=lambda d: ChunkTableWriter.for_run(d, job.run_id),
            events=world.events,
            remaining_ms=lambda: 600_000,
        )
        arguments.update(overrides)
        return run_parse(job, store, runs, **arguments)

    world.upload, world.job_for, world.work = upload, job_for, work
    return world


def start(world, document_id):
    return parse_runs.start_parsing(
        world.store, world.runs, world.requests, world.dataset, world.dataset.id, document_id
    )


def test_a_run_parses_stores_chunks_and_counts_them_on_the_dataset(world, tenant_id):
    document_id = world.upload("fox.txt", TEXT.encode())
    assert start(world, document_id) == ""
    assert parse_runs.parsing_status(world.store, world.dataset, world.dataset.id, document_id) == {
        "progress": 0.0, "status": "RUNNING",
    }  # fmt: skip
    outcome = world.work(world.job_for(document_id))
    assert outcome.startswith("done")
    document = world.store.get(world.dataset.id, document_id)
    assert document.run == "3" and document.progress == 1.0 and document.chunk_num > 1
    page = DynamoChunkStore().page(document, 0, 10_000)
    chunks = page.chunks
    assert len(chunks) == document.chunk_num == page.total
    assert document.token_num == sum(count_tokens(chunk.content) for chunk in chunks)
    assert all(chunk.token_count <= 128 for chunk in chunks)
    assert [chunk.position for chunk in chunks] == list(range(len(chunks)))  # document order
    assert len({chunk.id for chunk in chunks}) == len(chunks)
    dataset = world.dataset_store.get(tenant_id, world.dataset.id)
    assert (dataset.chunk_num, dataset.token_num) == (document.chunk_num, document.token_num)
    assert "Fetched the file" in document.progress_msg and "Task done." in document.progress_msg
    assert world.events.events[-1]["status"] == "DONE"


def test_reparse_replaces_counts_instead_of_adding(world, tenant_id):
    document_id = world.upload("fox.txt", TEXT.encode())
    start(world, document_id)
    world.work(world.job_for(document_id))
    first = world.store.get(world.dataset.id, document_id)
    start(world, document_id)
    world.work(world.job_for(document_id))
    dataset = world.dataset_store.get(tenant_id, world.dataset.id)
    assert (dataset.chunk_num, dataset.token_num) == (first.chunk_num, first.token_num)


def test_a_duplicate_or_superseded_message_does_nothing(world):
    document_id = world.upload("fox.txt", TEXT.encode())
    start(world, document_id)
    old_job = world.job_for(document_id)
    start(world, document_id)  # restart: a new run supersedes the first
    assert world.work(old_job).startswith("skipped")
    new_job = world.job_for(document_id)
    assert world.work(new_job).startswith("done")
    assert world.work(new_job).startswith("skipped")  # delivered twice


def test_stop_while_running_ends_cancel_and_writes_no_chunks(world, tenant_id):
    document_id = world.upload("fox.txt", TEXT.encode())
    start(world, document_id)
    job = world.job_for(document_id)

    def read_then_stop(document):
        message = parse_runs.stop_parsing(
            world.store, world.runs, world.events, world.dataset, world.dataset.id, document_id
        )
        assert message == ""
        return world.files.read_object(object_key(document))

    assert world.work(job, read_file=read_then_stop).startswith("stopped")
    document = world.store.get(world.dataset.id, document_id)
    assert document.run == "2" and document.chunk_num == 0 and document.chunks_run_id is None
    assert "Stopped by the user." in document.progress_msg
    assert list(ChunkModel.query(document_id)) == []  # the run's partial output is gone
    assert world.events.events[-1]["status"] == "CANCEL"


def test_a_corrupt_file_fails_with_the_reason(world):
    document_id = world.upload("broken.pdf", b"%PDF-1.7\n this is not really a pdf")
    start(world, document_id)
    assert world.work(world.job_for(document_id)).startswith("failed")
    document = world.store.get(world.dataset.id, document_id)
    assert document.run == "4" and document.progress == -1
    assert "[ERROR]" in document.progress_msg


def test_a_damaged_image_fails_saying_so(world):
    document_id = world.upload("scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    start(world, document_id)
    world.work(world.job_for(document_id))
    document = world.store.get(world.dataset.id, document_id)
    assert document.run == "4" and "image is damaged" in document.progress_msg


def test_a_scanned_pdf_ends_done_with_its_ocr_text(world, tenant_id):
    document_id = world.upload("single_table.pdf", (CORPUS / "single_table.pdf").read_bytes())
    start(world, document_id)
    world.work(world.job_for(document_id))
    document = world.store.get(world.dataset.id, document_id)
    assert document.run == "3", document.progress_msg
    text = " ".join(chunk.content for chunk in DynamoChunkStore().page(document, 0, 10_000).chunks)
    assert "Chipper" in text and "64,058" in text


def test_a_crash_is_retried_then_fails_on_the_last_attempt(world):
    document_id = world.upload("fox.txt", TEXT.encode())
    start(world, document_id)

    def crash(_document):
        raise ConnectionError("storage went away")

    with pytest.raises(ConnectionError):
        world.work(world.job_for(document_id, attempt=1), read_file=crash)
    document = world.store.get(world.dataset.id, document_id)
    assert document.run == "1" and "Attempt 1 failed" in document.progress_msg
    with pytest.raises(ConnectionError):
        world.work(world.job_for(document_id, attempt=3), read_file=crash)
    document = world.store.get(world.dataset.id, document_id)
    assert document.run == "4" and "failed 3 times" in document.progress_msg


def test_an_empty_file_answers_the_contract_message(world):
    document_id = world.upload("empty.txt", b"")
    assert start(world, document_id) == "Empty data in the document: empty.txt; "
    assert world.requests.parsed == []
    assert world.store.get(world.dataset.id, document_id).run == "3"


def test_a_page_of_starts_is_queued_as_it_goes_each_message_naming_a_started_run(world):
    ids = [world.upload(f"note-{i:02d}.txt", f"Note number {i}.".encode()) for i in range(23)]
    sends = []

    class Sending(RecordingRequests):
        def request_parse(self, docs):
            # When a group is queued, its runs are already started (the worker could take them now).
            sends.append([(d.id, world.store.get(world.dataset.id, d.id).run_id == d.run_id) for d in docs])

    pages = [world.store.get(world.dataset.id, document_id) for document_id in ids]
    parse_runs.start_runs(world.runs, Sending(), world.dataset, pages)

    assert [len(group) for group in sends] == [10, 10, 3]  # parsing begins before the page ends
    assert sorted(document_id for group in sends for document_id, _ in group) == sorted(ids)
    assert all(started for group in sends for _, started in group)
