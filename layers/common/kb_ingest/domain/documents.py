"""Documents of a dataset: the contract's rules for upload, list, update, delete and download.

Pure logic: storage comes in as a `DocumentStore` and the bucket as a `FileStore`.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from kb_ingest.clock import new_id, now_ms, rfc1123
from kb_ingest.domain.datasets import PARSER_TYPES, Dataset, parse_bool, parse_int
from kb_ingest.domain.errors import ArgumentError, DataError, RangeError, UploadRefused
from kb_ingest.domain.naming import split_extension

MAX_FILES_PER_UPLOAD = 256
# Today's API sets no count (RAGFlow's suites upload 1,000 small files at once); what bounds a
# request is API Gateway's 10 MB and 30 seconds, which this many files fit in.
MAX_FILES_PER_REQUEST = 1000
MAX_NAME_BYTES = 255

# RAGFlow's type-by-extension table. The `doc` list adds a few text formats RAGFlow's later
# versions accept (eml, yaml, markdown, tsv, log, sql); everything else in it is RAGFlow's.
_DOC_EXTENSIONS = set(
    [
        "doc",
        "docx",
        "ppt",
        "pptx",
        "yml",
        "yaml",
        "xml",
        "htm",
        "html",
        "json",
        "csv",
        "tsv",
        "txt",
        "ini",
        "xls",
        "xlsx",
        "wps",
        "rtf",
        "hlp",
        "pages",
        "numbers",
        "key",
        "md",
        "markdown",
        "py",
        "js",
        "java",
        "c",
        "cpp",
        "h",
        "php",
        "go",
        "ts",
        "sh",
        "cs",
        "kt",
        "eml",
        "log",
        "sql",
    ]
)
_AURAL_EXTENSIONS = set(
    ["wav", "flac", "mp3", "aac", "ogg", "opus", "m4a", "wma", "ape", "amr", "aiff", "au", "midi", "mid"]
)
_VISUAL_EXTENSIONS = set(
    [
        "jpg",
        "jpeg",
        "png",
        "gif",
        "tif",
        "tiff",
        "svg",
        "webp",
        "bmp",
        "ico",
        "icon",
        "psd",
        "pcx",
        "tga",
        "exif",
        "fpx",
        "eps",
        "raw",
        "cdr",
        "heic",
        "heif",
        "avif",
        "mp4",
        "mov",
        "avi",
        "flv",
        "mpeg",
        "mpg",
        "mkv",
        "webm",
        "wmv",
        "3gp",
        "m4v",
    ]
)
_PRESENTATION_EXTENSIONS = {"ppt", "pptx", "pages"}

RunStatus = Literal["0", "1", "2", "3", "4"]
RUN_STATUS_NAMES = {"0": "UNSTART", "1": "RUNNING", "2": "CANCEL", "3": "DONE", "4": "FAIL"}
DocumentOrder = Literal["create_time", "update_time", "name"]
_ORDERS = ("create_time", "update_time", "name")
_UPDATABLE = ("name", "enable", "template_type")


def extension_of(name: str) -> str:
    """`a.PDF` -> `pdf`; `.txt` -> `txt` (RAGFlow matches the extension even on a dot-file)."""
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def file_type(name: str) -> str | None:
    """RAGFlow's document type (`pdf`, `doc`, `aural`, `visual`), or None when unsupported."""
    extension = extension_of(name)
    if extension == "pdf":
        return "pdf"
    if extension in _DOC_EXTENSIONS:
        return "doc"
    if extension in _AURAL_EXTENSIONS:
        return "aural"
    if extension in _VISUAL_EXTENSIONS:
        return "visual"
    return None


def parser_for(name: str, kind: str, dataset_parser_id: str) -> str:
    if kind == "visual":
        return "picture"
    if extension_of(name) in _PRESENTATION_EXTENSIONS:
        return "presentation"
    return dataset_parser_id


def clean_filename(raw: str) -> str:
    """The name a user sees: the last path component, without control characters.

    Browsers send base names; a `../../x` or `C:\\dir\\x` from another client keeps only `x`.
    The name is metadata only: storage keys are made of ids.
    """
    name = re.split(r"[\\/]", raw)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    return name.strip()


