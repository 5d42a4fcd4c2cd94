"""The chunk store on the local stack: one item per chunk, RAGFlow's ids, exact counts,
generations that never mix, and the table's stream as the change feed retrieval will index."""

import time

import pytest
import xxhash

from kb_ingest.dal.blobs import S3FileStore, object_key
from kb_ingest.dal.chunks import HEAD, MAX_INLINE_CONTENT_BYTES, ChunkModel, ChunkTableWriter, DynamoChunkStore
from kb_ingest.dal.datasets import DynamoDatasetStore
from kb_ingest.dal.documents import DynamoDocumentStore
from kb_ingest.dal.purge import purge_dataset
from kb_ingest.dal.runs import DynamoRunStore
from kb_ingest.domain import chunks, datasets, documents, parse_runs
from kb_ingest.domain.documents import IncomingFile
from kb_ingest.domain.errors import DataError
from kb_ingest.domain.parse_worker import ParseJob, run_parse
from kb_ingest.domain.parsing import count_tokens
from kb_ingest.settings import get_settings

TEXT = "\n\n".join(f"Paragraph {n} says something about topic {n}. " * 12 for n in range(40)).encode()


class Nothing:
    def request_parse(self, docs):
        pass

    def request_parse_all(self, tenant_id, dataset_id):
        pass

    def run_ended(self, detail):
        pass


@pytest.fixture
def world(local_stack, tenant_id):
    dataset_store, store, runs, files = DynamoDatasetStore(), DynamoDocumentStore(), DynamoRunStore(), S3FileStore()
    created = datasets.create_dataset(dataset_store, tenant_id, {"name": "kb"})
    dataset = dataset_store.get(tenant_id, created["dataset_id"])

    class World:
        chunk_store = DynamoChunkStore()

        def upload(self, name, content):
            [doc] = documents.upload_documents(store, files, dataset, [IncomingFile(name, content)], 10**7)
            return doc["id"]

        def doc(self, document_id):
            return store.get(dataset.id, document_id)

        def counts(self, document_id):
            document, ds = self.doc(document_id), dataset_store.get(tenant_id, dataset.id)
            return (document.chunk_num, document.token_num), (ds.chunk_num, ds.token_num)

        def parse(self, document_id):
            parse_runs.start_parsing(store, runs, Nothing(), dataset, dataset.id, document_id)
            document = self.doc(document_id)
            job = ParseJob(tenant_id, dataset.id, document_id, document.run_id)
            outcome = run_parse(
                job,
                store,
                runs,
                read_file=lambda d: files.read_object(object_key(d)),
                new_sink=lambda d: ChunkTableWriter.for_run(d, job.run_id),
                events=Nothing(),
                remaining_ms=lambda: 600_000,
            )
            assert outcome.startswith("done"), outcome
            return job.run_id

        def add(self, document_id, body):
            return chunks.add_chunk(
                self.chunk_store, lambda: self.doc(document_id), self.doc(document_id), body, count_tokens
            )

    world = World()
    world.__dict__.update(dataset=dataset, store=store, runs=runs, files=files, dataset_store=dataset_store)
    return world


def test_added_chunks_get_ragflow_ids_and_exact_counts_even_when_content_repeats(world):
    document_id = world.upload("notes.txt", b"some notes")
    first = world.add(
        document_id, {"content": "chunk test", "important_keywords": ["a", "b"], "questions": [" q ", ""]}
    )
    assert first.id == xxhash.xxh64(("chunk test" + document_id).encode()).hexdigest()  # RAGFlow's scheme
    assert first.questions == ["q"]
    second = world.add(document_id, {"content": "chunk test"})
    assert second.id != first.id  # RAGFlow would overwrite the first and still count two
    tokens = count_tokens("chunk test")
    assert world.counts(document_id) == ((2, 2 * tokens), (2, 2 * tokens))
    page = world.chunk_store.page(world.doc(document_id), 0, 30)
    assert [chunk.id for chunk in page.chunks] == [first.id, second.id] and page.total == 2


