"""Every chunk change reaches the search index, through the local stack as in AWS: ChunksTable's
stream -> RouteChunkChangesFunction -> IndexQueue (FIFO) -> IndexChunksFunction -> the index.

Each case polls what the index holds (the dataset's LanceDB table), with a deadline, until it
matches the chunk store, and asks retrieval (POST /api/v1/retrieval) what a user would see. Where
the search engine (kb_ingest.search) is not installed, tests/fakes/search_index.py stands in for
it behind the same interface, keeping its rows under the dataset's index prefix in the bucket,
and only the index is looked at."""

import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from ragflow_sdk import RAGFlow

from tests.fakes import search_index

# How long a change may take to reach the index here. Alone it takes a few seconds; in the full
# suite on 2 cores the in-process index function shares one interpreter with the other worker's
# tests and waits behind other datasets' batches (30 s was once not enough at 95% of a full run).
DEADLINE_SECONDS = 90
# The whole stack idle (every queue and stream drained): on a loaded machine the index function may
# still be embedding what earlier tests of this worker parsed.
IDLE_SECONDS = 180
TEXT = "\n\n".join(f"Paragraph {n} talks about serverless retrieval number {n}." for n in range(6))


FAKE_ENGINE = False


@pytest.fixture(scope="module", autouse=True)
def engine(live):
    global FAKE_ENGINE
    FAKE_ENGINE = search_index.install()
    yield
    if FAKE_ENGINE:
        search_index.uninstall()


@pytest.fixture
def key(live):
    from kb_ingest.dal.api_keys import create_api_key

    key, info = create_api_key(label="search")
    return key, info.tenant_id


@pytest.fixture
def rag(live, key):
    return RAGFlow(api_key=key[0], base_url=live.url)


def eventually(check: Callable[[], Any], what: str, timeout: float = DEADLINE_SECONDS) -> Any:
    """Poll until `check()` is truthy; fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g} s: {what} (last: {value!r})")
        time.sleep(0.2)


def indexed(tenant_id: str, dataset_id: str) -> dict[str, Any]:
    """What the dataset's index holds now: chunk id -> its row."""
    if FAKE_ENGINE:
        return search_index.rows(tenant_id, dataset_id)
    from kb_ingest.search.index import _open_table

    table = _open_table(tenant_id, dataset_id)
    if table is None:
        return {}
    found = {}
    for row in table.to_arrow().to_pylist():
        row["important_keywords"] = tuple(row.get("important_keywords") or ())
        found[row["chunk_id"]] = SimpleNamespace(**row)
    return found


def retrieved(live, api_key: str, dataset_id: str, question: str) -> list[str] | None:
    """The chunk ids retrieval answers for a question (None with the stand-in engine)."""
    if FAKE_ENGINE:
        return None
    answer = requests.post(
        f"{live.url}/api/v1/retrieval", json={"question": question, "dataset_ids": [dataset_id],
                                              "similarity_threshold": 0.0},
        headers={"Authorization": f"Bearer {api_key}"}, timeout=60,
    ).json()  # fmt: skip
    assert answer["code"] == 0, answer
    return [chunk["id"] for chunk in answer["data"]["chunks"]]


def stored_ids(document) -> set[str]:
    return {chunk.id for chunk in document.list_chunks(page_size=100)}


def search_lag(live, api_key: str, dataset_id: str) -> int:
    answer = requests.get(
        f"{live.url}/api/v1/datasets", params={"id": dataset_id},
        headers={"Authorization": f"Bearer {api_key}"}, timeout=30,
    ).json()  # fmt: skip
    return answer["data"][0]["search_lag"]


def dify_records(live, api_key: str, dataset_id: str, query: str) -> list[dict[str, Any]] | None:
    """Dify's external knowledge API over the dataset (None with the stand-in engine)."""
    if FAKE_ENGINE:
        return None
    answer = requests.post(
        f"{live.url}/api/v1/dify/retrieval",
        json={"knowledge_id": dataset_id, "query": query, "retrieval_setting": {"top_k": 3, "score_threshold": 0}},
        headers={"Authorization": f"Bearer {api_key}"}, timeout=60,
    ).json()  # fmt: skip
    assert "records" in answer, answer
    return answer["records"]


def _parsed(rag, name="search", text=TEXT):
    dataset = rag.create_dataset(name=name)
    [document] = dataset.upload_documents([{"display_name": "notes.txt", "blob": text.encode()}])
    [(_, run, chunk_count, _)] = dataset.parse_documents([document.id])
    assert run == "DONE" and chunk_count >= 1
    return dataset, document


