"""THE one conversion between domain records and today's API (field names and values).

The domain keeps RAGFlow's storage names (`kb_id`, `parser_id`, `embd_id`, `chunk_num`,
`doc_num`, run `"3"`); today's API shows `dataset_id`, `chunk_method`, `embedding_model`,
`chunk_count`, `document_count`, run `"DONE"`. One section per resource; the shared helpers
come first.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kb_ingest.clock import rfc1123

if TYPE_CHECKING:
    from kb_ingest.domain.chunks import StoredChunk
    from kb_ingest.domain.datasets import Dataset
    from kb_ingest.domain.documents import Document


# ---------------------------------------------------------------- shared helpers
def renamed(values: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """`values` with each key in `names` replaced by its name there, the rest as they are."""
    return {names.get(key, key): value for key, value in values.items()}


def domain_names(values: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """The inverse of `renamed`: today's field names back to the domain's."""
    inverse = {api: domain for domain, api in names.items()}
    return {inverse.get(key, key): value for key, value in values.items()}


def dates(create_time: int, update_time: int) -> dict[str, Any]:
    """Timestamps as RAGFlow shows them: epoch milliseconds plus an HTTP date."""
    return {
        "create_time": create_time,
        "create_date": rfc1123(create_time),
        "update_time": update_time,
        "update_date": rfc1123(update_time),
    }


# The document run status: stored as RAGFlow stores it ("0".."4"), shown by name.
RUN_NAMES = {"0": "UNSTART", "1": "RUNNING", "2": "CANCEL", "3": "DONE", "4": "FAIL"}
RUN_CODES = {name: code for code, name in RUN_NAMES.items()}


def run_name(run: str) -> str:
    return RUN_NAMES.get(run, run)


# ---------------------------------------------------------------- datasets
DATASET_NAMES = {
    "parser_id": "chunk_method",
    "embd_id": "embedding_model",
    "chunk_num": "chunk_count",
    "doc_num": "document_count",
}


def dataset_view(dataset: "Dataset") -> dict[str, Any]:
    """A dataset as today's API answers it (ragflow-sdk's `DataSet` reads these fields)."""
    return {
        "id": dataset.id,
        "name": dataset.name,
        "avatar": dataset.avatar,
        "description": dataset.description,
        "tenant_id": dataset.tenant_id,
        "created_by": dataset.created_by,
        "language": dataset.language,
        "embedding_model": dataset.embd_id,
        "permission": dataset.permission,
        "chunk_method": dataset.parser_id,
        "parser_config": dataset.parser_config,
        "pagerank": dataset.pagerank,
        "pipeline_id": None,
        "similarity_threshold": dataset.similarity_threshold,
        "vector_similarity_weight": dataset.vector_similarity_weight,
        "status": dataset.status,
        "document_count": dataset.doc_num,
        "chunk_count": dataset.chunk_num,
        "token_num": dataset.token_num,
        # Beyond RAGFlow: chunk changes not yet searchable (0 once retrieval reflects every change).
        "search_lag": dataset.search_lag,
        **dates(dataset.create_time, dataset.update_time),
    }


def dataset_settings(request_fields: Mapping[str, Any]) -> dict[str, Any]:
    """Fields of a create or update request as the domain's dataset settings."""
    return domain_names(request_fields, DATASET_NAMES)


# ---------------------------------------------------------------- documents
DOCUMENT_NAMES = {
    "kb_id": "dataset_id",
    "parser_id": "chunk_method",
    "chunk_num": "chunk_count",
    "token_num": "token_count",
    "process_duation": "process_duration",
}


def document_view(document: "Document") -> dict[str, Any]:
    """A document as today's API answers it (ragflow-sdk's `Document` reads these fields)."""
    from kb_ingest.domain.documents import extension_of

    return {
        "id": document.id,
        "name": document.name,
        "dataset_id": document.kb_id,
        "chunk_method": document.parser_id,
        "pipeline_id": None,
        "parser_config": document.parser_config,
        "source_type": document.source_type,
        "type": document.type,
        "created_by": document.created_by,
        "location": document.location,
        "size": document.size,
        "thumbnail": document.thumbnail,
        "suffix": extension_of(document.name),
        "chunk_count": document.chunk_num,
        "token_count": document.token_num,
        "progress": document.progress,
        "progress_msg": document.progress_msg,
        "process_begin_at": rfc1123(document.process_begin_at) if document.process_begin_at else None,
        "process_duration": document.process_duation,
        "run": run_name(document.run),
        "status": document.status,
        "meta_fields": document.meta_fields,
        **dates(document.create_time, document.update_time),
    }


# ---------------------------------------------------------------- chunks
def chunk_view(chunk: "StoredChunk", document_name: str) -> dict[str, Any]:
    """A chunk as today's API lists it (ragflow-sdk's `Chunk` reads these fields)."""
    from datetime import UTC, datetime

    created = datetime.fromtimestamp(chunk.create_time / 1000, UTC)
    return {
        "id": chunk.id,
        "content": chunk.content,
        "document_id": chunk.document_id,
        "docnm_kwd": document_name,
        "document_keyword": document_name,
        "important_keywords": chunk.important_keywords,
        "tag_kwd": chunk.tag_kwd,
        "questions": chunk.questions,
        "dataset_id": chunk.dataset_id,
        "image_id": chunk.image_id,
        "doc_type_kwd": "image" if chunk.image_id else "text",
        "available": chunk.available,
        "positions": chunk.positions,
        "token_count": chunk.token_count,
        "create_time": created.strftime("%Y-%m-%d %H:%M:%S"),
        "create_timestamp": chunk.create_time / 1000,
        **({"extra": chunk.extra} if chunk.extra else {}),
    }


def chunk_record_view(chunk: "StoredChunk", document_name: str) -> dict[str, Any]:
    """One chunk as RAGFlow's `GET .../chunks/{chunk_id}` answers it: its stored field names
    (`doc_id`, `kb_id`, `content_with_weight`, ...) beside today's."""
    return {
        **chunk_view(chunk, document_name),
        "doc_id": chunk.document_id,
        "kb_id": chunk.dataset_id,
        "content_with_weight": chunk.content,
        "important_kwd": chunk.important_keywords,
        "question_kwd": chunk.questions,
        "img_id": chunk.image_id,
        "available_int": 1 if chunk.available else 0,
        "position_int": chunk.positions,
        "page_num_int": [chunk.page] if chunk.page is not None else [],
        "create_timestamp_flt": chunk.create_time / 1000,
    }
