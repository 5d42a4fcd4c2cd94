"""The retrieval handlers (today's /api/v1/retrieval and Dify's /api/v1/dify/retrieval) through
their FastAPI apps on the local stack's DynamoDB and S3, with the index filled by the library
directly from the chunk store (the pipeline that fills it on its own is another unit's)."""

from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from functions.current_retrieval.app import app as current_app
from functions.dify_retrieval.app import app as dify_app
from kb_ingest.dal.api_keys import create_api_key
from kb_ingest.dal.blobs import S3FileStore, object_key
from kb_ingest.dal.chunks import ChunkTableWriter, DynamoChunkStore, chunk_key
from kb_ingest.dal.datasets import DynamoDatasetStore
from kb_ingest.dal.documents import DynamoDocumentStore
from kb_ingest.dal.runs import DynamoRunStore
from kb_ingest.domain import datasets, documents, parse_runs
from kb_ingest.domain.documents import IncomingFile
from kb_ingest.domain.parse_worker import ParseJob, run_parse
from kb_ingest.search.embedders import embedder_for
from kb_ingest.search.index import DatasetIndex, IndexedChunk

GUIDE = b"""Serverless guide.

Cold starts. A Lambda function's first request after idle time pays for loading its code; SnapStart
restores a snapshot instead.

Pricing. Lambda bills each invocation by the millisecond of compute and by the memory configured.

Queues. An SQS FIFO queue delivers the messages of one message group in order.
"""
PETS = b"Pets.\n\nCats sleep most of the day. Dogs need a walk every morning."


class Nothing:
    def request_parse(self, docs):
        pass

    def request_parse_all(self, tenant_id, dataset_id):
        pass

    def run_ended(self, detail):
        pass


class Kb:
    def __init__(self, tenant_id, name="kb", body=None):
        self.tenant_id = tenant_id
        self.datasets, self.store, self.runs, self.files = (
            DynamoDatasetStore(), DynamoDocumentStore(), DynamoRunStore(), S3FileStore(),
        )  # fmt: skip
        created = datasets.create_dataset(self.datasets, tenant_id, {"name": name, **(body or {})})
        self.id = created["dataset_id"]

    @property
    def dataset(self):
        return self.datasets.get(self.tenant_id, self.id)

    def doc(self, document_id):
        return self.store.get(self.id, document_id)

    def add_parsed(self, name, content, params=None):
        """Upload, parse for real (the chunk store's generation), and index what it stored."""
        [doc] = documents.upload_documents(self.store, self.files, self.dataset, [IncomingFile(name, content)], 10**7)
        parse_runs.start_parsing(self.store, self.runs, Nothing(), self.dataset, self.id, doc["id"])
        document = self.doc(doc["id"])
        job = ParseJob(self.tenant_id, self.id, doc["id"], document.run_id)
        outcome = run_parse(
            job, self.store, self.runs, read_file=lambda d: self.files.read_object(object_key(d)),
            new_sink=lambda d: ChunkTableWriter.for_run(d, job.run_id), events=Nothing(), remaining_ms=lambda: 600_000,
        )  # fmt: skip
        assert outcome.startswith("done"), outcome
        self.index_document(doc["id"])
        return doc["id"]

    def index_document(self, document_id):
        document = self.doc(document_id)
        stored = DynamoChunkStore().page(document, 0, 1000).chunks
        rows = [
            IndexedChunk(
                c.id,
                document.id,
                self.id,
                self.tenant_id,
                document.name,
                c.content,
                tuple(c.important_keywords),
                tuple(c.questions),
                c.available,
                c.positions or None,
                document.chunks_run_id or "",
                c.image_id,
                chunk_key(document.chunks_run_id or "", c.position, c.id),
            )
            for c in stored
        ]
        self.index().replace_document(document.id, rows)
        return rows

    def index(self):
        return DatasetIndex.open(self.tenant_id, self.id, embedder_for(self.dataset.embd_id))


@pytest.fixture
def client(local_stack, tenant_id):
    key, _ = create_api_key(tenant_id=tenant_id, label="retrieval")
    http = TestClient(current_app)
    http.headers["Authorization"] = f"Bearer {key}"
    http.key = key  # type: ignore[attr-defined]
    return http


@pytest.fixture
def kb(local_stack, tenant_id):
    return Kb(tenant_id)


