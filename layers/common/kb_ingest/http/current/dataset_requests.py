"""What today's dataset routes accept, with RAGFlow's rules and wording (restated from its
`api/utils/validation_utils.py`): unknown fields are refused, types are strict, names are 1-128
characters once stripped, permission is `me` or `team`, chunk_method one of RAGFlow's methods,
parser_config field by field, embedding_model `<model_name>@<provider>` (or a 32-hex id)."""

import re
import string
from collections import Counter
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kb_ingest.domain.pagination import MAX_PAGE_SIZE
from kb_ingest.domain.parser_config import parser_config_for

DATASET_NAME_LIMIT = 128
TEXT_LIMIT = 65535
MAX_IDS = 100
CHUNK_METHODS = (
    "naive", "book", "email", "laws", "manual", "one", "paper", "picture", "presentation", "qa", "table", "tag", "resume",
)  # fmt: skip
_CHUNK_METHOD_MESSAGE = (
    "Input should be " + ", ".join(f"'{m}'" for m in CHUNK_METHODS[:-1]) + f" or '{CHUNK_METHODS[-1]}'"
)
_RAPTOR_PROMPT = (
    "Summarize the paragraphs below without inventing facts or changing numbers.\n"
    "Output exactly two parts in the same language as the source:\n"
    "1. First line: a concise title only.\n"
    "2. Following lines: a concise summary of the content.\n"
    "Do not output labels, Markdown headings, bullet points, or any other commentary.\n\n"
    "Paragraphs:\n{cluster_content}"
)
# A dataset created without an embedding model gets RAGFlow's built-in default (this service
# embeds nothing itself; the field is kept for retrieval and for clients that read it).
DEFAULT_EMBEDDING_MODEL = "BAAI/bge-small-en-v1.5@Builtin"
DatasetName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=DATASET_NAME_LIMIT)]


def uuid_hex(value: Any) -> str:
    """A dataset id in any UUID spelling, as the 32 hex characters ids are stored with."""
    try:
        if isinstance(value, UUID):
            return value.hex
        if isinstance(value, str):
            return UUID(value).hex
    except ValueError:
        pass
    raise PydanticCustomError("invalid_uuid_format", "Invalid UUID format")