def test_chunks_added_edited_disabled_and_deleted_reach_the_index(live, rag, key):
    api_key, tenant = key
    dataset, document = _parsed(rag)
    parsed = stored_ids(document)
    eventually(lambda: set(indexed(tenant, dataset.id)) == parsed, "the parsed chunks indexed")

    added = document.add_chunk(content="A hand-written chunk about DynamoDB streams.", important_keywords=["ddb"])
    row = eventually(lambda: indexed(tenant, dataset.id).get(added.id), "the added chunk indexed")
    assert (row.document_id, row.document_name, row.important_keywords) == (document.id, "notes.txt", ("ddb",))
    hits = retrieved(live, api_key, dataset.id, "hand-written chunk about DynamoDB streams")
    assert hits is None or hits[:1] == [added.id]  # the chunk that answers comes first
    records = dify_records(live, api_key, dataset.id, "hand-written chunk about DynamoDB streams")
    assert records is None or records[0]["content"] == added.content  # a Dify workspace sees it too

    added.update({"content": "An edited chunk about FIFO queues."})
    eventually(lambda: "FIFO" in getattr(indexed(tenant, dataset.id).get(added.id), "content", ""), "the edit indexed")

    added.update({"available": False})
    eventually(lambda: indexed(tenant, dataset.id)[added.id].available is False, "the chunk disabled in the index")
    assert indexed(tenant, dataset.id)[added.id].content == "An edited chunk about FIFO queues."
    added.update({"available": True})
    eventually(lambda: indexed(tenant, dataset.id)[added.id].available is True, "the chunk enabled again")

    document.delete_chunks(ids=[added.id])
    eventually(lambda: added.id not in indexed(tenant, dataset.id), "the deleted chunk gone from the index")
    assert set(indexed(tenant, dataset.id)) == parsed
    assert added.id not in (retrieved(live, api_key, dataset.id, "FIFO queues") or [])
    eventually(lambda: search_lag(live, api_key, dataset.id) == 0, "search_lag back to 0")


def test_a_reparse_replaces_a_documents_chunks_and_a_deleted_document_leaves_nothing(live, rag, key):
    _, tenant = key
    dataset, document = _parsed(rag)
    extra = document.add_chunk(content="an extra chunk that goes with the old run")
    eventually(lambda: extra.id in indexed(tenant, dataset.id), "the extra chunk indexed")
    dataset.parse_documents([document.id])
    parsed = stored_ids(document)
    assert extra.id not in parsed
    eventually(lambda: set(indexed(tenant, dataset.id)) == parsed, "the re-parsed chunks, and only those, indexed")

    dataset.delete_documents(ids=[document.id])
    assert retrieved(live, key[0], dataset.id, "serverless retrieval") in (None, [])  # at once, before the index
    eventually(lambda: not indexed(tenant, dataset.id), "nothing of the deleted document in the index")


def test_a_deleted_dataset_takes_its_index_with_it(live, rag, key):
    _, tenant = key
    dataset, _ = _parsed(rag)
    eventually(lambda: indexed(tenant, dataset.id), "the dataset indexed")
    rag.delete_datasets(ids=[dataset.id])
    s3, bucket = live.stack.client("s3"), live.stack.bucket_names["DocumentsBucket"]

    def index_objects() -> list[str]:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"index/{tenant}/{dataset.id}/")
        return [item["Key"] for item in listing.get("Contents", [])]

    eventually(lambda: not index_objects(), "the dataset's index objects removed by the purge")
    assert live.workers.wait_idle(timeout=IDLE_SECONDS)
    assert not index_objects() and not indexed(tenant, dataset.id)  # late changes did not bring it back