def retrieve(client, **body):
    answer = client.post("/api/v1/retrieval", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_question_about_a_parsed_document_returns_the_chunk_that_answers_it_first(client, kb):
    guide = kb.add_parsed("guide.md", GUIDE)
    kb.add_parsed("pets.txt", PETS)
    answer = retrieve(client, question="How does Lambda bill invocations?", dataset_ids=[kb.id])
    assert answer["code"] == 0
    data = answer["data"]
    top = data["chunks"][0]
    assert "millisecond" in top["content"]
    assert (top["document_id"], top["document_keyword"], top["dataset_id"]) == (guide, "guide.md", kb.id)
    assert set(top) >= {
        "id", "content", "content_ltks", "document_id", "document_keyword", "dataset_id", "image_id",
        "important_keywords", "positions", "similarity", "term_similarity", "vector_similarity",
    }  # fmt: skip
    assert "highlight" not in top
    assert top["similarity"] == pytest.approx(0.3 * top["vector_similarity"] + 0.7 * top["term_similarity"])
    sims = [chunk["similarity"] for chunk in data["chunks"]]
    assert sims == sorted(sims, reverse=True) and min(sims) >= 0.2
    assert data["total"] == len(data["chunks"])
    assert {agg["doc_id"] for agg in data["doc_aggs"]} <= {guide, *[c["document_id"] for c in data["chunks"]]}
    assert sum(agg["count"] for agg in data["doc_aggs"]) == data["total"]


def test_weight_threshold_paging_and_highlight_follow_the_request(client, kb):
    kb.add_parsed("guide.md", GUIDE)
    kb.add_parsed("pets.txt", PETS)
    everything = retrieve(client, question="Lambda cats", dataset_ids=[kb.id], similarity_threshold=0)["data"]
    assert everything["total"] >= 2
    strict = retrieve(client, question="Lambda cats", dataset_ids=[kb.id], similarity_threshold=0.99)["data"]
    assert strict["total"] == 0 and strict["chunks"] == [] and strict["doc_aggs"] == []
    first = retrieve(client, question="Lambda cats", dataset_ids=[kb.id], similarity_threshold=0, page_size=1)
    second = retrieve(client, question="Lambda cats", dataset_ids=[kb.id], similarity_threshold=0, page=2, page_size=1)
    assert first["data"]["chunks"][0]["id"] != second["data"]["chunks"][0]["id"]
    assert first["data"]["total"] == everything["total"]
    vectors_only = retrieve(client, question="Lambda cats", dataset_ids=[kb.id], vector_similarity_weight=1)["data"]
    assert all(c["similarity"] == pytest.approx(c["vector_similarity"]) for c in vectors_only["chunks"])
    marked = retrieve(client, question="Lambda pricing", dataset_ids=[kb.id], highlight="True")["data"]["chunks"]
    assert marked and all("highlight" in chunk for chunk in marked)
    assert "<em>Lambda</em>" in marked[0]["highlight"]


def test_documents_named_limit_the_search_and_must_belong_to_the_datasets(client, kb):
    kb.add_parsed("guide.md", GUIDE)
    pets = kb.add_parsed("pets.txt", PETS)
    answer = retrieve(
        client, question="Lambda cats dogs", dataset_ids=[kb.id], document_ids=[pets], similarity_threshold=0
    )
    assert {chunk["document_id"] for chunk in answer["data"]["chunks"]} == {pets}
    refused = retrieve(client, question="x", dataset_ids=[kb.id], document_ids=["nope"])
    assert refused == {"code": 102, "message": "The datasets don't own the document nope"}


def test_metadata_conditions_select_documents_by_their_meta_fields(client, kb):
    guide = kb.add_parsed("guide.md", GUIDE)
    kb.add_parsed("pets.txt", PETS)
    kb.store.update(kb.doc(guide), {"meta_fields": {"topic": "cloud"}}, None)
    condition = {"logic": "and", "conditions": [{"name": "topic", "comparison_operator": "is", "value": "cloud"}]}
    answer = retrieve(
        client, question="Lambda cats", dataset_ids=[kb.id], metadata_condition=condition, similarity_threshold=0
    )
    assert answer["data"]["chunks"] and {c["document_id"] for c in answer["data"]["chunks"]} == {guide}
    none = {"conditions": [{"name": "topic", "comparison_operator": "is", "value": "gardening"}]}
    assert retrieve(client, question="Lambda", dataset_ids=[kb.id], metadata_condition=none)["data"]["total"] == 0


def test_deleted_disabled_and_reparsed_documents_are_never_returned_before_the_index_catches_up(client, kb):
    guide = kb.add_parsed("guide.md", GUIDE)
    pets = kb.add_parsed("pets.txt", PETS)
    question = {"question": "Cats sleep, Lambda bills", "dataset_ids": [kb.id], "similarity_threshold": 0}
    assert {c["document_id"] for c in retrieve(client, **question)["data"]["chunks"]} == {guide, pets}
    # disabled: the index still holds its chunks, retrieval drops them
    kb.store.update(kb.doc(pets), {"status": "0"}, None)
    assert {c["document_id"] for c in retrieve(client, **question)["data"]["chunks"]} == {guide}
    kb.store.update(kb.doc(pets), {"status": "1"}, None)
    # re-parsed: the old generation's chunks are stale until the index is told
    old = kb.index().search("cats", document_ids=[pets], candidates=5)
    parse_runs.start_parsing(kb.store, kb.runs, Nothing(), kb.dataset, kb.id, pets)  # retires the visible chunks
    assert kb.doc(pets).chunks_run_id != old[0].generation
    assert {c["document_id"] for c in retrieve(client, **question)["data"]["chunks"]} == {guide}
    # deleted: gone from retrieval at once
    documents.delete_document(kb.store, kb.files, kb.tenant_id, kb.id, guide)
    assert retrieve(client, **question)["data"]["chunks"] == []


def test_another_tenants_dataset_answers_as_a_missing_one(client, kb, local_stack):
    from kb_ingest.clock import new_id

    theirs = Kb(new_id(), "theirs")
    theirs.add_parsed("guide.md", GUIDE)
    answer = retrieve(client, question="Lambda", dataset_ids=[theirs.id])
    missing = retrieve(client, question="Lambda", dataset_ids=["0" * 32])
    assert answer == {"code": 102, "message": f"You don't own the dataset {theirs.id}."}
    assert missing["message"] == f"You don't own the dataset {'0' * 32}."
    mixed = retrieve(client, question="Lambda", dataset_ids=[kb.id, theirs.id])
    assert mixed["code"] == 102


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"question": "x"}, 102, "`dataset_ids` is required."),
        ({"question": "x", "dataset_ids": []}, 102, "`dataset_ids` is required."),
        ({"question": "x", "dataset_ids": "abc"}, 102, "`dataset_ids` should be a list"),
        ({"dataset_ids": ["KB"]}, 102, "`question` is required."),
        ({"question": "x", "dataset_ids": ["KB"], "document_ids": "d"}, 102, "`documents` should be a list"),
        ({"question": "x", "dataset_ids": ["KB"], "top_k": -1}, 102, "`top_k` must be greater than 0"),
        ({"question": "x", "dataset_ids": ["KB"], "highlight": "maybe"}, 102, "`highlight` should be a boolean"),
        ({"question": "x", "dataset_ids": ["KB"], "page_size": 101}, 101, "page_size must be less than or equal to 100"),
        # RAGFlow's float()/int() raise on these, and it answers code 100 with the exception's repr
        ({"question": "x", "dataset_ids": ["KB"], "similarity_threshold": "a"}, 100, """ValueError("could not convert string to float: 'a'")"""),
        ({"question": "x", "dataset_ids": ["KB"], "vector_similarity_weight": "a"}, 100, """ValueError("could not convert string to float: 'a'")"""),
        ({"question": "x", "dataset_ids": ["KB"], "top_k": "a"}, 100, """ValueError("invalid literal for int() with base 10: 'a'")"""),
        ({"question": "x", "dataset_ids": ["KB"], "similarity_threshold": [1]}, 101, "`similarity_threshold` must be a number, not [1]."),
    ],
)  # fmt: skip
def test_bad_requests_answer_ragflows_codes_and_messages(client, kb, body, code, message):
    body = {key: ([kb.id] if value == ["KB"] else value) for key, value in body.items()}
    assert retrieve(client, **body) == {"code": code, "message": message}