_INTERNAL_FIELDS = (
    "version", "tenant_id", "run_id", "chunks_run_id", "lease_until", "source_etag", "parsed_etag",
    "settings_fingerprint", "parser_pinned", "config_pinned", "next_retry_at", "last_error_class", "history",
    "upload_max_bytes", "meta_fields",
)  # fmt: skip


@dataclass
class Document:
    id: str
    kb_id: str
    tenant_id: str
    name: str
    type: str
    parser_id: str
    parser_config: dict[str, Any]
    size: int
    create_time: int
    update_time: int
    created_by: str = ""
    location: str = ""
    thumbnail: str | None = None
    source_type: str = "local"
    status: str = "1"
    run: str = "0"
    progress: float = 0.0
    progress_msg: str = ""
    process_begin_at: int | None = None
    process_duation: float = 0.0
    chunk_num: int = 0
    token_num: int = 0
    # Beyond RAGFlow: `pending` while a presigned upload has not arrived yet.
    upload_status: str = "done"
    upload_max_bytes: int | None = None  # a presigned upload's limit, for every post of its form
    run_id: str | None = None
    chunks_run_id: str | None = None
    lease_until: int | None = None
    source_key: str | None = None
    source_etag: str | None = None
    parsed_etag: str | None = None
    settings_fingerprint: str | None = None
    parser_pinned: bool = False
    # The document has its own parser_config (set through the current API): runs use it.
    config_pinned: bool = False
    # User metadata of the current API (`meta_fields`): flat values or lists of them.
    meta_fields: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    max_attempts: int = 3
    next_retry_at: int | None = None
    last_error_class: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    version: int = field(default=0, repr=False)

    def to_api(self) -> dict[str, Any]:
        body = asdict(self)
        for internal in _INTERNAL_FIELDS:
            del body[internal]
        body["create_date"] = rfc1123(self.create_time)
        body["update_date"] = rfc1123(self.update_time)
        body["process_begin_at"] = rfc1123(self.process_begin_at) if self.process_begin_at else None
        return dict(sorted(body.items()))


@dataclass(frozen=True)
class IncomingFile:
    """A file of an upload request, after multipart parsing."""

    filename: str | None
    content: bytes


class NameTaken(Exception):
    pass


class DocumentExists(Exception):
    """A document with this id was created by someone else a moment ago."""


class DatasetGone(Exception):
    """The dataset was deleted while documents were being added to it."""


class DocumentStore(Protocol):
    def add(self, dataset: Dataset, documents: list[Document]) -> list[Document]:
        """Store new documents (suffixing taken names) and count them on the dataset."""

    def get(self, dataset_id: str, document_id: str) -> Document | None: ...

    def locate(self, tenant_id: str, document_id: str) -> str | None:
        """The dataset id holding this tenant's document, wherever it is."""

    def list_page(
        self, dataset_id: str, order: DocumentOrder, descending: bool, offset: int, count: int, keywords: str
    ) -> tuple[list[Document], int | None]:
        """A page, and the number of matches when keywords made the store read them all."""

    def page_after(self, dataset_id: str, after: str | None, limit: int) -> tuple[list[Document], str | None]:
        """Documents in id order after `after`, and the cursor of the next page (None at the end)."""

    def empty_document_names(self, dataset_id: str, limit: int) -> tuple[list[str], bool]:
        """Up to `limit` names of the dataset's documents with an empty file, oldest first, and
        whether there are more; the cost follows the number of empty documents only."""

    def get_many(self, dataset_id: str, document_ids: list[str]) -> dict[str, "Document"]:
        """The documents of the dataset among these ids (a batch read)."""

    def fields_pages(self, dataset_id: str, fields: tuple[str, ...]) -> Iterable[list[dict[str, Any]]]:
        """The named fields of every document of the dataset, a page at a time (a projected Query)."""

    def meta_fields_pages(self, dataset_id: str) -> Iterable[list[tuple[str, dict[str, Any]]]]:
        """(id, meta_fields) of every document of the dataset, a page at a time."""

    def get_fields(self, dataset_id: str, document_id: str, fields: tuple[str, ...]) -> dict[str, Any] | None:
        """The named fields of one document (None when it does not exist)."""

    def set_meta_fields_many(self, dataset_id: str, changes: list[tuple[Any, dict[str, Any]]]) -> set[str]:
        """Replace each document's metadata (a `document_metadata.MetadataTarget` and its new
        value), all or nothing, each conditional on the version read; the ids changed meanwhile
        (nothing was written then)."""

    def find_by_name(self, dataset_id: str, name: str) -> "Document | None": ...

    def filtered_page(
        self, dataset_id: str, order: DocumentOrder, descending: bool, offset: int, count: int, wanted: Any
    ) -> tuple[list["Document"], int | None]:
        """A page of what `wanted` (a kb_ingest.domain.listing.DocumentFilter) selects."""

    def update(self, document: Document, values: dict[str, Any], new_name: str | None) -> Document | None: ...

    def remove(self, document: Document) -> bool:
        """Delete the record and its name, and drop its counts from the dataset."""

    def remove_many(self, documents: list[Document]) -> list[Document]:
        """`remove` for many documents of a dataset, batched; the ones this call removed."""