def test_duplicate_stale_and_reordered_deliveries_converge_on_the_store(live, rag, key):
    from kb_ingest.domain.search_feed import Change

    _, tenant = key
    dataset, document = _parsed(rag)
    first = stored_ids(document)
    eventually(lambda: set(indexed(tenant, dataset.id)) == first, "the first run indexed")
    added = document.add_chunk(content="a chunk deleted before its change is replayed")
    eventually(lambda: added.id in indexed(tenant, dataset.id), "the added chunk indexed")
    [head] = [c for c in _chunk_items(document.id) if c["chunk_key"] == "#head"]
    [item] = [c for c in _chunk_items(document.id) if c.get("chunk_id") == added.id]
    document.delete_chunks(ids=[added.id])
    eventually(lambda: added.id not in indexed(tenant, dataset.id), "the deletion indexed")

    # Replays, late and out of order, under fresh deduplication ids: the add of the deleted chunk,
    # a publish of a generation long retired, a removal of a head that is there.
    owner = (tenant, dataset.id, document.id)
    stale = [
        Change("replay-add-" + added.id, *owner, "chunk", head["generation"], item["chunk_key"], added.id),
        Change("replay-old-" + added.id, *owner, "document", "a-retired-generation"),
        Change("replay-remove-" + added.id, *owner, "document", ""),
    ]
    sqs = live.stack.client("sqs")
    for change in stale * 2:  # and each twice
        sqs.send_message(QueueUrl=live.stack.queue_urls["IndexQueue"], MessageBody=change.to_message(),
                         MessageGroupId=dataset.id, MessageDeduplicationId=f"{change.event_id}-{time.monotonic_ns()}")  # fmt: skip
    assert live.workers.wait_idle(timeout=IDLE_SECONDS)
    assert set(indexed(tenant, dataset.id)) == first


def _chunk_items(document_id: str) -> list[dict[str, Any]]:
    from kb_ingest.dal.models import ChunkModel

    return [json.loads(json.dumps(item.attribute_values, default=str)) for item in ChunkModel.query(document_id)]


def test_a_lost_index_is_rebuilt_by_a_reindex(live, rag, key):
    from kb_ingest.dal.search_feed import request_reindex

    api_key, tenant = key
    dataset, document = _parsed(rag)
    parsed = stored_ids(document)
    eventually(lambda: set(indexed(tenant, dataset.id)) == parsed, "the parsed chunks indexed")
    assert live.workers.wait_idle(timeout=IDLE_SECONDS)
    if FAKE_ENGINE:
        search_index.FakeDatasetIndex.drop(tenant, dataset.id)
    else:
        from kb_ingest.search.index import DatasetIndex

        DatasetIndex.drop(tenant, dataset.id)  # the index lost (changes the feed never delivered)
    assert not indexed(tenant, dataset.id)
    assert request_reindex(tenant, dataset.id) == 1
    eventually(lambda: set(indexed(tenant, dataset.id)) == parsed, "the dataset re-indexed")
    eventually(lambda: search_lag(live, api_key, dataset.id) == 0, "search_lag back to 0")


class EarlierModel:
    """Stands in for the embedding model a dataset used before its owner changed it: vectors that
    are a hash of the text, under another embedder's name."""

    name = "an-earlier-model"
    dimensions = 256

    def embed_documents(self, texts):
        import numpy as np

        rows = [np.random.default_rng(abs(hash(text)) % 2**32).standard_normal(self.dimensions) for text in texts]
        vectors = np.array(rows, dtype=np.float32).reshape(len(texts), self.dimensions)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def test_a_new_embedding_model_rebuilds_the_index_in_the_background(live, rag, key):
    """The dataset's index was built by another embedder than its model's now: retrieval says it is
    being rebuilt, and changing the model (through either API) has the index function drop the
    index and re-embed every document through the feed, after which retrieval answers again."""
    if FAKE_ENGINE:
        pytest.skip("embedders belong to the search engine (kb_ingest.search)")
    from kb_ingest.search.embedders import WordLlamaEmbedder
    from kb_ingest.search.index import DatasetIndex, IndexedChunk

    api_key, tenant = key
    dataset, document = _parsed(rag, name="re-embed")
    parsed = stored_ids(document)
    eventually(lambda: set(indexed(tenant, dataset.id)) == parsed, "the parsed chunks indexed")
    assert live.workers.wait_idle(timeout=IDLE_SECONDS)
    fields = [name for name in IndexedChunk.__dataclass_fields__]
    rows = [
        IndexedChunk(**{name: getattr(row, name) for name in fields}) for row in indexed(tenant, dataset.id).values()
    ]
    DatasetIndex.drop(tenant, dataset.id)
    DatasetIndex.open(tenant, dataset.id, EarlierModel()).upsert(rows)  # as the earlier model left it
    question = {"question": "serverless retrieval number 3", "dataset_ids": [dataset.id]}
    headers = {"Authorization": f"Bearer {api_key}"}
    refused = requests.post(f"{live.url}/api/v1/retrieval", json=question, headers=headers, timeout=60).json()
    assert refused["code"] == 102 and "rebuilt" in refused["message"], refused

    dataset.update({"embedding_model": "wordllama/l2_supercat@Builtin"})  # today's API
    eventually(lambda: _built_by(tenant, dataset.id) == WordLlamaEmbedder.name, "the index rebuilt", IDLE_SECONDS)
    eventually(lambda: set(indexed(tenant, dataset.id)) == parsed, "every chunk re-embedded", timeout=IDLE_SECONDS)
    eventually(lambda: search_lag(live, api_key, dataset.id) == 0, "search_lag back to 0")
    answered = requests.post(f"{live.url}/api/v1/retrieval", json=question, headers=headers, timeout=60).json()
    assert answered["code"] == 0 and answered["data"]["chunks"], answered

    # a model whose embedder built the index changes nothing
    dataset.update({"embedding_model": "BAAI/bge-small-en-v1.5@Builtin"})
    assert live.workers.wait_idle(timeout=IDLE_SECONDS)
    assert _built_by(tenant, dataset.id) == WordLlamaEmbedder.name
    assert set(indexed(tenant, dataset.id)) == parsed
    # the seed API changes the model only before anything is parsed (its rule), and says so too
    empty = rag.create_dataset(name="re-embed-seed")
    seed = requests.put(
        f"{live.url}/api/v1/dataset/{empty.id}", json={"embedding_model_id": "wordllama/l2_supercat@Builtin"},
        headers=headers, timeout=60,
    ).json()  # fmt: skip
    assert seed["code"] == 0, seed
    eventually(lambda: search_lag(live, api_key, empty.id) == 0, "the seed API's model change settled")