def test_what_needs_a_model_not_run_here_is_answered_clearly_or_ignored(client, kb):
    kb.add_parsed("guide.md", GUIDE)
    base = {"question": "Lambda pricing", "dataset_ids": [kb.id]}
    rerank = retrieve(client, **base, rerank_id="BAAI/bge-reranker-v2-m3")
    assert rerank["code"] == 102 and "rerank" in rerank["message"]
    translated = retrieve(client, **base, cross_languages=["German"])
    assert translated["code"] == 102 and "cross_languages" in translated["message"]
    # keyword extraction, knowledge graphs and TOC enhancement would only add to the search: ignored
    plain = retrieve(client, **base)["data"]
    assert retrieve(client, **base, keyword=True, use_kg=True, toc_enhance=True)["data"] == plain
    assert retrieve(client, **base, cross_languages=[], rerank_id=None)["data"] == plain


def test_an_empty_question_and_an_unindexed_dataset_answer_no_chunks(client, kb):
    assert retrieve(client, question="  ", dataset_ids=[kb.id])["data"] == {"total": 0, "chunks": [], "doc_aggs": {}}
    assert retrieve(client, question="anything", dataset_ids=[kb.id])["data"] == {
        "chunks": [],
        "doc_aggs": [],
        "total": 0,
    }