class FileStore(Protocol):
    def put_many(self, files: list[tuple[Document, bytes]]) -> None:
        """Store each document's content under the document's key."""

    def delete_files(self, document: Document) -> None:
        """The document's file and its parse output."""


# ---------------------------------------------------------------- upload
def check_upload(files: list[IncomingFile], dataset: Dataset | None, max_bytes: int) -> list[tuple[str, str]]:
    """Validate a whole upload before writing anything; return (clean name, type) per file."""
    if not files:
        raise ArgumentError("There is no file!")
    if len(files) > MAX_FILES_PER_UPLOAD:
        raise DataError(
            f"You try to upload {len(files)} files, which exceeds the maximum number of uploading files: "
            f"{MAX_FILES_PER_UPLOAD}"
        )
    if dataset is None:
        raise DataError("Can't find this dataset")
    checked = []
    for incoming in files:
        name = clean_filename(incoming.filename or "")
        if not name:
            raise ArgumentError("There is a file without name!")
        if "http" in name:
            raise ArgumentError("Remote files have not unsupported.")
        if len(name.encode("utf-8")) > MAX_NAME_BYTES:
            raise ArgumentError(f"File name must be {MAX_NAME_BYTES} bytes or less: {name[:64]}...")
        kind = file_type(name)
        if kind is None:
            raise DataError("This type of file has not been supported yet!")
        if len(incoming.content) > max_bytes:
            raise DataError(
                f"File {name} is {len(incoming.content)} bytes, over the {max_bytes}-byte limit of this route; "
                "upload it through POST /api/v1/dataset/{dataset_id}/documents/upload_url instead."
            )
        checked.append((name, kind))
    return checked


def new_document(
    dataset: Dataset,
    name: str,
    kind: str,
    size: int,
    document_id: str | None = None,
    created_at: int | None = None,
    **extra: Any,
) -> Document:
    now = created_at if created_at is not None else now_ms()
    return Document(
        id=document_id or new_id(),
        kb_id=dataset.id,
        tenant_id=dataset.tenant_id,
        created_by=dataset.tenant_id,
        name=name,
        location=name,
        type=kind,
        parser_id=parser_for(name, kind, dataset.parser_id),
        parser_pinned=parser_for(name, kind, dataset.parser_id) != dataset.parser_id,
        parser_config=dict(dataset.parser_config),
        size=size,
        create_time=now,
        update_time=now,
        **extra,
    )