def _built_by(tenant_id: str, dataset_id: str) -> str:
    from kb_ingest.search.index import _open_table

    table = _open_table(tenant_id, dataset_id)
    return "" if table is None else (table.schema.metadata or {}).get(b"embedder", b"").decode()


FACTS = {
    "lighthouse.txt": "The Bell Rock Lighthouse stands eleven miles off the coast of Angus; its keepers lit the lamp "
    "for the first time in February 1811, after four summers of building on a reef covered by the tide.",
    "bread.txt": "A sourdough starter is flour and water fermented by wild yeast and lactic bacteria; fed every day, "
    "it leavens bread without any baker's yeast and gives the crumb its sour taste.",
    "glacier.txt": "Glaciers flow downhill under their own weight; the ice at the surface is brittle and cracks into "
    "crevasses, while the ice below deforms slowly like a very thick liquid.",
}


def test_ragflow_sdk_retrieve_answers_a_question_with_the_chunk_that_answers_it_first(live, rag, key):
    """ragflow-sdk's `rag.retrieve`, unchanged, against the local stack: the chunk that answers
    comes first, and the dataset's weighting and threshold behave as RAGFlow documents them."""
    if FAKE_ENGINE:
        pytest.skip("retrieval needs the search engine (kb_ingest.search)")
    _, tenant = key
    dataset = rag.create_dataset(name="sdk-retrieve")
    documents = dataset.upload_documents(
        [{"display_name": name, "blob": text.encode()} for name, text in FACTS.items()]
    )
    dataset.parse_documents([document.id for document in documents])
    stored = set().union(*(stored_ids(document) for document in documents))
    eventually(lambda: set(indexed(tenant, dataset.id)) == stored, "every parsed chunk indexed")

    chunks = rag.retrieve(dataset_ids=[dataset.id], question="When was the lamp of the Bell Rock Lighthouse first lit?")
    assert chunks and chunks[0].document_keyword == "lighthouse.txt", [c.document_keyword for c in chunks]
    assert "February 1811" in chunks[0].content
    assert chunks[0].similarity >= max(c.similarity for c in chunks)

    # similarity = w * vector + (1 - w) * term, RAGFlow's weighting, for any weight asked for.
    for weight in (0.0, 0.3, 1.0):
        weighted = rag.retrieve(
            dataset_ids=[dataset.id], question="sourdough starter yeast", vector_similarity_weight=weight,
            similarity_threshold=0.0,
        )  # fmt: skip
        assert weighted, weight
        for chunk in weighted:
            expected = weight * chunk.vector_similarity + (1 - weight) * chunk.term_similarity
            assert chunk.similarity == pytest.approx(expected, abs=1e-3), (weight, chunk.__dict__)

    # A threshold no chunk reaches answers nothing; none of a lower one's answers is below it.
    assert rag.retrieve(dataset_ids=[dataset.id], question="glacier ice", similarity_threshold=0.999) == []
    for chunk in rag.retrieve(dataset_ids=[dataset.id], question="glacier ice", similarity_threshold=0.1):
        assert chunk.similarity >= 0.1