def test_an_embedding_model_this_stack_cannot_run_is_a_clear_error(client, tenant_id):
    from kb_ingest.clock import now_ms
    from kb_ingest.domain.datasets import DatasetChanges

    odd = Kb(tenant_id, "odd")
    odd.datasets.update(odd.dataset, DatasetChanges(values={"embd_id": "text-embedding-3-small@OpenAI"}), now_ms())
    answer = retrieve(client, question="x", dataset_ids=[odd.id])
    assert answer["code"] == 102 and "text-embedding-3-small@OpenAI" in answer["message"]


def test_bad_keys_answer_ragflows_401(client, kb):
    answer = TestClient(current_app).post("/api/v1/retrieval", json={"question": "x", "dataset_ids": [kb.id]})
    assert answer.status_code == 401 and answer.json()["code"] == 401


# ---------------------------------------------------------------- Dify
def dify(key, body, header=None):
    http = TestClient(dify_app)
    return http.post("/api/v1/dify/retrieval", json=body, headers={"Authorization": header or f"Bearer {key}"})


def test_dify_gets_records_with_score_title_and_the_documents_metadata(client, kb):
    guide = kb.add_parsed("guide.md", GUIDE)
    kb.store.update(kb.doc(guide), {"meta_fields": {"team": "platform"}}, None)
    answer = dify(
        client.key,
        {
            "knowledge_id": kb.id,
            "query": "How does Lambda bill?",
            "retrieval_setting": {"top_k": 2, "score_threshold": 0.1},
        },
    )
    assert answer.status_code == 200, answer.text
    records = answer.json()["records"]
    assert 1 <= len(records) <= 2
    assert "millisecond" in records[0]["content"] and records[0]["title"] == "guide.md"
    assert records[0]["metadata"] == {"team": "platform", "doc_id": guide, "document_id": guide}
    assert records[0]["score"] >= 0.1


def test_dify_errors_use_difys_codes(client, kb, local_stack):
    from kb_ingest.clock import new_id

    body = {"knowledge_id": kb.id, "query": "Lambda"}
    assert dify(client.key, body, header="Token abc").json()["error_code"] == 1001
    failed = dify(client.key, body, header="Bearer not-a-key")
    assert (failed.status_code, failed.json()["error_code"]) == (403, 1002)
    theirs = Kb(new_id(), "theirs")
    for knowledge_id in (theirs.id, "0" * 32):
        missing = dify(client.key, {"knowledge_id": knowledge_id, "query": "Lambda"})
        assert (missing.status_code, missing.json()) == (
            404,
            {"error_code": 2001, "error_msg": "The knowledge does not exist"},
        )
    bad = dify(client.key, {"knowledge_id": kb.id})
    assert (bad.status_code, bad.json()["error_code"]) == (400, 101) and "query" in bad.json()["error_msg"]
    bad_setting = dify(client.key, {**body, "retrieval_setting": {"top_k": "many"}})
    assert bad_setting.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]", b"not json", b'"text"', b'{"question": "x", "dataset_ids": ["", "' + b"x" * 3000 + b'"]}',
        b'{"question": "x", "dataset_ids": [5, null, {"a": 1}]}', b'{"question": ["x"], "dataset_ids": ["d"]}',
        b'{"question": "x", "dataset_ids": ["d"], "document_ids": ["", 7]}', b'{"question": "x", "dataset_ids": ["d"], "metadata_condition": "yes"}',
        b'{"question": "x", "dataset_ids": ["d"], "page": "a", "page_size": {}, "top_k": 1e400}',
        b'{"question": "x", "dataset_ids": ["d"], "top_k": ' + b"1" * 5000 + b"}", b"[" * 100_000,
    ],
)  # fmt: skip
def test_hostile_bodies_answer_in_the_envelope(client, body):
    answer = client.post("/api/v1/retrieval", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] in (101, 102), answer.json()


