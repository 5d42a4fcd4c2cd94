"""What today's document routes accept, with RAGFlow's rules and wording (restated from its
`UpdateDocumentReq` and `DeleteDocumentReq`): an update ignores unknown fields but types are
strict; its problems are data errors (102), a delete's are argument errors (101)."""

from collections import Counter
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from kb_ingest.domain.document_changes import DocumentEdit
from kb_ingest.domain.errors import DataError
from kb_ingest.http.current.dataset_requests import TEXT_LIMIT, ParserConfig
from kb_ingest.http.current.requests import validation_message

# The methods a document may take (RAGFlow's document list: no `resume`, plus the
# document-only `knowledge_graph` and `audio`).
DOCUMENT_CHUNK_METHODS = (
    "naive", "manual", "qa", "table", "paper", "book", "laws", "presentation", "picture", "one",
    "knowledge_graph", "email", "audio", "tag",
)  # fmt: skip


class UpdateDocumentRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    name: Annotated[str | None, Field(max_length=TEXT_LIMIT)] = None
    chunk_method: Annotated[str | None, Field(max_length=TEXT_LIMIT)] = None
    pipeline_id: Annotated[str | None, Field(max_length=TEXT_LIMIT)] = None
    enabled: Annotated[int | None, Field(ge=0, le=1)] = None
    chunk_count: Annotated[int | None, Field(ge=0)] = None
    token_count: Annotated[int | None, Field(ge=0)] = None
    progress: Annotated[float | None, Field(ge=0.0, le=1.0)] = None
    parser_config: ParserConfig | None = None
    meta_fields: dict[str, Any] | None = Field(default_factory=dict)

    @field_validator("chunk_method", mode="after")
    @classmethod
    def _known_method(cls, method: str | None) -> str | None:
        if method and method not in DOCUMENT_CHUNK_METHODS:
            raise PydanticCustomError(
                "format_invalid", "`chunk_method` {chunk_method} doesn't exist", {"chunk_method": method}
            )
        return method

    @field_validator("meta_fields", mode="after")
    @classmethod
    def _flat_values(cls, meta_fields: dict[str, Any] | None) -> dict[str, Any] | None:
        for value in (meta_fields or {}).values():
            if isinstance(value, list):
                if not all(isinstance(item, str | int | float) for item in value):
                    raise PydanticCustomError("format_invalid", "The type is not supported in list: {v}", {"v": value})
            elif not isinstance(value, str | int | float):
                raise PydanticCustomError("format_invalid", "The type is not supported: {v}", {"v": value})
        return meta_fields


def document_edit(body: dict[str, Any]) -> DocumentEdit:
    """The body as a validated edit, or RAGFlow's data error (code 102) naming each problem."""
    try:
        fields = UpdateDocumentRequest.model_validate(body)
    except ValidationError as error:
        raise DataError(validation_message(error)) from None
    given = frozenset(body) & frozenset(UpdateDocumentRequest.model_fields)
    raw_config = body.get("parser_config")
    return DocumentEdit(
        given=given,
        name=fields.name,
        chunk_method=fields.chunk_method,
        # What the client sent (not the schema's defaults): it is merged into the document's own.
        parser_config=raw_config if isinstance(raw_config, dict) and fields.parser_config is not None else None,
        enabled=fields.enabled,
        meta_fields=fields.meta_fields,
        chunk_count=fields.chunk_count,
        token_count=fields.token_count,
        progress=fields.progress,
    )


class DeleteDocumentsRequest(BaseModel):
    """Document ids are any strings (connector documents are not UUIDs), but never repeated."""

    model_config = ConfigDict(extra="forbid", strict=True)

    ids: list[str] | None = None
    delete_all: bool = False

    @field_validator("ids", mode="after")
    @classmethod
    def _unique(cls, ids: list[str] | None) -> list[str] | None:
        duplicates = [item for item, count in Counter(ids or []).items() if count > 1]
        if duplicates:
            raise PydanticCustomError(
                "duplicate_uuids", "Duplicate ids: '{duplicate_ids}'", {"duplicate_ids": ", ".join(duplicates)}
            )
        return ids
