"""PynamoDB models: one per table in template.yaml, with the indexes the queries use.

Table names come from Settings at the moment of use (not at import), so the same models
serve the cloud stack, the local stack and tests that point them at fresh tables.
"""

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.indexes import (
    AllProjection,
    GlobalSecondaryIndex,
    IncludeProjection,
    KeysOnlyProjection,
    LocalSecondaryIndex,
)
from pynamodb.models import Model

from kb_ingest.settings import get_settings


class _TableNameFromSettings:
    """A Meta attribute that reads the table name from Settings whenever PynamoDB asks."""

    def __init__(self, settings_field: str) -> None:
        self.settings_field = settings_field

    def __get__(self, instance: Any, owner: Any) -> str:
        return str(getattr(get_settings(), self.settings_field))


class ApiKeyModel(Model):
    """An API key, stored only as its SHA-256 hash, mapped to the tenant it acts for."""

    class Meta:
        table_name = _TableNameFromSettings("api_keys_table")

    key_hash = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    label = UnicodeAttribute(default="")
    key_hint = UnicodeAttribute(default="")  # the key's first characters, to recognise it in a list
    created_at = NumberAttribute()
    revoked_at = NumberAttribute(null=True)


# ---------------------------------------------------------------- datasets
class _DatasetsByCreateTime(LocalSecondaryIndex):
    class Meta:
        index_name = "by_create_time"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    create_time = NumberAttribute(range_key=True)


class _DatasetsByUpdateTime(LocalSecondaryIndex):
    class Meta:
        index_name = "by_update_time"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    update_time = NumberAttribute(range_key=True)


class _DatasetsByName(LocalSecondaryIndex):
    class Meta:
        index_name = "by_name"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    name_key = UnicodeAttribute(range_key=True)