@pytest.mark.parametrize(
    "body",
    [b"[1]", b"nope", b'{"knowledge_id": 5, "query": "x"}', b'{"knowledge_id": "k", "query": "x", "retrieval_setting": {"top_k": 1e400}}',
     b'{"knowledge_id": "' + b"k" * 3000 + b'", "query": "x"}', b'{"knowledge_id": "k", "query": "x", "metadata_condition": [1]}',
     b'{"knowledge_id": "k", "query": "x", "a": ' + b"1" * 5000 + b"}", b"[" * 100_000],
)  # fmt: skip
def test_hostile_dify_bodies_answer_difys_error_shape(client, body):
    answer = TestClient(dify_app).post(
        "/api/v1/dify/retrieval",
        content=body,
        headers={"Authorization": f"Bearer {client.key}", "Content-Type": "application/json"},
    )
    assert answer.status_code in (400, 404), answer.text
    assert set(answer.json()) == {"error_code", "error_msg"}


def test_a_chunk_deleted_disabled_or_edited_in_the_store_answers_so_before_the_index_knows(client, kb):
    """RAGFlow's index is synchronous: its suite deletes a chunk and retrieves at once. Here the
    index is left as it was (no feed runs) and retrieval still answers the store's truth."""
    store = DynamoChunkStore()
    ids = [kb.add_parsed(name, body) for name, body in [("a.md", GUIDE), ("b.txt", PETS), ("c.txt", b"Lambda notes.")]]
    [gone], [disabled], [edited] = (store.page(kb.doc(i), 0, 10).chunks for i in ids)
    question = {"question": "Lambda cats", "dataset_ids": [kb.id], "similarity_threshold": 0}
    before = retrieve(client, **question)["data"]
    assert {c["id"] for c in before["chunks"]} == {gone.id, disabled.id, edited.id}

    assert store.delete(kb.doc(ids[0]), [gone.id]).count == 1
    assert store.update(kb.doc(ids[1]), replace(disabled, available=False), 0)
    assert store.update(kb.doc(ids[2]), replace(edited, content="Lambda notes, edited."), 0)
    after = retrieve(client, **question)["data"]
    assert [(c["id"], c["content"]) for c in after["chunks"]] == [(edited.id, "Lambda notes, edited.")]
    assert after["total"] == 1 and [agg["doc_id"] for agg in after["doc_aggs"]] == [ids[2]]