def upload_documents(
    store: DocumentStore, files_store: FileStore, dataset: Dataset | None, files: list[IncomingFile], max_bytes: int
) -> list[dict[str, Any]]:
    checked = check_upload(files, dataset, max_bytes)
    assert dataset is not None
    # RAGFlow inserts the files one after another: the last of an upload is the newest.
    first = now_ms()
    documents = [
        new_document(dataset, name, kind, len(incoming.content), created_at=first + position)
        for position, ((name, kind), incoming) in enumerate(zip(checked, files, strict=True))
    ]
    # Files first, records second: until the records exist nobody can see the files, and an
    # object whose record never came is reclaimed by the scheduled sweep of uploads/.
    files_store.put_many([(document, incoming.content) for document, incoming in zip(documents, files, strict=True)])
    try:
        stored = store.add(dataset, documents)
    except DatasetGone:
        for document in documents:
            files_store.delete_files(document)
        raise DataError("Can't find this dataset") from None
    return [document.to_api() for document in stored]


# ---------------------------------------------------------------- list
def list_documents(store: DocumentStore, dataset: Dataset, query: Mapping[str, str]) -> dict[str, Any]:
    offset = parse_int(query, "offset", 0)
    count = parse_int(query, "count", -1)
    order = query.get("order_by") or "create_time"
    if order not in _ORDERS:
        raise ArgumentError(f"Illegal value {order} for 'order_by' field.")
    descending = parse_bool(query, "descend", True)
    keywords = (query.get("keywords") or "").strip()
    if offset < 0:
        raise RangeError("IndexError('Offset is out of the valid range.')")
    page, matches = store.list_page(dataset.id, order, descending, offset, count, keywords)  # type: ignore[arg-type]
    total = dataset.doc_num if matches is None else matches
    if offset > total:
        raise RangeError("IndexError('Offset is out of the valid range.')")
    return {"docs": [document.to_api() for document in page], "total": total}


