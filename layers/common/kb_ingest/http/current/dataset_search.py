"""Dataset search routes: today's RAGFlow `POST /api/v1/datasets/search` (several datasets) and
`POST /api/v1/datasets/{dataset_id}/search` (one), the "retrieval test" its web app and REST
clients call. Same engine and checks as `/api/v1/retrieval` (domain.retrieval_queries.retrieve);
what differs is RAGFlow's, restated from api/apps/restful_apis/dataset_api.py and its service:

- the body is checked by a pydantic model (code 101 in RAGFlow's `Field: <..>` wording), with
  `doc_ids` and `size` where /retrieval has `document_ids` and `page_size`;
- chunks keep the retriever's field names (`chunk_id`, `content_with_weight`, `doc_id`,
  `docnm_kwd`, `kb_id`), `total` is the number of chunks on the page, and `labels` (tag-set
  ranking, which needs a tag dataset) is null;
- a document id outside the datasets filters, it is not refused; `meta_data_filter` of method
  `manual` selects documents (joined to `doc_ids`), `auto`/`semi_auto` need a chat model.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kb_ingest.domain.errors import DataError
from kb_ingest.domain.listing import MetadataCondition
from kb_ingest.domain.retrieval import MAX_TOP_K, RetrievalOptions
from kb_ingest.domain.retrieval_queries import RetrievalQuery, Retrieved, retrieve
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.current.requests import read_json, validated
from kb_ingest.http.current.retrieval import Indexes, ranked_chunk, refuse_what_needs_a_model
from kb_ingest.http.deps import Chunks, Datasets, Documents, TenantId

FOREIGN_DATASET = "Only owner of dataset {dataset_id} authorized for this operation."
NO_SEARCH_APPS = "Invalid search_id"


class DatasetSearchRequest(BaseModel):
    """One dataset's search body (RAGFlow's defaults: 30 a page, 1,024 candidates, weight 0.3)."""

    model_config = ConfigDict(extra="ignore")

    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    doc_ids: list[str] = []
    page: Annotated[int, Field(ge=1)] = 1
    size: Annotated[int, Field(ge=1)] = 30
    top_k: Annotated[int, Field(ge=1)] = 1024
    similarity_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    vector_similarity_weight: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3
    use_kg: bool = False  # a knowledge graph would add one chunk; none is built here, so ignored
    cross_languages: list[str] = []
    keyword: bool = False  # LLM keyword extraction would add terms to the question: ignored
    search_id: str | None = None
    rerank_id: str | None = None
    tenant_rerank_id: str | None = None
    meta_data_filter: dict[str, Any] | None = None
    include_knowledge_compilation: bool = True  # no compiled (wiki) pages exist here


class DatasetsSearchRequest(DatasetSearchRequest):
    dataset_ids: Annotated[list[str], Field(min_length=1)]


class _ManualFilter(BaseModel):
    """`meta_data_filter` of method `manual`: `[{key, op, value}]` joined by `logic`."""

    model_config = ConfigDict(extra="ignore")

    method: Literal["manual"]
    logic: str = "and"
    manual: list[dict[str, Any]] = []


def _metadata(raw: dict[str, Any] | None) -> tuple[tuple[MetadataCondition, ...], str]:
    if not raw or not raw.get("method"):
        return (), "and"
    if raw["method"] in ("auto", "semi_auto"):
        raise DataError(
            f"meta_data_filter method '{raw['method']}' has a chat model write the filter, and this service "
            "runs none; send method 'manual' with the conditions."
        )
    manual = validated(_ManualFilter, raw)
    conditions = tuple(
        MetadataCondition(str(item.get("key", "")), str(item.get("op", "=")), item.get("value"))
        for item in manual.manual
    )
    return conditions, manual.logic.lower()


def search_query(request: DatasetSearchRequest, dataset_ids: list[str]) -> RetrievalQuery:
    if request.search_id:
        raise DataError(NO_SEARCH_APPS)  # no search apps exist in this service
    refuse_what_needs_a_model(request.rerank_id or request.tenant_rerank_id, request.cross_languages)
    conditions, logic = _metadata(request.meta_data_filter)
    options = RetrievalOptions(
        similarity_threshold=request.similarity_threshold,
        vector_similarity_weight=request.vector_similarity_weight,
        top_k=max(1, min(request.top_k, MAX_TOP_K)),
        page=request.page,
        page_size=request.size,
    )
    return RetrievalQuery(
        question=request.question,
        dataset_ids=tuple(dataset_ids),
        document_ids=tuple(request.doc_ids),
        options=options,
        metadata_conditions=conditions,
        metadata_logic=logic,
        refuse_unknown_documents=False,
        foreign_dataset_message=FOREIGN_DATASET,
    )


def search_answer(retrieved: Retrieved) -> dict[str, Any]:
    ranking = retrieved.ranking
    chunks = [ranked_chunk(ranked, retrieved, highlight=False) for ranked in ranking.chunks]
    return {"chunks": chunks, "doc_aggs": ranking.doc_aggs, "total": len(chunks), "labels": None}


datasets_search_router = APIRouter()


@datasets_search_router.post("/api/v1/datasets/search")
async def search_datasets(
    request: Request, tenant_id: TenantId, datasets: Datasets, documents: Documents, indexes: Indexes, chunks: Chunks
):  # fmt: skip
    body = validated(DatasetsSearchRequest, await read_json(request))
    query = search_query(body, body.dataset_ids)
    return ok(search_answer(retrieve(query, tenant_id, datasets, documents, indexes, chunks)))


dataset_search_router = APIRouter()


@dataset_search_router.post("/api/v1/datasets/{dataset_id}/search")
async def search_dataset(
    dataset_id: str,
    request: Request,
    tenant_id: TenantId,
    datasets: Datasets,
    documents: Documents,
    indexes: Indexes,
    chunks: Chunks,
):  # fmt: skip
    query = search_query(validated(DatasetSearchRequest, await read_json(request)), [dataset_id])
    return ok(search_answer(retrieve(query, tenant_id, datasets, documents, indexes, chunks)))