def unique_ids(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    ids = [uuid_hex(value) for value in values]
    duplicates = [item for item, count in Counter(ids).items() if count > 1]
    if duplicates:
        raise PydanticCustomError(
            "duplicate_uuids", "Duplicate ids: '{duplicate_ids}'", {"duplicate_ids": ", ".join(duplicates)}
        )
    return ids


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ---------------------------------------------------------------- parser_config
class RaptorConfig(_Strict):
    use_raptor: bool = False
    prompt: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = _RAPTOR_PROMPT
    max_token: Annotated[int, Field(ge=512, le=2048)] = 512
    clustering_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3
    clustering_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    max_cluster: Annotated[int, Field(ge=1, le=1024)] = 64
    random_seed: Annotated[int, Field(ge=0)] = 0
    scope: Literal["file", "dataset"] = "file"
    auto_disable_for_structured_data: bool = True

    @model_validator(mode="before")
    @classmethod
    def _drop_legacy_fields(cls, value: Any) -> Any:
        """Older clients send `threshold`, `ext`, ... and max_token below today's floor: RAGFlow
        accepts and drops them, so do we."""
        if not isinstance(value, dict):
            return value
        value = dict(value)
        legacy_ext = value.pop("ext", None)
        if (
            isinstance(legacy_ext, dict)
            and value.get("clustering_threshold") is None
            and "clustering_threshold" in legacy_ext
        ):
            value["clustering_threshold"] = legacy_ext["clustering_threshold"]
        for legacy in ("threshold", "clustering_method", "tree_builder"):
            value.pop(legacy, None)
        max_token = value.get("max_token")
        if isinstance(max_token, int | float) and not isinstance(max_token, bool) and max_token < 512:
            value["max_token"] = 512
        return value


class GraphragConfig(_Strict):
    use_graphrag: bool = False
    entity_types: list[str] = Field(default_factory=lambda: ["organization", "person", "geo", "event", "category"])
    method: Literal["light", "general", "ner"] = "light"
    community: bool = False
    resolution: bool = False
    batch_chunk_token_size: Annotated[int, Field(ge=512, le=8196)] = 4096
    retry_attempts: Annotated[int, Field(ge=1, le=10)] = 2
    retry_backoff_seconds: Annotated[float, Field(ge=0.0, le=600.0)] = 2.0
    retry_backoff_max_seconds: Annotated[float, Field(ge=0.0, le=3600.0)] = 60.0
    build_subgraph_timeout_per_chunk_seconds: Annotated[int, Field(ge=1, le=86400)] = 300
    build_subgraph_min_timeout_seconds: Annotated[int, Field(ge=1, le=86400)] = 600
    merge_timeout_seconds: Annotated[int, Field(ge=0, le=86400)] = 180
    resolution_timeout_seconds: Annotated[int, Field(ge=0, le=86400)] = 1800
    community_timeout_seconds: Annotated[int, Field(ge=0, le=86400)] = 1800
    lock_acquire_timeout_seconds: Annotated[int, Field(ge=0, le=86400)] = 600


class ParentChildConfig(_Strict):
    use_parent_child: bool = False
    children_delimiter: Annotated[str, Field(min_length=1)] = "\n"


class ParserConfig(_Strict):
    auto_keywords: Annotated[int, Field(ge=0, le=32)] = 0
    auto_questions: Annotated[int, Field(ge=0, le=10)] = 0
    chunk_token_num: Annotated[int, Field(ge=1, le=2048)] = 512
    delimiter: Annotated[str, Field(min_length=1)] = "\n"
    graphrag: GraphragConfig = Field(default_factory=GraphragConfig)
    html4excel: bool = False
    layout_recognize: str = "DeepDOC"
    parent_child: ParentChildConfig = Field(default_factory=ParentChildConfig)
    enable_children: bool = False
    children_delimiter: str = ""
    raptor: RaptorConfig = Field(default_factory=RaptorConfig)
    tag_kb_ids: list[str] = Field(default_factory=list)
    topn_tags: Annotated[int, Field(ge=1, le=10)] = 1
    filename_embd_weight: Annotated[float | None, Field(ge=0.0, le=1.0)] = 0.1
    task_page_size: Annotated[int | None, Field(ge=1)] = None
    pages: list[list[int]] | None = None
    compilation_template_group_id: list[str] = Field(default_factory=list)
    ext: dict[str, Any] = Field(default_factory=dict)
    table_column_mode: Literal["auto", "manual"] | None = None
    table_column_roles: dict[str, Literal["indexing", "metadata", "both"]] | None = None
    table_column_names: list[str] | None = None

    @field_validator("table_column_roles", mode="before")
    @classmethod
    def _legacy_vectorize_role(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {str(key): "indexing" if role == "vectorize" else role for key, role in value.items()}

    @field_validator("compilation_template_group_id", mode="before")
    @classmethod
    def _group_ids(cls, value: Any) -> Any:
        raw = [value] if isinstance(value, str) else value
        if not isinstance(raw, list):
            return []
        seen: list[str] = []
        for group_id in raw:
            if isinstance(group_id, str) and group_id.strip() and group_id.strip() not in seen:
                seen.append(group_id.strip())
        return seen


class AutoMetadataField(_Strict):
    key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    type: Literal["string", "list", "time", "number"]
    description: Annotated[str | None, Field(max_length=TEXT_LIMIT)] = None
    enum: list[str] | None = None


class AutoMetadataConfig(_Strict):
    metadata: list[AutoMetadataField] = Field(default_factory=list)
    built_in_metadata: list[AutoMetadataField] = Field(default_factory=list)


# ---------------------------------------------------------------- create and update
class CreateDatasetRequest(_Strict):
    name: DatasetName
    avatar: Annotated[str | None, Field(max_length=TEXT_LIMIT)] = None
    description: Annotated[str | None, Field(max_length=TEXT_LIMIT)] = None
    embedding_model: Annotated[str | None, Field(max_length=255)] = None
    permission: Annotated[Literal["me", "team"], Field(min_length=1, max_length=16)] = "me"
    parse_type: Annotated[int | None, Field(ge=0, le=64)] = None
    pipeline_id: Annotated[str | None, Field(min_length=32, max_length=32)] = None
    chunk_method: str | None = None
    parser_config: ParserConfig | None = None
    auto_metadata_config: AutoMetadataConfig | None = None
    ext: dict[str, Any] = Field(default_factory=dict)

    @field_validator("avatar", mode="after")
    @classmethod
    def _avatar_is_a_data_url(cls, value: str | None) -> str | None:
        if not value:
            return value
        if "," not in value:
            raise PydanticCustomError(
                "format_invalid", "missing MIME prefix. Expected format: data:<mime>;base64,<data>"
            )
        prefix = value.split(",", 1)[0]
        if not prefix.startswith("data:"):
            raise PydanticCustomError("format_invalid", "invalid MIME prefix format. Must start with 'data:'")
        allowed = ["image/jpeg", "image/png"]
        if prefix[5:].split(";")[0] not in allowed:
            raise PydanticCustomError(
                "format_invalid",
                "Unsupported MIME type. Allowed: {supported_mime_types}",
                {"supported_mime_types": allowed},
            )
        return value

    @field_validator("embedding_model", mode="before")
    @classmethod
    def _strip_embedding_model(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("embedding_model", mode="after")
    @classmethod
    def _embedding_model_format(cls, value: str | None) -> str | None:
        if value is None or re.fullmatch(r"[0-9a-fA-F]{32}", value):
            return value
        if "@" not in value:
            raise PydanticCustomError(
                "format_invalid", "embedding model identifier must follow <model_name>@<provider> format"
            )
        model_name, provider = value.split("@", 1)
        if not model_name or not provider:
            raise PydanticCustomError("format_invalid", "both model_name and provider must be non-empty strings")
        if not model_name.strip() or not provider.strip():
            raise PydanticCustomError("format_invalid", "Model name and provider cannot be whitespace-only strings")
        return value

    @field_validator("parser_config", mode="before")
    @classmethod
    def _empty_parser_config_is_none(cls, value: Any) -> Any:
        return None if value == {} else value

    @field_validator("parser_config", mode="after")
    @classmethod
    def _parser_config_size(cls, value: ParserConfig | None) -> ParserConfig | None:
        if value is not None and len(size := value.model_dump_json()) > TEXT_LIMIT:
            raise PydanticCustomError(
                "string_too_long",
                "Parser config exceeds size limit (max 65,535 characters). Current size: {actual}",
                {"actual": len(size)},
            )
        return value

    @field_validator("pipeline_id", mode="before")
    @classmethod
    def _pipeline_dropped_in_parser_mode(cls, value: Any, info: ValidationInfo) -> Any:
        return None if value is not None and info.data.get("parse_type", 0) == 1 else value

    @field_validator("pipeline_id", mode="after")
    @classmethod
    def _pipeline_id_hex(cls, value: str | None) -> str | None:
        if not value:
            return None
        if any(ch not in string.hexdigits for ch in value):
            raise PydanticCustomError("format_invalid", "pipeline_id must be hexadecimal")
        return value.lower()

    @field_validator("chunk_method", mode="wrap")
    @classmethod
    def _chunk_method_known(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        try:
            method = handler(value)
        except Exception:
            raise PydanticCustomError("literal_error", _CHUNK_METHOD_MESSAGE) from None
        if (not method and not info.data.get("pipeline_id")) or (method and method not in CHUNK_METHODS):
            raise PydanticCustomError("literal_error", _CHUNK_METHOD_MESSAGE)
        return method

    @model_validator(mode="after")
    def _one_way_to_parse(self) -> Self:
        """A chunk method, or an ingestion pipeline (parse_type and pipeline_id), never both."""
        if self.chunk_method is None and "chunk_method" not in self.model_fields_set:
            if self.parse_type is None and self.pipeline_id is None:
                # the default, without marking the field as sent (an update leaves it alone)
                object.__setattr__(self, "chunk_method", "naive")
                return self
            missing = [name for name in ("parse_type", "pipeline_id") if getattr(self, name) is None]
            if missing:
                raise PydanticCustomError(
                    "dependency_error",
                    "parser_id omitted → required fields missing: {fields}",
                    {"fields": ", ".join(missing)},
                )
            return self
        invalid = []
        if self.parse_type not in (None, 1):
            invalid.append("parse_type")
        if self.pipeline_id is not None:
            invalid.append("pipeline_id")
        if invalid:
            raise PydanticCustomError(
                "dependency_error",
                "parser_id provided → disallowed fields present: {fields}",
                {"fields": ", ".join(invalid)},
            )
        return self

    def settings(self) -> dict[str, Any]:
        """The new dataset's settings by today's field names, parser_config laid over its
        method's defaults."""
        given = None if self.parser_config is None else self.parser_config.model_dump()
        return {
            "avatar": self.avatar,
            "description": self.description,
            "embedding_model": self.embedding_model or DEFAULT_EMBEDDING_MODEL,
            "permission": self.permission,
            "chunk_method": self.chunk_method or "naive",
            "parser_config": parser_config_for(self.chunk_method, given),
        }


class UpdateDatasetRequest(CreateDatasetRequest):
    """Every field optional; only the fields sent change (`model_fields_set`)."""

    name: DatasetName = ""
    pagerank: Annotated[int, Field(ge=0, le=100)] = 0
    language: Annotated[str | None, Field(max_length=32)] = None
    connectors: list[dict[str, Any]] = Field(default_factory=list)
    dataset_id: str  # the path's id, checked like the body (RAGFlow reports it as a field)

    @field_validator("dataset_id", mode="before")
    @classmethod
    def _dataset_id(cls, value: Any) -> str:
        return uuid_hex(value)

    def changes(self) -> dict[str, Any]:
        """Only the fields sent, by today's names; parser_config holds only the settings sent.
        Connectors, ingestion pipelines and `ext` are accepted and not kept."""
        ignored = {"dataset_id", "connectors", "ext", "auto_metadata_config", "parse_type", "pipeline_id"}
        return self.model_dump(exclude_unset=True, exclude=ignored)


# ---------------------------------------------------------------- list and delete
class ListDatasetsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    ids: Annotated[list[str] | None, Field(max_length=MAX_IDS)] = None
    name: str | None = None
    page: Annotated[int, Field(ge=1)] = 1
    page_size: Annotated[int, Field(ge=1)] = 30
    orderby: Literal["create_time", "update_time"] = "create_time"
    desc: bool = True
    include_parsing_status: bool = False
    ext: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> str:
        return uuid_hex(value)

    @field_validator("ids", mode="after")
    @classmethod
    def _ids(cls, values: list[str] | None) -> list[str] | None:
        return unique_ids(values)

    @field_validator("page_size", mode="after")
    @classmethod
    def _page_size_cap(cls, value: int) -> int:
        if value > MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be less than or equal to {MAX_PAGE_SIZE}")
        return value


class DeleteDatasetsRequest(_Strict):
    ids: list[str] | None = None
    delete_all: bool = False

    @field_validator("ids", mode="after")
    @classmethod
    def _ids(cls, values: list[str] | None) -> list[str] | None:
        return unique_ids(values)
