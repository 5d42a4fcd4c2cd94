"""Today's chunk API (`/api/v1/datasets/{id}/documents/{id}/chunks...`) through the local gateway:
RAGFlow's own client (ragflow-sdk) on a parsed document, RAGFlow's answers and messages, and the
seed API reading the same chunks."""

import pytest
import requests
from ragflow_sdk import RAGFlow

TEXT = "\n\n".join(f"Section {n}: serverless ingestion stores chunk number {n} for retrieval." for n in range(12))


@pytest.fixture
def key(live):
    from kb_ingest.dal.api_keys import create_api_key

    return create_api_key(label="chunks")[0]


@pytest.fixture
def rag(live, key):
    return RAGFlow(api_key=key, base_url=live.url)


class Http:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.headers = f"{base}/api/v1", {"Authorization": f"Bearer {key}"}

    def __call__(self, method: str, path: str, **kwargs):
        return requests.request(method, self.base + path, headers=self.headers, timeout=60, **kwargs).json()


@pytest.fixture
def http(live, key):
    return Http(live.url, key)


def _parsed_document(rag, text=TEXT):
    dataset = rag.create_dataset(name="chunks")
    [document] = dataset.upload_documents([{"display_name": "notes.txt", "blob": text.encode()}])
    [(_, run, chunk_count, _)] = dataset.parse_documents([document.id])
    assert run == "DONE" and chunk_count >= 1
    return dataset, document


def test_ragflow_sdk_lists_adds_updates_and_deletes_chunks_of_a_parsed_document(rag, http):
    dataset, document = _parsed_document(rag)
    parsed = document.list_chunks(page=1, page_size=100)
    assert parsed and all(chunk.document_id == document.id and chunk.dataset_id == dataset.id for chunk in parsed)
    assert parsed[0].content.startswith("Section 0")  # document order
    assert parsed[0].document_keyword == "notes.txt"
    # add
    added = document.add_chunk(
        content="A hand-written chunk about DynamoDB.", important_keywords=["dynamo"], questions=["Where?"]
    )
    assert (added.content, added.important_keywords, added.questions) == (
        "A hand-written chunk about DynamoDB.", ["dynamo"], ["Where?"]
    )  # fmt: skip
    [found] = document.list_chunks(keywords="hand-written")
    assert found.id == added.id
    # update (ragflow-sdk sends PATCH)
    found.update({"content": "An edited chunk.", "available": False})
    [edited] = document.list_chunks(id=added.id)
    assert (edited.content, edited.available) == ("An edited chunk.", False)
    listed = http("GET", f"/datasets/{dataset.id}/documents/{document.id}/chunks")["data"]
    assert listed["doc"]["chunk_count"] == len(parsed) + 1 == listed["total"]
    # delete one, then all
    document.delete_chunks(ids=[added.id])
    assert [chunk.id for chunk in document.list_chunks(page_size=100)] == [chunk.id for chunk in parsed]
    document.delete_chunks(delete_all=True)
    assert document.list_chunks() == []
    [after] = dataset.list_documents(id=document.id)
    assert (after.chunk_count, after.token_count) == (0, 0)
    [listed_dataset] = rag.list_datasets(id=dataset.id)
    assert listed_dataset.chunk_count == 0