# ---------------------------------------------------------------- update
def update_document(
    store: DocumentStore, dataset: Dataset | None, dataset_id: str, document_id: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    for key in body:
        if key not in _UPDATABLE:
            raise ArgumentError(f"{key} is an illegal parameter.")
    if not body:
        raise DataError("Please input at least one parameter that you want to update!")
    if dataset is None:
        raise DataError(f"This dataset {dataset_id} cannot be found!")
    document = store.get(dataset.id, document_id)
    if document is None:
        raise ArgumentError(f"This document {document_id} cannot be found!")
    values: dict[str, Any] = {}
    new_name = None
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not clean_filename(name):
            raise DataError("There is no new name.")
        name = clean_filename(name)
        if split_extension(name.lower())[1] != split_extension(document.name.lower())[1]:
            raise ArgumentError("The extension of file cannot be changed", data=False)
        if len(name.encode("utf-8")) > MAX_NAME_BYTES:
            raise ArgumentError(f"File name must be {MAX_NAME_BYTES} bytes or less.")
        if name.lower() == document.name.lower():
            # RAGFlow looks the name up in the dataset and finds the document itself.
            raise ArgumentError("Duplicated document name in the same dataset.")
        new_name = name
    if "enable" in body:
        enable = body["enable"]
        if str(enable) not in ("0", "1") or isinstance(enable, bool):
            raise DataError(f"Illegal value {enable} for 'enable' field.")
        values["status"] = str(enable)
    if "template_type" in body:
        template = body["template_type"]
        if template not in PARSER_TYPES:
            raise DataError(f"Illegal value {template} for 'template_type' field.")
        values["parser_id"] = template
        values["parser_pinned"] = True  # the user chose it: dataset parser changes leave it alone
    values["update_time"] = now_ms()
    try:
        updated = store.update(document, values, new_name)
    except NameTaken:
        raise ArgumentError("Duplicated document name in the same dataset.") from None
    if updated is None:
        raise ArgumentError(f"This document {document_id} cannot be found!")
    return updated.to_api()


# ---------------------------------------------------------------- delete
def delete_document(
    store: DocumentStore, files_store: FileStore, tenant_id: str, dataset_id: str, document_id: str
) -> bool:
    located = store.locate(tenant_id, document_id)
    if located is None:
        raise DataError(f"Document {document_id} not found!")
    if located != dataset_id:
        raise ArgumentError(
            f"The document {document_id} is not in the dataset: {dataset_id}, but in the dataset: {located}."
        )
    document = store.get(dataset_id, document_id)
    if document is None or not store.remove(document):
        raise DataError(f"Document {document_id} not found!")
    files_store.delete_files(document)
    return True


# ---------------------------------------------------------------- download
def document_to_download(store: DocumentStore, dataset: Dataset | None, dataset_id: str, document_id: str) -> Document:
    if dataset is None:
        raise DataError(f"This dataset '{dataset_id}' cannot be found!")
    document = store.get(dataset.id, document_id)
    if document is None:
        raise ArgumentError(f"This document '{document_id}' cannot be found!")
    if document.upload_status == "pending":
        raise DataError("This file has not been uploaded yet.")
    if document.size == 0:
        raise DataError("This file is empty.")
    return document


# ---------------------------------------------------------------- upload (current API)
def upload_checked_files(
    store: DocumentStore,
    files_store: FileStore,
    dataset: Dataset | None,
    dataset_id: str,
    files: list[IncomingFile] | None,
    max_bytes: int,
) -> list[Document]:
    """RAGFlow's current upload rules (`POST /datasets/{id}/documents`): the dataset first, then
    every file; one unsupported file refuses the whole request, so nothing is half-uploaded."""
    if dataset is None:
        raise DataError(f"Can't find the dataset with ID {dataset_id}!")
    if not files:
        raise ArgumentError("No file part!")
    if len(files) > MAX_FILES_PER_REQUEST:
        raise ArgumentError(
            f"You try to upload {len(files)} files, which exceeds the maximum number of uploading files: "
            f"{MAX_FILES_PER_REQUEST}"
        )
    checked: list[tuple[str, str]] = []
    refused: list[str] = []
    for incoming in files:
        name = clean_filename(incoming.filename or "")
        if not name:
            raise ArgumentError("No file selected!")
        if len(name.encode("utf-8")) > MAX_NAME_BYTES:
            raise ArgumentError(f"File name must be {MAX_NAME_BYTES} bytes or less.")
        kind = file_type(name)
        if kind is None:
            refused.append(f"{name}: This type of file has not been supported yet!")
        elif len(incoming.content) > max_bytes:
            refused.append(
                f"{name}: the file is {len(incoming.content)} bytes, over the {max_bytes}-byte limit of this route; "
                "upload it through POST /api/v1/dataset/{dataset_id}/documents/upload_url instead."
            )
        checked.append((name, kind or ""))
    if refused:
        raise UploadRefused("\n".join(refused))
    documents = [
        new_document(dataset, name, kind, len(incoming.content))
        for (name, kind), incoming in zip(checked, files, strict=True)
    ]
    files_store.put_many([(document, incoming.content) for document, incoming in zip(documents, files, strict=True)])
    try:
        return store.add(dataset, documents)
    except DatasetGone:
        for document in documents:
            files_store.delete_files(document)
        raise DataError(f"Can't find the dataset with ID {dataset_id}!") from None


# ---------------------------------------------------------------- download (current API)
def document_file(store: DocumentStore, dataset: Dataset | None, tenant_id: str, document_id: str) -> Document:
    """The document whose file `GET /datasets/{id}/documents/{id}` serves, with RAGFlow's
    answers: an unknown dataset or document is "document not found", a document of another
    of the tenant's datasets is "The dataset not own the document ..."."""
    document = store.get(dataset.id, document_id) if dataset is not None else None
    if document is None:
        if dataset is not None and store.locate(tenant_id, document_id) is not None:
            raise DataError(f"The dataset not own the document {document_id}.")
        raise DataError("document not found")
    if document.upload_status == "pending" or document.size == 0:
        raise DataError("This file is empty.")
    return document


def any_document_file(store: DocumentStore, tenant_id: str, document_id: str) -> Document:
    """The document `GET /documents/{id}` serves: any of the tenant's datasets holds it."""
    dataset_id = store.locate(tenant_id, document_id)
    document = store.get(dataset_id, document_id) if dataset_id else None
    if document is None:
        raise DataError("document not found")
    if document.upload_status == "pending" or document.size == 0:
        raise DataError("This file is empty.")
    return document
