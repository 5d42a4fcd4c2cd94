"""Retrieval routes: today's RAGFlow `POST /api/v1/retrieval` and Dify's external knowledge API
(`POST /api/v1/dify/retrieval`), over one domain function (domain.retrieval_queries.retrieve).

Request rules and messages are RAGFlow's (api/apps/restful_apis/chunk_api.py `retrieval_test`,
dify_retrieval_api.py), read leniently as RAGFlow reads them: pages fall back to the first,
unknown fields are ignored. What needs a model this service does not run is answered clearly
(`rerank_id`, `cross_languages`) or ignored where RAGFlow's answer would only gain extra terms
(`keyword`, `use_kg`, `toc_enhance`); docs/api-current.md says which and why.
"""

import math
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from kb_ingest.domain.errors import (
    ArgumentError,
    AuthenticationError,
    CrashLikeError,
    DataError,
    DomainError,
    ErrorKind,
)
from kb_ingest.domain.listing import MetadataCondition
from kb_ingest.domain.pagination import page_number, page_size
from kb_ingest.domain.retrieval import (
    DEFAULT_SIMILARITY_THRESHOLD,
    DEFAULT_TOP_K,
    DEFAULT_VECTOR_SIMILARITY_WEIGHT,
    Ranked,
    RetrievalOptions,
    tokens,
)
from kb_ingest.domain.retrieval_queries import IndexOpener, RetrievalQuery, Retrieved, owned_datasets, retrieve
from kb_ingest.http.app import Generation
from kb_ingest.http.auth import current_tenant
from kb_ingest.http.current.chunk_edits import chunk_body
from kb_ingest.http.current.envelope import ok
from kb_ingest.http.deps import Chunks, Datasets, Documents, TenantId

MAX_IDS = 100


def open_dataset_index(dataset: Any) -> Any:
    """The dataset's index with the embedder its `embedding_model` names (the engine loads on
    the first retrieval of a container, never in other functions)."""
    from kb_ingest.search.embedders import embedder_for
    from kb_ingest.search.index import DatasetIndex

    return DatasetIndex.open(dataset.tenant_id, dataset.id, embedder_for(dataset.embd_id))


def get_index_opener() -> IndexOpener:
    return open_dataset_index


Indexes = Annotated[Any, Depends(get_index_opener)]


