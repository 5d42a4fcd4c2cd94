"""Changing a document through the current API (`PATCH`/`PUT /datasets/{id}/documents/{id}`):
name, chunk method, parser_config, enabled, meta_fields, with RAGFlow's checks in RAGFlow's
order. The request's types and ranges are checked before (the http layer validates the body
against RAGFlow's schema); what needs the stored document is checked here.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kb_ingest.clock import now_ms
from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.documents import MAX_NAME_BYTES, Document, NameTaken, extension_of
from kb_ingest.domain.errors import ArgumentError, DataError
from kb_ingest.domain.naming import split_extension

_PRESENTATION = ("ppt", "pptx", "pages")
_EMAIL = ("msg", "eml")


@dataclass(frozen=True)
class DocumentEdit:
    """A validated update request: only the fields in `given` were sent."""

    given: frozenset[str]
    name: str | None = None
    chunk_method: str | None = None
    parser_config: dict[str, Any] | None = None
    enabled: int | None = None
    meta_fields: dict[str, Any] | None = None
    chunk_count: int | None = None
    token_count: int | None = None
    progress: float | None = None


class EditStore(Protocol):
    def get(self, dataset_id: str, document_id: str) -> Document | None: ...

    def update(self, document: Document, values: dict[str, Any], new_name: str | None) -> Document | None: ...


class EditRuns(Protocol):
    def reset(self, document: Document, values: dict[str, Any], now: int) -> Document | None: ...


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`changes` laid over `base`, nested objects merged key by key (RAGFlow's dfs_update)."""
    result = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def _check_immutables(edit: DocumentEdit, document: Document) -> None:
    if edit.chunk_count is not None and edit.chunk_count != document.chunk_num:
        raise DataError("can't change `chunk_count`")
    if edit.token_count is not None and edit.token_count != document.token_num:
        raise DataError("can't change `token_count`")
    if edit.progress is not None and not math.isclose(edit.progress, document.progress):
        raise DataError("can't change `progress`")


def _check_name(name: str, document: Document) -> None:
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ArgumentError(f"File name must be {MAX_NAME_BYTES} bytes or less.")
    if split_extension(name.lower())[1] != split_extension(document.name.lower())[1]:
        raise ArgumentError("The extension of file can't be changed")


def _check_chunk_method(method: str, document: Document) -> None:
    if method == "":
        raise DataError("`chunk_method` (empty string) is not valid")
    extension = extension_of(document.name)
    if (
        (document.type == "visual" and method != "picture")
        or (document.type == "aural" and method != "audio")
        or (extension in _PRESENTATION and method != "presentation")
        or (extension in _EMAIL and method != "email")
    ):
        raise DataError("the automatically detected parser type cannot be changed")


def edit_document(
    store: EditStore,
    runs: EditRuns,
    dataset: Dataset | None,
    dataset_id: str,
    document_id: str,
    edit: DocumentEdit | Callable[[], DocumentEdit],
    default_parser_config: Callable[[str], dict[str, Any]],
) -> Document:
    """Apply the edit; the document as it is afterwards. `edit` may be a function validating
    the request: RAGFlow checks the dataset and the document before the request's fields."""
    if dataset is None:
        raise DataError("you don't own the dataset")
    document = store.get(dataset.id, document_id)
    if document is None:
        raise DataError("the dataset doesn't own the document")
    if not isinstance(edit, DocumentEdit):
        edit = edit()
    _check_immutables(edit, document)
    new_name = None
    if "name" in edit.given and edit.name is not None and edit.name != document.name:
        _check_name(edit.name, document)
        new_name = edit.name
    if "chunk_method" in edit.given and edit.chunk_method is not None:
        _check_chunk_method(edit.chunk_method, document)

    values: dict[str, Any] = {}
    if "meta_fields" in edit.given and edit.meta_fields is not None:
        values["meta_fields"] = edit.meta_fields
    parser_config = document.parser_config
    if edit.parser_config:
        parser_config = merged(document.parser_config, edit.parser_config)
        values.update(parser_config=parser_config, config_pinned=True)
    method_changed = bool(edit.chunk_method) and edit.chunk_method.lower() != document.parser_id.lower()  # type: ignore[union-attr]
    if edit.chunk_method and not edit.parser_config:
        # A chunk method without parser_config takes that method's defaults, as RAGFlow's does.
        values.update(parser_config=merged(parser_config, default_parser_config(edit.chunk_method)), config_pinned=True)
    if "enabled" in edit.given and edit.enabled is not None:
        values["status"] = str(edit.enabled)
    now = now_ms()
    if values or new_name:
        values["update_time"] = now
        try:
            updated = store.update(document, values, new_name)
        except NameTaken:
            raise DataError("Duplicated document name in the same dataset.") from None
        if updated is None:
            raise DataError("the dataset doesn't own the document")
        document = updated
    if method_changed:
        # Another chunk method invalidates the chunks: back to UNSTART, to be parsed again.
        reset = runs.reset(document, {"parser_id": edit.chunk_method, "parser_pinned": True}, now)
        if reset is None:
            raise DataError("Document not found!")
        document = reset
    return document