def test_answers_and_messages_are_ragflows(rag, http):
    dataset, document = _parsed_document(rag)
    base = f"/datasets/{dataset.id}/documents/{document.id}/chunks"
    assert http("POST", base, json={"content": " "}) == {"code": 102, "message": "`content` is required"}
    assert http("POST", base, json={"content": "x", "important_keywords": "abc"}) == {
        "code": 102, "message": "`important_keywords` is required to be a list",
    }  # fmt: skip
    assert http("POST", f"/datasets/{'0' * 32}/documents/{document.id}/chunks", json={"content": "x"}) == {
        "code": 102, "message": f"You don't own the dataset {'0' * 32}.",
    }  # fmt: skip
    assert http("GET", f"/datasets/{dataset.id}/documents/{'1' * 32}/chunks") == {
        "code": 102, "message": f"you don't own the document {'1' * 32}",
    }  # fmt: skip
    assert http("PATCH", f"{base}/nope", json={"content": "x"}) == {
        "code": 102,
        "message": "Can't find this chunk nope",
    }
    assert http("PUT", f"{base}/nope", json={"questions": "x"}) == {
        "code": 102,
        "message": "Can't find this chunk nope",
    }
    assert http("GET", f"{base}/nope") == {"code": 102, "message": "Chunk not found!"}
    assert http("GET", base, params={"id": "nope"}) == {"code": 102, "message": f"Chunk not found: {dataset.id}/nope"}
    added = [http("POST", base, json={"content": f"chunk test {n}"})["data"]["chunk"]["id"] for n in range(3)]
    assert http("DELETE", base, json={"chunk_ids": [added[0], "nope"]}) == {
        "code": 102, "message": "rm_chunk deleted chunks 1, expect 2",
    }  # fmt: skip
    answer = http("DELETE", base, json={"chunk_ids": [added[1], added[1]]})
    assert answer == {"code": 0, "data": {"success_count": 1, "errors": [f"Duplicate chunk ids: {added[1]}"]}}
    assert http("PUT", f"{base}/{added[2]}", json={"important_keywords": ["k"]}) == {"code": 0}
    [one] = http("GET", base, params={"id": added[2]})["data"]["chunks"]
    assert one["important_keywords"] == ["k"]
    record = http("GET", f"{base}/{added[2]}")["data"]
    assert (record["id"], record["doc_id"], record["content_with_weight"]) == (added[2], document.id, "chunk test 2")
    missing_key = requests.get(http.base + base, timeout=30)
    assert missing_key.status_code == 401


def test_the_seed_api_reads_the_same_chunks(rag, http):
    dataset, document = _parsed_document(rag)
    base = f"/datasets/{dataset.id}/documents/{document.id}/chunks"
    added = http("POST", base, json={"content": "added through today's API"})["data"]["chunk"]
    seed = http("GET", f"/dataset/{dataset.id}/documents/{document.id}/chunks", params={"count": 1000})["data"]
    current = http("GET", base, params={"page_size": 100})["data"]
    assert [chunk["id"] for chunk in seed["chunks"]] == [chunk["id"] for chunk in current["chunks"]]
    assert seed["chunks"][-1]["id"] == added["id"] and seed["total"] == current["total"]


def test_reparsing_replaces_chunks_and_keeps_counts_exact(rag, http):
    dataset, document = _parsed_document(rag)
    first = [chunk.id for chunk in document.list_chunks(page_size=100)]
    document.add_chunk(content="an extra chunk")
    dataset.parse_documents([document.id])
    again = [chunk.id for chunk in document.list_chunks(page_size=100)]
    assert again == first  # the same content gives the same ids; the added chunk went with the old run
    [after] = dataset.list_documents(id=document.id)
    [listed_dataset] = rag.list_datasets(id=dataset.id)
    assert after.chunk_count == len(first) == listed_dataset.chunk_count


def test_concurrent_adds_are_all_stored_and_counted(rag, http):
    from concurrent.futures import ThreadPoolExecutor

    dataset = rag.create_dataset(name="concurrent")
    [document] = dataset.upload_documents([{"display_name": "empty.txt", "blob": b"unparsed"}])
    base = f"/datasets/{dataset.id}/documents/{document.id}/chunks"
    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(lambda n: http("POST", base, json={"content": f"chunk test {n}"}), range(20)))
    assert all(answer["code"] == 0 for answer in answers), answers
    listed = http("GET", base, params={"page_size": 100})["data"]
    assert listed["total"] == listed["doc"]["chunk_count"] == len(listed["chunks"]) == 20