# ---------------------------------------------------------------- reading RAGFlow's request
def _number(body: Mapping[str, Any], name: str, default: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ArgumentError(f"`{name}` must be a number, not {value!r}.")
    try:
        number = float(value)
    except ValueError as error:  # RAGFlow's float() raises, and it answers the repr with code 100
        raise CrashLikeError(repr(error)) from None
    if not math.isfinite(number):
        raise ArgumentError(f"`{name}` must be a finite number, not {value!r}.")
    return number


def _whole(body: Mapping[str, Any], name: str, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError as error:  # RAGFlow's int() raises, and it answers the repr with code 100
            raise CrashLikeError(repr(error)) from None
    try:
        return int(value) if not isinstance(value, bool | list | dict) else int("x")
    except (TypeError, ValueError, OverflowError):
        raise ArgumentError(f"`{name}` must be an integer, not {value!r}.") from None


def _highlight(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise DataError("`highlight` should be a boolean")


def metadata_conditions(raw: Any) -> tuple[tuple[MetadataCondition, ...], str]:
    """RAGFlow's metadata_condition: `{"logic": "and"|"or", "conditions": [{"name",
    "comparison_operator", "value"}]}`; an empty one filters nothing."""
    if not raw:
        return (), "and"
    if not isinstance(raw, dict):
        raise DataError("metadata_condition must be an object.")
    items = raw.get("conditions") or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise DataError("metadata_condition.conditions must be a list of objects.")
    conditions = tuple(
        MetadataCondition(str(item.get("name", "")), str(item.get("comparison_operator", "=")), item.get("value"))
        for item in items
    )
    return conditions, str(raw.get("logic") or "and").lower()


def _ids(body: Mapping[str, Any], name: str) -> list[Any]:
    values = body.get(name)
    if len(values or []) > MAX_IDS:
        raise ArgumentError(f"{name} must contain at most {MAX_IDS} IDs")
    return list(values or [])


def retrieval_query(body: Mapping[str, Any]) -> RetrievalQuery:
    """Today's request, checked in RAGFlow's order with RAGFlow's messages."""
    if not body.get("dataset_ids"):
        raise DataError("`dataset_ids` is required.")
    if not isinstance(body["dataset_ids"], list):
        raise DataError("`dataset_ids` should be a list")
    dataset_ids = tuple(str(value) if isinstance(value, str) else repr(value) for value in _ids(body, "dataset_ids"))
    if "question" not in body:
        raise DataError("`question` is required.")
    page, size = page_number(body.get("page")), page_size(body.get("page_size"))
    question = body["question"]
    if isinstance(question, str):
        question = question.strip()
    elif question:
        raise ArgumentError(f"`question` must be a string, not {type(question).__name__}.")
    document_ids = body.get("document_ids") or []
    if not isinstance(document_ids, list):
        raise DataError("`documents` should be a list")
    conditions, logic = metadata_conditions(body.get("metadata_condition")) if not document_ids else ((), "and")
    top_k = _whole(body, "top_k", DEFAULT_TOP_K)
    if top_k <= 0:
        raise DataError("`top_k` must be greater than 0")
    options = RetrievalOptions(
        similarity_threshold=_number(body, "similarity_threshold", DEFAULT_SIMILARITY_THRESHOLD),
        vector_similarity_weight=_number(body, "vector_similarity_weight", DEFAULT_VECTOR_SIMILARITY_WEIGHT),
        top_k=top_k,
        page=page,
        page_size=size,
        highlight=_highlight(body.get("highlight")),
    )
    refuse_what_needs_a_model(body.get("rerank_id"), body.get("cross_languages"))
    return RetrievalQuery(
        question=question or "",
        dataset_ids=dataset_ids,
        document_ids=tuple(str(value) for value in document_ids),
        options=options,
        metadata_conditions=conditions,
        metadata_logic=logic,
    )


def refuse_what_needs_a_model(rerank_id: Any, cross_languages: Any) -> None:
    """A rerank model or a translation of the question changes the answer asked for, and this
    service runs neither: answered clearly rather than ignored (both retrieval request forms)."""
    if rerank_id:
        raise DataError(
            f"rerank_id '{rerank_id}': this service runs no rerank model; send the request without "
            "rerank_id (chunks are ranked by RAGFlow's weighted keyword and vector similarity)."
        )
    if cross_languages:
        raise DataError(
            "cross_languages needs a chat model to translate the question, and this service runs none; "
            "ask in the documents' language, without cross_languages."
        )


# ---------------------------------------------------------------- today's view
def ranked_chunk(ranked: Ranked[Any], retrieved: Retrieved, highlight: bool) -> dict[str, Any]:
    """A hit under the field names of RAGFlow's retriever (`chunk_id`, `content_with_weight`,
    `doc_id`, `docnm_kwd`, `kb_id`, ...), as its dataset search routes answer it."""
    hit = ranked.hit
    document = retrieved.documents.get(hit.document_id)
    view: dict[str, Any] = {
        "chunk_id": hit.chunk_id,
        "content_ltks": " ".join(tokens(hit.content)),
        "content_with_weight": hit.content,
        "doc_id": hit.document_id,
        "docnm_kwd": document.name if document else hit.document_name,
        "kb_id": hit.dataset_id,
        "important_kwd": list(hit.important_keywords),
        "tag_kwd": [],
        "image_id": hit.image_id,
        "similarity": ranked.similarity,
        "vector_similarity": ranked.vector_similarity,
        "term_similarity": ranked.term_similarity,
        "positions": hit.positions if hit.positions is not None else [],
        "doc_type_kwd": "image" if hit.image_id else "",
        "mom_id": "",
    }
    if highlight:
        view["highlight"] = ranked.highlight if ranked.highlight is not None else hit.content
    return view


# RAGFlow's /retrieval renames the retriever's fields to the SDK's (chunk_api.py retrieval_test)
_SDK_NAMES = {
    "chunk_id": "id",
    "content_with_weight": "content",
    "doc_id": "document_id",
    "important_kwd": "important_keywords",
    "question_kwd": "questions",
    "docnm_kwd": "document_keyword",
    "kb_id": "dataset_id",
}


def chunk_view(ranked: Ranked[Any], retrieved: Retrieved, highlight: bool) -> dict[str, Any]:
    """A chunk as today's /retrieval answers it: the retriever's fields under the SDK's names."""
    return {_SDK_NAMES.get(key, key): value for key, value in ranked_chunk(ranked, retrieved, highlight).items()}


def retrieval_answer(query: RetrievalQuery, retrieved: Retrieved) -> dict[str, Any]:
    if not query.question:
        return {"total": 0, "chunks": [], "doc_aggs": {}}  # RAGFlow answers an empty question so
    ranking = retrieved.ranking
    return {
        "chunks": [chunk_view(ranked, retrieved, query.options.highlight) for ranked in ranking.chunks],
        "doc_aggs": ranking.doc_aggs,
        "total": ranking.total,
    }


current_router = APIRouter()


@current_router.post("/api/v1/retrieval")
async def retrieval(
    request: Request, tenant_id: TenantId, datasets: Datasets, documents: Documents, indexes: Indexes, chunks: Chunks
):  # fmt: skip
    query = retrieval_query(await chunk_body(request))
    retrieved = retrieve(query, tenant_id, datasets, documents, indexes, chunks)
    return ok(retrieval_answer(query, retrieved))


# ---------------------------------------------------------------- Dify's external knowledge API
AUTH_FORMAT, AUTH_FAILED, KNOWLEDGE_MISSING = 1001, 1002, 2001
_DIFY_STATUS = {AUTH_FORMAT: 403, AUTH_FAILED: 403, KNOWLEDGE_MISSING: 404}


def dify_failure(error_code: int, message: str) -> JSONResponse:
    """Dify's error body, `{"error_code", "error_msg"}`, with the status its spec gives (400 for
    arguments and data errors, whose codes are RAGFlow's 101 and 102)."""
    return JSONResponse({"error_code": error_code, "error_msg": message}, status_code=_DIFY_STATUS.get(error_code, 400))


def _dify_domain_error(error: DomainError) -> JSONResponse:
    if error.kind is ErrorKind.AUTHENTICATION:
        return dify_failure(AUTH_FAILED, "Authorization failed")
    return dify_failure(101 if error.kind is ErrorKind.ARGUMENT else 102, error.message)


DIFY = Generation(
    domain_error=_dify_domain_error,
    invalid_request=lambda message: dify_failure(101, message),
    no_route=lambda _method, path, _detail: JSONResponse({"error_code": 404, "error_msg": f"Not Found: {path}"}, 404),
    crash=lambda message: JSONResponse({"error_code": 500, "error_msg": message}, status_code=500),
)


def dify_tenant(request: Request) -> str:
    """Dify sends `Authorization: Bearer <key>`: anything else is 1001, a key we do not know 1002."""
    header = (request.headers.get("authorization") or "").strip()
    if header[:7].lower() != "bearer " or not header[7:].strip():
        raise _DifyAuthFormat("Invalid Authorization header format. Expected 'Bearer <api-key>' format.")
    try:
        return current_tenant(request)
    except AuthenticationError:
        raise _DifyAuthFailed("Authorization failed") from None


class _DifyAuthFormat(DomainError):
    kind = ErrorKind.AUTHENTICATION


class _DifyAuthFailed(DomainError):
    kind = ErrorKind.AUTHENTICATION


def _setting(settings: Mapping[str, Any], name: str, default: float, kind: type) -> Any:
    value = settings.get(name, default)
    try:
        if isinstance(value, bool | list | dict) or value is None:
            raise ValueError
        number = kind(value)
        if not math.isfinite(number):
            raise ValueError
        return number
    except (TypeError, ValueError, OverflowError):
        raise ArgumentError(
            "invalid or malformed arguments: top_k must be integer and score_threshold must be numeric; "
        ) from None


def dify_query(body: Mapping[str, Any]) -> RetrievalQuery:
    missing = [name for name in ("knowledge_id", "query") if not body.get(name)]
    if missing:
        raise ArgumentError(f"required arguments are missing: {','.join(missing)}; ")
    if not isinstance(body["knowledge_id"], str) or not isinstance(body["query"], str):
        raise ArgumentError("invalid or malformed arguments: knowledge_id and query must be strings; ")
    settings = body.get("retrieval_setting") or {}
    if not isinstance(settings, dict):
        raise ArgumentError("invalid or malformed arguments: retrieval_setting must be an object; ")
    top_k = _setting(settings, "top_k", DEFAULT_TOP_K, int)
    threshold = _setting(settings, "score_threshold", 0.0, float)
    if top_k <= 0:
        raise ArgumentError("invalid or malformed arguments: top_k must be greater than 0; ")
    conditions, logic = metadata_conditions(body.get("metadata_condition"))
    options = RetrievalOptions(
        similarity_threshold=threshold,
        vector_similarity_weight=DEFAULT_VECTOR_SIMILARITY_WEIGHT,  # RAGFlow's Dify route fixes it
        top_k=top_k,
        page=1,
        page_size=top_k,
    )
    return RetrievalQuery(body["query"].strip(), (body["knowledge_id"],), (), options, conditions, logic)


def dify_records(retrieved: Retrieved) -> list[dict[str, Any]]:
    records = []
    for ranked in retrieved.ranking.chunks:
        hit = ranked.hit
        document = retrieved.documents.get(hit.document_id)
        metadata = dict(document.meta_fields) if document else {}
        metadata.update({"doc_id": hit.document_id, "document_id": hit.document_id})
        title = document.name if document else hit.document_name
        records.append({"content": hit.content, "score": ranked.similarity, "title": title, "metadata": metadata})
    return records


dify_router = APIRouter()


@dify_router.post("/api/v1/dify/retrieval")
async def dify_retrieval(
    request: Request, datasets: Datasets, documents: Documents, indexes: Indexes, chunks: Chunks
):  # fmt: skip
    try:
        tenant_id = dify_tenant(request)
    except _DifyAuthFormat:
        return dify_failure(AUTH_FORMAT, "Invalid Authorization header format. Expected 'Bearer <api-key>' format.")
    except _DifyAuthFailed:
        return dify_failure(AUTH_FAILED, "Authorization failed")
    query = dify_query(await chunk_body(request))
    try:
        owned_datasets(datasets, tenant_id, query.dataset_ids)  # another tenant's answers as missing
    except DataError:
        return dify_failure(KNOWLEDGE_MISSING, "The knowledge does not exist")
    retrieved = retrieve(query, tenant_id, datasets, documents, indexes, chunks)
    return JSONResponse({"records": dify_records(retrieved)})