def test_an_edit_costs_one_item_and_keeps_token_counts_exact(world, local_stack):
    document_id = world.upload("notes.txt", b"some notes")
    added = world.add(document_id, {"content": "short"})
    document = world.doc(document_id)
    edited = chunks.update_chunk(
        world.chunk_store,
        document,
        added.id,
        {"content": "a much longer content " * 5, "available": False},
        count_tokens,
    )
    assert edited.available is False and edited.id == added.id  # ids never change on edit (RAGFlow)
    stored = world.chunk_store.get(world.doc(document_id), added.id)
    assert stored.content == edited.content and stored.available is False
    assert world.counts(document_id)[0] == (1, count_tokens(edited.content))
    # Keyword edits without content changes write the chunk's item only: the document is untouched.
    version = world.doc(document_id).version
    chunks.update_chunk(
        world.chunk_store, world.doc(document_id), added.id, {"important_keywords": ["x"]}, count_tokens
    )
    assert world.doc(document_id).version == version
    with pytest.raises(DataError, match="Can't find this chunk nope"):
        chunks.update_chunk(world.chunk_store, world.doc(document_id), "nope", {"content": "x"}, count_tokens)


def test_delete_reports_missing_ids_after_deleting_the_rest_and_counts_stay_exact(world):
    document_id = world.upload("notes.txt", b"some notes")
    ids = [world.add(document_id, {"content": f"chunk test {n}"}).id for n in range(5)]
    with pytest.raises(DataError, match="rm_chunk deleted chunks 2, expect 3"):
        chunks.delete_chunks(world.chunk_store, world.doc(document_id), {"chunk_ids": [ids[0], "missing", ids[1]]})
    remaining = world.chunk_store.page(world.doc(document_id), 0, 30)
    assert [chunk.id for chunk in remaining.chunks] == ids[2:]
    tokens = sum(chunk.token_count for chunk in remaining.chunks)
    assert world.counts(document_id) == ((3, tokens), (3, tokens))
    outcome = chunks.delete_chunks(world.chunk_store, world.doc(document_id), {"chunk_ids": [ids[2], ids[2]]})
    assert outcome.errors == [f"Duplicate chunk ids: {ids[2]}"] and outcome.deleted == 1
    outcome = chunks.delete_chunks(world.chunk_store, world.doc(document_id), {"delete_all": True})
    assert outcome.message == "deleted 2 chunks"
    assert world.counts(document_id) == ((0, 0), (0, 0))
    assert list(ChunkModel.query(document_id)) == []


def test_deleting_many_ids_takes_one_pass_over_the_index_and_counts_exactly(world):
    document_id = world.upload("notes.txt", b"some notes")
    ids = [world.add(document_id, {"content": f"chunk test {n}"}).id for n in range(130)]
    outcome = world.chunk_store.delete(world.doc(document_id), [*ids[:120], "missing"])
    assert (outcome.count, outcome.missing) == (120, ["missing"])  # two transactions (98 + 22)
    left = world.chunk_store.page(world.doc(document_id), 0, 100)
    assert [chunk.id for chunk in left.chunks] == ids[120:]
    tokens = sum(chunk.token_count for chunk in left.chunks)
    assert world.counts(document_id) == ((10, tokens), (10, tokens))


