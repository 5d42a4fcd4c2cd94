"""A dataset's LanceDB index on the local stack's S3 (moto): what it answers after each kind of
write, that every write is safe to repeat, and that it lives (and goes) under its own prefix."""

import numpy as np
import pytest

from kb_ingest.clock import new_id
from kb_ingest.dal.clients import client
from kb_ingest.search.embedders import WordLlamaEmbedder
from kb_ingest.search.index import DatasetIndex, IndexedChunk, IndexEmbedderMismatch, dataset_prefix
from kb_ingest.settings import get_settings

FACTS = {
    "lambda": "AWS Lambda bills compute by the millisecond and scales each function to zero when idle.",
    "dynamo": "DynamoDB stores items in partitions chosen by the hash of the partition key.",
    "s3": "Amazon S3 keeps objects in buckets; a presigned URL lets a client upload without credentials.",
    "sqs": "An SQS FIFO queue delivers messages of one message group in order, one at a time.",
    "cats": "Cats sleep for most of the day and hunt at dawn and dusk.",
}


@pytest.fixture(scope="module")
def embedder():
    return WordLlamaEmbedder()


@pytest.fixture
def index(local_stack, tenant_id, embedder):
    return DatasetIndex.open(tenant_id, new_id(), embedder)


def chunk(index, chunk_id, document_id, content, **fields):
    return IndexedChunk(
        chunk_id, document_id, index.dataset_id, index.tenant_id, f"{document_id}.txt", content, **fields
    )


def facts(index, document_id="doc-aws"):
    return [chunk(index, name, document_id, text) for name, text in FACTS.items()]


def ids(hits):
    return [hit.chunk_id for hit in hits]


def best(index, question, **kwargs):
    hits = index.search(question, document_ids=kwargs.get("document_ids"), candidates=kwargs.get("candidates", 10))
    return max(hits, key=lambda hit: 0.7 * hit.term_similarity + 0.3 * hit.vector_similarity).chunk_id if hits else None


def test_an_empty_dataset_answers_nothing_and_creates_nothing(index):
    assert index.count() == 0
    assert index.search("anything", document_ids=None, candidates=10) == []
    assert index.delete_documents(["doc"]) == 0 and index.set_available(["c"], False) == 0
    listed = client("s3").list_objects_v2(Bucket=get_settings().documents_bucket, Prefix="index/" + index.tenant_id)
    assert listed.get("KeyCount", 0) == 0


def test_upserted_chunks_are_found_by_keywords_and_by_meaning_and_repeating_changes_nothing(index):
    assert index.upsert(facts(index)) == 5
    assert index.upsert(facts(index)) == 5  # a redelivered batch
    assert index.count() == 5
    hits = index.search("How is Lambda compute billed?", document_ids=None, candidates=10)
    assert len(set(ids(hits))) == len(hits)
    top = max(hits, key=lambda hit: hit.term_similarity)
    assert top.chunk_id == "lambda" and top.term_similarity == 1.0
    assert all(0.0 <= hit.term_similarity <= 1.0 and 0.0 <= hit.vector_similarity <= 1.0 for hit in hits)
    # a question sharing no word with the chunk still finds it by meaning
    by_meaning = index.search("kitten naps", document_ids=None, candidates=10)
    assert max(by_meaning, key=lambda hit: hit.vector_similarity).chunk_id == "cats"


def test_chunks_written_after_the_keyword_index_was_built_are_searchable_at_once(index):
    index.upsert(facts(index))
    index.upsert([chunk(index, "late", "doc-late", "Zebras gallop across the Serengeti grasslands.")])
    hits = index.search("serengeti zebras", document_ids=None, candidates=3)
    assert max(hits, key=lambda hit: hit.term_similarity).chunk_id == "late"
    index.compact()  # folds the new rows into the index: the answer stays the same
    assert best(index, "serengeti zebras") == "late" and index.count() == 6


def test_many_small_writes_ask_for_a_compaction_that_merges_them_and_keeps_every_answer(index):
    from kb_ingest.search.index import COMPACT_AT_SMALL_FRAGMENTS

    index.upsert(facts(index))
    assert not index.needs_compaction()
    for n in range(COMPACT_AT_SMALL_FRAGMENTS):  # one chunk added or edited at a time, as users do
        index.upsert([chunk(index, f"note-{n}", "doc-notes", f"Note {n}: the zebra count on day {n}.")])
    assert index.needs_compaction()
    before = index._table.stats()["fragment_stats"]["num_fragments"]
    index.compact()
    assert index._table.stats()["fragment_stats"]["num_fragments"] < before
    assert not index.needs_compaction()
    assert index.count() == 5 + COMPACT_AT_SMALL_FRAGMENTS
    assert best(index, "zebra count on day 7") == "note-7" and best(index, "How is Lambda compute billed?") == "lambda"


def test_an_edited_chunk_is_found_by_its_new_words_only(index):
    index.upsert(facts(index))
    index.upsert([chunk(index, "cats", "doc-aws", "Penguins waddle across Antarctic ice.")])
    assert index.count() == 5
    assert best(index, "penguins antarctic") == "cats"
    assert "cats" not in [
        h.chunk_id for h in index.search("dawn dusk hunt", document_ids=None, candidates=10) if h.term_similarity > 0
    ]


def test_disabled_chunks_are_never_returned_until_enabled_again(index):
    index.upsert(facts(index))
    assert index.set_available(["lambda", "missing"], False) == 1
    assert index.set_available(["lambda"], False) == 1  # repeating is harmless
    assert "lambda" not in ids(index.search("Lambda billed millisecond", document_ids=None, candidates=50))
    assert index.count() == 5
    index.set_available(["lambda"], True)
    assert best(index, "Lambda billed millisecond") == "lambda"