# ---------------------------------------------------------------- RAGFlow's dataset search (retrieval test)
@pytest.fixture
def searcher(client):
    from functions.search_dataset.app import app as one_app
    from functions.search_datasets.app import app as many_app

    one, many = TestClient(one_app), TestClient(many_app)
    for http in (one, many):
        http.headers["Authorization"] = f"Bearer {client.key}"

    def search(body, dataset_id=None):
        if dataset_id is None:
            answer = many.post("/api/v1/datasets/search", json=body)
        else:
            answer = one.post(f"/api/v1/datasets/{dataset_id}/search", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    return search


def test_dataset_search_answers_the_retrievers_field_names_with_the_answering_chunk_first(searcher, kb):
    guide = kb.add_parsed("guide.md", GUIDE)
    kb.add_parsed("pets.txt", PETS)
    for answer in (
        searcher({"question": "How does Lambda bill invocations?", "dataset_ids": [kb.id]}),
        searcher({"question": "How does Lambda bill invocations?"}, dataset_id=kb.id),
    ):
        assert answer["code"] == 0, answer
        data = answer["data"]
        top = data["chunks"][0]
        assert "millisecond" in top["content_with_weight"]
        assert (top["doc_id"], top["docnm_kwd"], top["kb_id"]) == (guide, "guide.md", kb.id)
        assert {"chunk_id", "content_ltks", "important_kwd", "similarity", "vector_similarity"} <= set(top)
        assert "id" not in top and "vector" not in top
        assert top["similarity"] == pytest.approx(0.3 * top["vector_similarity"] + 0.7 * top["term_similarity"])
        assert data["total"] == len(data["chunks"]) and data["labels"] is None
    # RAGFlow's defaults here: threshold 0 (every candidate with a score), 30 a page, `size` pages
    everything = searcher({"question": "Lambda cats", "dataset_ids": [kb.id]})["data"]
    assert everything["total"] >= 2
    page = searcher({"question": "Lambda cats", "dataset_ids": [kb.id], "size": 1, "page": 2})["data"]
    assert page["total"] == 1 and page["chunks"][0]["chunk_id"] == everything["chunks"][1]["chunk_id"]


def test_dataset_search_filters_by_doc_ids_and_manual_metadata_without_refusing_unknown_ids(searcher, kb):
    guide = kb.add_parsed("guide.md", GUIDE)
    pets = kb.add_parsed("pets.txt", PETS)
    kb.store.update(kb.doc(guide), {"meta_fields": {"author": "qa"}}, None)
    base = {"question": "Lambda cats", "dataset_ids": [kb.id]}

    def documents(**extra):
        answer = searcher({**base, **extra})
        assert answer["code"] == 0, answer
        return {chunk["doc_id"] for chunk in answer["data"]["chunks"]}

    assert documents(doc_ids=[pets]) == {pets}
    assert documents(doc_ids=["not-a-document"]) == set()  # a filter, not a refusal, as RAGFlow's
    by_author = {"method": "manual", "logic": "and", "manual": [{"key": "author", "op": "=", "value": "qa"}]}
    assert documents(meta_data_filter=by_author) == {guide}
    assert documents(meta_data_filter=by_author, doc_ids=[pets]) == {guide, pets}  # RAGFlow joins the two
    nobody = {"method": "manual", "manual": [{"key": "author", "op": "=", "value": "nobody"}]}
    assert documents(meta_data_filter=nobody) == set()
    automatic = searcher({**base, "meta_data_filter": {"method": "auto"}})
    assert automatic["code"] == 102 and "chat model" in automatic["message"]


def test_dataset_search_refuses_another_tenants_dataset_in_ragflows_words(searcher, kb, local_stack):
    from kb_ingest.clock import new_id

    theirs = Kb(new_id(), "theirs")
    theirs.add_parsed("guide.md", GUIDE)
    expected = {"code": 102, "message": f"Only owner of dataset {theirs.id} authorized for this operation."}
    assert searcher({"question": "Lambda", "dataset_ids": [kb.id, theirs.id]}) == expected
    assert searcher({"question": "Lambda"}, dataset_id=theirs.id) == expected
    missing = searcher({"question": "Lambda"}, dataset_id="0" * 32)
    assert missing["message"] == f"Only owner of dataset {'0' * 32} authorized for this operation."


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset_ids": ["KB"]}, "question"),
        ({"dataset_ids": ["KB"], "question": "   "}, "question"),
        ({"dataset_ids": [], "question": "x"}, "dataset_ids"),
        ({"question": "x"}, "dataset_ids"),
        ({"dataset_ids": ["KB"], "question": "x", "similarity_threshold": 1.5}, "similarity_threshold"),
        ({"dataset_ids": ["KB"], "question": "x", "top_k": 0}, "top_k"),
        ({"dataset_ids": ["KB"], "question": "x", "size": "many"}, "size"),
        ({"dataset_ids": [7], "question": "x"}, "dataset_ids.0"),
    ],
)
def test_dataset_search_checks_the_body_with_ragflows_messages(searcher, kb, body, field):
    body = {key: ([kb.id] if value == ["KB"] else value) for key, value in body.items()}
    answer = searcher(body)
    assert answer["code"] == 101 and answer["message"].startswith(f"Field: <{field}> - Message: <"), answer


def test_dataset_search_answers_what_needs_a_model_clearly(searcher, kb):
    kb.add_parsed("guide.md", GUIDE)
    base = {"question": "Lambda pricing", "dataset_ids": [kb.id]}
    for extra, word in [({"rerank_id": "bge"}, "rerank"), ({"cross_languages": ["de"]}, "cross_languages"),
                        ({"search_id": "s1"}, "search_id")]:  # fmt: skip
        answer = searcher({**base, **extra})
        assert answer["code"] == 102 and word in answer["message"], answer
    plain = searcher(base)["data"]
    assert searcher({**base, "keyword": True, "use_kg": True})["data"] == plain