def test_content_over_the_item_limit_is_kept_in_s3_and_read_back(world):
    document_id = world.upload("notes.txt", b"some notes")
    big = "word " * (MAX_INLINE_CONTENT_BYTES // 4)
    added = world.add(document_id, {"content": big})
    [item] = [item for item in ChunkModel.query(document_id) if item.chunk_key != HEAD]
    assert item.content is None and item.content_key
    assert world.chunk_store.get(world.doc(document_id), added.id).content == big


def test_a_reparse_replaces_the_chunks_and_never_shows_two_runs(world, tenant_id):
    document_id = world.upload("topics.txt", TEXT)
    first_run = world.parse(document_id)
    parsed = world.chunk_store.page(world.doc(document_id), 0, 1000)
    assert parsed.total == world.doc(document_id).chunk_num > 1
    world.add(document_id, {"content": "a hand-written chunk"})
    assert world.doc(document_id).chunk_num == parsed.total + 1
    # Starting a re-parse takes every chunk away at once, counts included, as RAGFlow does.
    parse_runs.start_parsing(world.store, world.runs, Nothing(), world.dataset, world.dataset.id, document_id)
    assert world.chunk_store.page(world.doc(document_id), 0, 1000).chunks == []
    assert world.counts(document_id) == ((0, 0), (0, 0))
    second_run = world.parse(document_id)
    generations = {item.generation for item in ChunkModel.query(document_id) if item.chunk_key != HEAD}
    assert generations == {second_run} and second_run != first_run
    document = world.doc(document_id)
    assert ChunkModel.get(document_id, HEAD).generation == second_run == document.chunks_run_id
    tokens = sum(chunk.token_count for chunk in world.chunk_store.page(document, 0, 1000).chunks)
    assert world.counts(document_id) == ((parsed.total, tokens), (parsed.total, tokens))


def test_a_superseded_runs_late_writes_are_never_visible_and_are_cleaned(world):
    document_id = world.upload("topics.txt", TEXT)
    world.parse(document_id)
    document = world.doc(document_id)
    # A worker of an older run that has not noticed yet writes one more batch.
    late = ChunkTableWriter(document, "stale-run")
    late.add(
        chunks.StoredChunk(id="late", document_id=document_id, dataset_id=world.dataset.id, content="x", position=0)
    )
    late.close({})
    assert "late" not in {chunk.id for chunk in world.chunk_store.page(document, 0, 1000).chunks}
    world.parse(document_id)  # the next run deletes what is not its own
    assert "stale-run" not in {item.generation for item in ChunkModel.query(document_id)}


def test_editing_while_a_run_is_on_is_refused(world):
    document_id = world.upload("topics.txt", TEXT)
    parse_runs.start_parsing(world.store, world.runs, Nothing(), world.dataset, world.dataset.id, document_id)
    with pytest.raises(DataError, match="is being parsed"):
        world.add(document_id, {"content": "x"})


def test_deleting_a_document_or_purging_its_dataset_removes_every_chunk(world, tenant_id):
    kept = world.upload("a.txt", b"alpha")
    gone = world.upload("b.txt", b"beta")
    world.add(kept, {"content": "one"})
    world.add(gone, {"content": "two"})
    documents.delete_document(world.store, world.files, tenant_id, world.dataset.id, gone)
    assert list(ChunkModel.query(gone)) == []
    assert len(list(ChunkModel.query(kept))) == 2  # the chunk and the head
    assert purge_dataset(tenant_id, world.dataset.id, lambda: 600_000)
    assert list(ChunkModel.query(kept)) == []


def _stream_records(local_stack):
    streams = local_stack.client("dynamodbstreams")
    table = local_stack.client("dynamodb").describe_table(TableName=get_settings().chunks_table)["Table"]
    arn = table["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(answer["Records"])
            if not answer["Records"]:
                break
            iterator = answer.get("NextShardIterator")
    return records


def _of(records, document_id):
    return [
        (record["eventName"], (record["dynamodb"].get("NewImage") or record["dynamodb"]["OldImage"]))
        for record in records
        if record["dynamodb"]["Keys"]["document_id"]["S"] == document_id
    ]


def test_the_stream_records_every_change_retrieval_must_index(world, local_stack):
    document_id = world.upload("notes.txt", b"some notes")
    added = world.add(document_id, {"content": "first"})
    chunks.update_chunk(world.chunk_store, world.doc(document_id), added.id, {"available": False}, count_tokens)
    other = world.add(document_id, {"content": "second"})
    chunks.delete_chunks(world.chunk_store, world.doc(document_id), {"chunk_ids": [other.id]})
    run_id = world.parse(document_id)  # a re-parse: old generation retired, the run's published
    time.sleep(0.1)
    events = _of(_stream_records(local_stack), document_id)
    kinds = [(name, image["chunk_key"]["S"] == HEAD) for name, image in events]
    # add: chunk + head (a generation appears); edit: MODIFY; add; delete: REMOVE
    assert kinds[:5] == [("INSERT", False), ("INSERT", True), ("MODIFY", False), ("INSERT", False), ("REMOVE", False)]
    edited = events[2][1]
    assert edited["available"] == {"BOOL": False} and edited["chunk_id"]["S"] == added.id
    assert "available" not in events[0][1]  # absent means available
    assert all(image["dataset_id"]["S"] == world.dataset.id for _, image in events)
    # the re-parse: the head goes at start, the old chunk goes, the run's chunks arrive, a new head publishes them
    tail = events[5:]
    assert (tail[0][0], tail[0][1]["chunk_key"]["S"] == HEAD) == ("REMOVE", True)
    published = [image for name, image in tail if name == "INSERT" and image["chunk_key"]["S"] == HEAD]
    assert [image["generation"]["S"] for image in published] == [run_id]
    removed = [image["chunk_id"]["S"] for name, image in tail if name == "REMOVE" and "chunk_id" in image]
    assert added.id in removed


def test_disabling_a_document_is_one_head_change_on_the_feed(world, local_stack):
    document_id = world.upload("notes.txt", b"some notes")
    world.add(document_id, {"content": "first"})
    assert ChunkModel.get(document_id, HEAD).available is True
    world.store.update(world.doc(document_id), {"status": "0"}, None)
    assert ChunkModel.get(document_id, HEAD).available is False
    [(name, image)] = _of(_stream_records(local_stack), document_id)[-1:]
    assert (name, image["chunk_key"]["S"], image["available"]) == ("MODIFY", HEAD, {"BOOL": False})