def test_a_reparse_replaces_the_documents_chunks_and_leaves_other_documents_alone(index):
    index.upsert([*facts(index, "doc-a"), chunk(index, "other", "doc-b", "Other document about presigned URLs.")])
    new = [
        chunk(index, "lambda", "doc-a", "Lambda now bills per millisecond."),
        chunk(index, "fresh", "doc-a", "Fresh text."),
    ]
    assert index.replace_document("doc-a", new) == 2
    assert index.replace_document("doc-a", new) == 2  # redelivered
    assert index.count() == 3
    found = ids(index.search("presigned URL buckets", document_ids=None, candidates=50))
    assert "s3" not in found and "other" in found
    with pytest.raises(ValueError, match="a chunk of doc-a names another document"):
        index.replace_document("doc-a", [chunk(index, "x", "doc-b", "wrong document")])
    assert index.replace_document("doc-a", []) == 0 and index.count() == 1


def test_a_batch_of_reparses_replaces_each_documents_chunks_in_one_commit(index):
    index.upsert([*facts(index, "doc-a"), chunk(index, "b1", "doc-b", "B one"), chunk(index, "c1", "doc-c", "C one")])
    versions_before = len(index._table.list_versions())
    batch = {
        "doc-a": [chunk(index, "lambda", "doc-a", "Lambda now bills per millisecond.")],
        "doc-b": [],  # re-parsed to nothing: its chunks go
        "doc-d": [chunk(index, "d1", "doc-d", "A new document about presigned URLs.")],
    }

    assert index.replace_documents(batch) == 2
    assert index.replace_documents(batch) == 2  # redelivered

    assert len(index._table.list_versions()) - versions_before == 2  # one commit per delivery
    rows = index._table.to_arrow().select(["chunk_id", "document_id"]).to_pylist()
    assert sorted((row["document_id"], row["chunk_id"]) for row in rows) == [
        ("doc-a", "lambda"),
        ("doc-c", "c1"),  # not in the batch: untouched
        ("doc-d", "d1"),
    ]
    assert best(index, "presigned URL") == "d1"


def test_deleting_chunks_and_documents_counts_what_went_and_is_safe_to_repeat(index):
    index.upsert([*facts(index, "doc-a"), chunk(index, "b1", "doc-b", "B one"), chunk(index, "b2", "doc-b", "B two")])
    assert index.delete_chunks(["lambda", "dynamo", "nope"]) == 2
    assert index.delete_chunks(["lambda", "dynamo"]) == 0
    assert index.delete_documents(["doc-b"]) == 2
    assert index.delete_documents(["doc-b"]) == 0
    assert index.count() == 3
    assert not {"lambda", "dynamo", "b1", "b2"} & set(
        ids(index.search("B one Lambda DynamoDB", document_ids=None, candidates=50))
    )


def test_a_search_can_be_limited_to_some_documents(index):
    index.upsert([*facts(index, "doc-a"), chunk(index, "b-cats", "doc-b", "Cats in document B sleep all day.")])
    hits = index.search("cats sleep", document_ids=["doc-b"], candidates=50)
    assert ids(hits) == ["b-cats"]
    assert index.search("cats sleep", document_ids=[], candidates=50) == []


def test_hits_carry_the_chunk_as_written(index):
    positions = [[1, 10, 200, 30, 60], [2, 10, 200, 0, 20]]
    written = chunk(
        index, "rich", "doc-r", "Quarterly revenue grew nine percent.", important_keywords=("revenue", "growth"),
        questions=("How much did revenue grow?",), positions=positions, generation="run-7", image_id="img-1",
    )  # fmt: skip
    index.upsert([written])
    [hit] = index.search("revenue growth", document_ids=None, candidates=5)
    assert (hit.content, hit.important_keywords, hit.questions, hit.positions) == (
        written.content, ("revenue", "growth"), ("How much did revenue grow?",), positions,
    )  # fmt: skip
    assert (hit.generation, hit.image_id, hit.document_name, hit.dataset_id, hit.tenant_id) == (
        "run-7", "img-1", "doc-r.txt", index.dataset_id, index.tenant_id,
    )  # fmt: skip
    # a question that is only punctuation, quotes or query syntax is plain text, never an error
    for question in ['"revenue', "revenue:growth)", "((", "the of and", "收入增长"]:
        index.search(question, document_ids=None, candidates=5)


def test_a_datasets_index_lives_under_its_own_prefix_and_goes_with_drop(index, embedder):
    index.upsert(facts(index))
    bucket = get_settings().documents_bucket
    prefix = dataset_prefix(index.tenant_id, index.dataset_id)
    assert prefix == f"index/{index.tenant_id}/{index.dataset_id}/"
    assert client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] > 0
    # another tenant with the same dataset id sees none of it
    assert DatasetIndex.open(new_id(), index.dataset_id, embedder).count() == 0
    DatasetIndex.drop(index.tenant_id, index.dataset_id)
    DatasetIndex.drop(index.tenant_id, index.dataset_id)  # repeating is harmless
    assert client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] == 0
    assert DatasetIndex.open(index.tenant_id, index.dataset_id, embedder).count() == 0


class OtherEmbedder:
    name = "other/embedder-8"
    dimensions = 8

    def embed_documents(self, texts):
        return np.ones((len(texts), 8), dtype=np.float32) / np.sqrt(8)

    def embed_query(self, text):
        return np.ones(8, dtype=np.float32) / np.sqrt(8)


def test_an_index_built_by_another_embedder_is_refused_clearly(index):
    index.upsert(facts(index))
    with pytest.raises(IndexEmbedderMismatch, match="wordllama"):
        DatasetIndex.open(index.tenant_id, index.dataset_id, OtherEmbedder())