class _DatasetsById(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_dataset_id"
        projection = KeysOnlyProjection()

    id = UnicodeAttribute(hash_key=True)


class DatasetModel(Model):
    class Meta:
        table_name = _TableNameFromSettings("datasets_table")

    tenant_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    name_key = UnicodeAttribute()
    created_by = UnicodeAttribute()
    avatar = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    language = UnicodeAttribute()
    embd_id = UnicodeAttribute()
    parser_id = UnicodeAttribute()
    parser_config = JSONAttribute()
    permission = UnicodeAttribute()
    similarity_threshold = NumberAttribute()
    vector_similarity_weight = NumberAttribute()
    status = UnicodeAttribute()
    chunk_num = NumberAttribute(default=0)
    doc_num = NumberAttribute(default=0)
    token_num = NumberAttribute(default=0)
    pagerank = NumberAttribute(default=0)
    create_time = NumberAttribute()
    update_time = NumberAttribute()
    # Index lag (kb_ingest.dal.search_feed): the changes forwarded to the index queue and not yet
    # indexed, by stream event id, and their count. Both change together, conditionally, so a
    # change counted twice or subtracted twice (a retried delivery) is counted once.
    search_lag = NumberAttribute(null=True)
    search_pending = UnicodeSetAttribute(null=True)

    by_create_time = _DatasetsByCreateTime()
    by_update_time = _DatasetsByUpdateTime()
    by_name = _DatasetsByName()
    by_dataset_id = _DatasetsById()


# ---------------------------------------------------------------- documents
class _DocumentsByCreateTime(LocalSecondaryIndex):
    class Meta:
        index_name = "by_create_time"
        projection = AllProjection()

    kb_id = UnicodeAttribute(hash_key=True)
    create_time = NumberAttribute(range_key=True)


class _DocumentsByUpdateTime(LocalSecondaryIndex):
    class Meta:
        index_name = "by_update_time"
        projection = AllProjection()

    kb_id = UnicodeAttribute(hash_key=True)
    update_time = NumberAttribute(range_key=True)


class _DocumentsByName(LocalSecondaryIndex):
    class Meta:
        index_name = "by_name"
        projection = AllProjection()

    kb_id = UnicodeAttribute(hash_key=True)
    name_key = UnicodeAttribute(range_key=True)


class _DocumentsById(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_document_id"
        projection = IncludeProjection(["tenant_id"])

    id = UnicodeAttribute(hash_key=True)


class _EmptyDocuments(GlobalSecondaryIndex):
    """Sparse: only documents whose file is empty carry `empty_in`, so "start every document"
    names the empty ones without reading the dataset."""

    class Meta:
        index_name = "empty_documents"
        projection = IncludeProjection(["name"])

    empty_in = UnicodeAttribute(hash_key=True)
    create_time = NumberAttribute(range_key=True)


class DocumentModel(Model):
    class Meta:
        table_name = _TableNameFromSettings("documents_table")

    kb_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute()
    created_by = UnicodeAttribute()
    name = UnicodeAttribute()
    name_key = UnicodeAttribute()
    location = UnicodeAttribute()
    type = UnicodeAttribute()
    parser_id = UnicodeAttribute()
    parser_config = JSONAttribute()
    size = NumberAttribute()
    thumbnail = UnicodeAttribute(null=True)
    source_type = UnicodeAttribute()
    status = UnicodeAttribute()
    run = UnicodeAttribute()
    progress = NumberAttribute()
    progress_msg = UnicodeAttribute(default="")
    process_begin_at = NumberAttribute(null=True)
    process_duation = NumberAttribute(default=0)
    chunk_num = NumberAttribute(default=0)
    token_num = NumberAttribute(default=0)
    upload_status = UnicodeAttribute(default="done")
    upload_max_bytes = NumberAttribute(null=True)
    # Parsing: each start makes a new run id; every write of a run is conditional on it.
    run_id = UnicodeAttribute(null=True)
    chunks_run_id = UnicodeAttribute(null=True)  # the run whose chunks are served
    lease_until = NumberAttribute(null=True)  # a worker holds the run until then
    # Where the file is when it is not under uploads/ (the drop folder), and what was parsed.
    source_key = UnicodeAttribute(null=True)
    source_etag = UnicodeAttribute(null=True)
    parsed_etag = UnicodeAttribute(null=True)
    settings_fingerprint = UnicodeAttribute(null=True)
    # The document chose its own parser (by type, or template_type): dataset changes skip it.
    parser_pinned = BooleanAttribute(default=False)
    config_pinned = BooleanAttribute(default=False)  # the document's own parser_config is used
    meta_fields = JSONAttribute(default=dict)
    # Scheduled reparsing: consecutive failed runs, when to try again, what failed last.
    attempts = NumberAttribute(default=0)
    max_attempts = NumberAttribute(default=3)
    next_retry_at = NumberAttribute(null=True)
    last_error_class = UnicodeAttribute(null=True)
    history = JSONAttribute(default=list)
    create_time = NumberAttribute()
    update_time = NumberAttribute()
    # Every write of a document is conditional on the version it read, so a rename, a delete
    # and a parse finishing at the same moment never undo each other or miscount the dataset.
    version = VersionAttribute()

    by_create_time = _DocumentsByCreateTime()
    by_update_time = _DocumentsByUpdateTime()
    by_name = _DocumentsByName()
    by_document_id = _DocumentsById()
    # The dataset id while the document's uploaded file is empty (size 0), absent otherwise.
    empty_in = UnicodeAttribute(null=True)
    empty_documents = _EmptyDocuments()


# ---------------------------------------------------------------- chunks
class _ChunksById(LocalSecondaryIndex):
    """`{generation}#{chunk_id}` -> the chunk's key (and what a delete needs: its token count and
    offloaded content): one small read per chunk by id. Sparse: the head item has no chunk_ref."""

    class Meta:
        index_name = "by_chunk_id"
        projection = IncludeProjection(["token_count", "content_key"])

    document_id = UnicodeAttribute(hash_key=True)
    chunk_ref = UnicodeAttribute(range_key=True)


class ChunkModel(Model):
    """One chunk of a document (see kb_ingest.dal.chunks for the key layout), or the document's
    head item (`chunk_key` "#head"), which names the generation that is visible."""

    class Meta:
        table_name = _TableNameFromSettings("chunks_table")

    document_id = UnicodeAttribute(hash_key=True)
    chunk_key = UnicodeAttribute(range_key=True)
    chunk_ref = UnicodeAttribute(null=True)
    generation = UnicodeAttribute()
    dataset_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    chunk_id = UnicodeAttribute(null=True)
    position = NumberAttribute(null=True)
    content = UnicodeAttribute(null=True)  # absent when the content is kept in S3 (content_key)
    content_key = UnicodeAttribute(null=True)
    token_count = NumberAttribute(null=True)
    page = NumberAttribute(null=True)
    offset = NumberAttribute(null=True)
    important_keywords = ListAttribute(of=UnicodeAttribute, null=True)
    questions = ListAttribute(of=UnicodeAttribute, null=True)
    tag_kwd = ListAttribute(of=UnicodeAttribute, null=True)
    available = BooleanAttribute(null=True)
    # True on what a parse run writes while its generation is invisible: the head's publish
    # re-syncs the whole generation, so the change feed need not carry these writes one by one.
    staged = BooleanAttribute(null=True)
    image_id = UnicodeAttribute(null=True)
    positions: ListAttribute[Any] = ListAttribute(null=True)  # RAGFlow's [[page, x0, x1, top, bottom], ...]
    extra = JSONAttribute(null=True)  # optional per-chunk fields a chunker adds
    create_time = NumberAttribute(null=True)
    update_time = NumberAttribute(null=True)

    by_chunk_id = _ChunksById()


# ---------------------------------------------------------------- bookkeeping
class NameClaimModel(Model):
    """One item per taken name in a scope (a tenant's datasets, a dataset's documents).

    Creating or renaming puts the claim in the same transaction as the record, conditioned on
    the claim not existing: that is what makes names unique under concurrent requests.
    """

    class Meta:
        table_name = _TableNameFromSettings("name_claims_table")

    scope = UnicodeAttribute(hash_key=True)
    name_key = UnicodeAttribute(range_key=True)  # kb_ingest.dal.names.claim_key of the name
    owner_id = UnicodeAttribute()
    name = UnicodeAttribute(null=True)  # the name as written, for people reading the table


class PurgeJobModel(Model):
    """A deleted dataset whose documents, objects and parse output are still being removed."""

    class Meta:
        table_name = _TableNameFromSettings("purge_jobs_table")

    dataset_id = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    requested_at = NumberAttribute()
    last_sent_at = NumberAttribute(default=0)
