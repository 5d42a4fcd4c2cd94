"""DynamoDB storage of documents.

Adding documents, renaming and removing them are transactions over the document, its name
claim and the dataset's counters, so names stay unique and doc_num/chunk_num/token_num stay
exact under concurrent requests. Document writes are conditional on the version read
(PynamoDB's VersionAttribute), so a concurrent change is re-read, never overwritten.
"""

from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError

from kb_ingest.dal.clients import transactions_connection
from kb_ingest.dal.models import DatasetModel, DocumentModel, NameClaimModel
from kb_ingest.dal.names import NameBook, claim_key, document_name_scope, new_claim, released_by
from kb_ingest.dal.retry import contended_attempts
from kb_ingest.dal.transactions import Transaction, TransactionCancelled
from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.documents import DatasetGone, Document, DocumentExists, DocumentOrder, NameTaken
from kb_ingest.domain.listing import DocumentFilter, matches
from kb_ingest.domain.naming import name_key

if TYPE_CHECKING:  # the metadata routes' type; other functions need not import that module
    from kb_ingest.domain.document_metadata import MetadataTarget

# Racing uploads of one name each lose at most once per racer that got in first.
_MAX_NAME_ATTEMPTS = 200
# Two items per document plus the dataset's counter stay under DynamoDB's 100 per transaction.
_DOCUMENTS_PER_TRANSACTION = 40
# Documents per Query page when a route reads a projection of the whole dataset.
_FIELDS_PAGE = 500
_FIELDS = tuple(Document.__dataclass_fields__)
_INTEGERS = ("size", "create_time", "update_time", "chunk_num", "token_num", "version", "attempts", "max_attempts")


def to_domain(item: DocumentModel) -> Document:
    values: dict[str, Any] = {name: getattr(item, name) for name in _FIELDS}
    for name in _INTEGERS:
        values[name] = int(values[name] or 0)
    for name in ("process_begin_at", "lease_until", "next_retry_at", "upload_max_bytes"):
        if values[name] is not None:
            values[name] = int(values[name])
    values["progress"] = float(values["progress"])
    values["meta_fields"] = dict(values["meta_fields"] or {})
    values["config_pinned"] = bool(values["config_pinned"])
    values["process_duation"] = float(values["process_duation"] or 0)
    return Document(**values)


def to_item(document: Document) -> DocumentModel:
    values = {name: getattr(document, name) for name in _FIELDS if name not in ("kb_id", "id", "version")}
    item = DocumentModel(
        document.kb_id, document.id, name_key=name_key(document.name), empty_in=_empty_in(document), **values
    )
    if document.version:
        item.version = document.version
    return item


def _empty_in(document: Document) -> str | None:
    """The sparse empty-documents index holds uploaded files of size 0."""
    return document.kb_id if document.size == 0 and document.upload_status == "done" else None


def _chunks(items: list[Document], size: int) -> Iterator[list[Document]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DynamoDocumentStore:
    def __init__(self) -> None:
        self._connection = transactions_connection()

    # ------------------------------------------------------------ reads
    def get(self, dataset_id: str, document_id: str) -> Document | None:
        try:
            return to_domain(DocumentModel.get(dataset_id, document_id, consistent_read=True))
        except DoesNotExist:
            return None

    def locate(self, tenant_id: str, document_id: str) -> str | None:
        for item in DocumentModel.by_document_id.query(document_id, limit=5):
            if item.tenant_id == tenant_id:
                return str(item.kb_id)
        return None

    def list_page(
        self, dataset_id: str, order: DocumentOrder, descending: bool, offset: int, count: int, keywords: str
    ) -> tuple[list[Document], int | None]:
        index = {
            "create_time": DocumentModel.by_create_time,
            "update_time": DocumentModel.by_update_time,
            "name": DocumentModel.by_name,
        }[order]
        end = None if count < 0 else offset + count
        if not keywords and end == 0:
            return [], None
        if not keywords:
            # One query: the first offset + count items in order (DynamoDB has no offset).
            items = index.query(dataset_id, scan_index_forward=not descending, limit=end, consistent_read=True)
            return [to_domain(item) for item in list(items)[offset:]], None
        # A substring match needs every name of the dataset read once; only the page is kept.
        matches = index.query(
            dataset_id,
            scan_index_forward=not descending,
            consistent_read=True,
            filter_condition=DocumentModel.name_key.contains(keywords.lower()),
        )
        page, total = [], 0
        for item in matches:
            if total >= offset and (end is None or total < end):
                page.append(to_domain(item))
            total += 1
        return page, total

    def empty_document_names(self, dataset_id: str, limit: int) -> tuple[list[str], bool]:
        """Names of the dataset's empty documents, oldest first, from the sparse index (its size
        is the number of empty documents, not of documents); and whether there are more."""
        results = DocumentModel.empty_documents.query(dataset_id, limit=limit + 1, attributes_to_get=["name"])
        names = [str(item.name) for item in results]
        return names[:limit], len(names) > limit

    def get_many(self, dataset_id: str, document_ids: list[str]) -> dict[str, Document]:
        """The documents of this dataset among `document_ids` (BatchGetItem, 100 keys a call)."""
        keys = [(dataset_id, document_id) for document_id in dict.fromkeys(document_ids)]
        return {str(item.id): to_domain(item) for item in DocumentModel.batch_get(keys, consistent_read=True)}

    def find_by_name(self, dataset_id: str, name: str) -> Document | None:
        """The document with exactly this name: one Query of the name index (names are unique)."""
        for item in DocumentModel.by_name.query(
            dataset_id, DocumentModel.name_key == name_key(name), consistent_read=True, limit=5
        ):
            if item.name == name:
                return to_domain(item)
        return None

    def filtered_page(
        self, dataset_id: str, order: DocumentOrder, descending: bool, offset: int, count: int, wanted: DocumentFilter
    ) -> tuple[list[Document], int | None]:
        """A page of the documents `wanted` selects, and how many match apart from the time range
        (None when nothing but the time range filters: the dataset's doc_num is that count).

        Costs: with no filter but the time range and `create_time` order, one Query of the
        first offset + count items inside the range (the range is the index's key condition);
        any other filter reads the dataset's documents once in order (a Query of the index,
        DynamoDB filtering what it can) and keeps the page.
        """
        index = {
            "create_time": DocumentModel.by_create_time,
            "update_time": DocumentModel.by_update_time,
            "name": DocumentModel.by_name,
        }[order]
        end = offset + count
        if not wanted.selects_beyond_time() and (order == "create_time" or not wanted.has_time_range()):
            if end == 0:
                return [], None
            range_key = None
            if wanted.has_time_range():
                range_key = DocumentModel.create_time.between(wanted.time_from(), wanted.time_to())
            items = index.query(
                dataset_id, range_key, scan_index_forward=not descending, limit=end, consistent_read=True
            )
            return [to_domain(item) for item in list(items)[offset:]], None
        condition: Any = None
        if wanted.runs:
            condition = DocumentModel.run.is_in(*wanted.runs)
        if wanted.types:
            by_type = DocumentModel.type.is_in(*wanted.types)
            condition = by_type if condition is None else condition & by_type
        if wanted.keywords:
            by_name = DocumentModel.name_key.contains(wanted.keywords.lower())
            condition = by_name if condition is None else condition & by_name
        page: list[Document] = []
        total = 0
        in_range = 0
        for item in index.query(
            dataset_id, scan_index_forward=not descending, consistent_read=True, filter_condition=condition
        ):
            document = to_domain(item)
            if not matches(wanted, document):
                continue
            total += 1
            if not wanted.in_time_range(document):
                continue
            if offset <= in_range < end:
                page.append(document)
            in_range += 1
        return page, total

    # ------------------------------------------------------------ writes
    def add(self, dataset: Dataset, documents: list[Document]) -> list[Document]:
        stored: list[Document] = []
        for batch in _chunks(documents, _DOCUMENTS_PER_TRANSACTION):
            stored.extend(self._add_batch(dataset, batch))
        return stored

    def page_after(self, dataset_id: str, after: str | None, limit: int) -> tuple[list[Document], str | None]:
        """Documents in id order after `after`, and where the next page starts (None at the end)."""
        last_key = {"kb_id": {"S": dataset_id}, "id": {"S": after}} if after else None
        results = DocumentModel.query(dataset_id, limit=limit, last_evaluated_key=last_key, consistent_read=True)
        page = [to_domain(item) for item in results]
        cursor = results.last_evaluated_key
        return page, (cursor["id"]["S"] if cursor else None)

    def fields_pages(
        self, dataset_id: str, fields: tuple[str, ...], page_size: int = _FIELDS_PAGE
    ) -> Iterator[list[dict[str, Any]]]:
        """The named fields of every document of the dataset, a page at a time: a Query of the
        dataset's partition with a projection (RCUs are those of the items read, the response
        only the fields), never a Scan."""
        names = list(dict.fromkeys(("id", *fields)))
        last_key = None
        while True:
            results = DocumentModel.query(
                dataset_id, limit=page_size, last_evaluated_key=last_key, consistent_read=True, attributes_to_get=names
            )
            page = [_projected(item, names) for item in results]
            last_key = results.last_evaluated_key
            if page:
                yield page
            if not last_key:
                return

    def meta_fields_pages(self, dataset_id: str) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        """(id, meta_fields) of every document of the dataset, a page at a time."""
        for page in self.fields_pages(dataset_id, ("meta_fields",)):
            yield [(str(fields["id"]), dict(fields.get("meta_fields") or {})) for fields in page]

    def get_fields(self, dataset_id: str, document_id: str, fields: tuple[str, ...]) -> dict[str, Any] | None:
        names = list(dict.fromkeys(("id", *fields)))
        try:
            item = DocumentModel.get(dataset_id, document_id, consistent_read=True, attributes_to_get=names)
        except DoesNotExist:
            return None
        return _projected(item, names)

    def set_meta_fields_many(self, dataset_id: str, changes: list[tuple["MetadataTarget", dict[str, Any]]]) -> set[str]:
        """Replace each document's metadata in one transaction (up to 100), each conditional on
        the version read. All or nothing: the ids of documents changed or deleted meanwhile
        come back, and then nothing was written (the condition also keeps a deleted document
        deleted). A conflict with another transaction is retried."""
        if not changes:
            return set()
        for _ in contended_attempts():
            try:
                with Transaction(self._connection) as transaction:
                    for target, meta_fields in changes:
                        item = DocumentModel(dataset_id, target.id)
                        item.version = target.version  # the condition, and its increment
                        transaction.update(target.id, item, actions=[DocumentModel.meta_fields.set(meta_fields)])
            except TransactionCancelled as cancelled:
                if cancelled.failed:
                    return cancelled.failed
                continue  # another transaction touched one of the items: try again
            return set()
        raise RuntimeError("could not update the documents' metadata: too much contention")

    def _add_batch(self, dataset: Dataset, batch: list[Document]) -> list[Document]:
        scope = document_name_scope(dataset.id)
        for _ in contended_attempts(_MAX_NAME_ATTEMPTS):
            # One BatchGetItem for the names, one Query per family of a taken one.
            names = NameBook(scope).free_names([document.name for document in batch])
            named = []
            for document, name in zip(batch, names, strict=True):
                location = document.location if document.source_type == "s3" else name  # drop folder: its key
                named.append(replace(document, name=name, location=location))
            try:
                with Transaction(self._connection) as transaction:
                    transaction.update(
                        "dataset",
                        DatasetModel(dataset.tenant_id, dataset.id),
                        actions=[DatasetModel.doc_num.add(len(named))],
                        condition=DatasetModel.id.exists(),
                    )
                    for document in named:
                        transaction.save(
                            f"name {document.id}",
                            new_claim(scope, document.name, document.id),
                            condition=NameClaimModel.scope.does_not_exist(),
                        )
                        transaction.save(f"document {document.id}", to_item(document))
            except TransactionCancelled as cancelled:
                if "dataset" in cancelled.failed:
                    raise DatasetGone(dataset.id) from None
                if any(label.startswith("document ") for label in cancelled.failed):
                    raise DocumentExists(batch[0].id) from None  # ids chosen by the caller (drop folder)
                continue  # a name was taken a moment ago: pick names again
            return [replace(document, version=1) for document in named]
        raise RuntimeError("could not claim document names: too much contention")

    def update(self, document: Document, values: dict[str, Any], new_name: str | None) -> Document | None:
        for _ in contended_attempts():
            actions = [getattr(DocumentModel, key).set(value) for key, value in values.items()]
            if "size" in values or "upload_status" in values:  # keep the empty-documents index exact
                empty_in = _empty_in(replace(document, **{k: v for k, v in values.items() if k in _FIELDS}))
                actions.append(DocumentModel.empty_in.set(empty_in) if empty_in else DocumentModel.empty_in.remove())
            item = to_item(document)
            try:
                if new_name is None:
                    item.update(actions=actions)
                    updated = to_domain(item)  # UpdateItem answered the new item: no read needed
                    _tell_the_chunk_feed(updated, values)
                    return updated
                else:
                    self._rename(item, document, new_name, actions)
            except (UpdateError, TransactionCancelled) as error:
                if isinstance(error, TransactionCancelled) and "new name" in error.failed:
                    raise NameTaken(new_name) from None
                if _is_stale(error):
                    fresh = self.get(document.kb_id, document.id)
                    if fresh is None:
                        return None
                    document = fresh
                    continue
                raise
            renamed = self.get(document.kb_id, document.id)
            if renamed is not None:
                _tell_the_chunk_feed(renamed, values)
            return renamed
        raise RuntimeError("could not update the document: too much contention")

    def _rename(self, item: DocumentModel, document: Document, new_name: str, actions: list[Any]) -> None:
        scope = document_name_scope(document.kb_id)
        old_key, new_key = claim_key(document.name), claim_key(new_name)
        with Transaction(self._connection) as transaction:
            transaction.update(
                "document",
                item,
                actions=[*actions, DocumentModel.name.set(new_name), DocumentModel.name_key.set(name_key(new_name))],
            )
            if new_key != old_key:
                transaction.save(
                    "new name",
                    new_claim(scope, new_name, document.id),
                    condition=NameClaimModel.scope.does_not_exist(),
                )
                transaction.delete("old name", NameClaimModel(scope, old_key), condition=released_by(document.id))

    def remove(self, document: Document) -> bool:
        count_on_dataset = True
        for _ in contended_attempts():
            try:
                with Transaction(self._connection) as transaction:
                    _remove_in(transaction, [document], count_on_dataset)
            except TransactionCancelled as cancelled:
                if "dataset" in cancelled.failed:
                    count_on_dataset = False  # the dataset itself is being deleted: no counts to keep
                fresh = self.get(document.kb_id, document.id)
                if fresh is None:
                    return False
                document = fresh
                continue
            return True
        raise RuntimeError("could not remove the document: too much contention")

    def remove_many(self, documents: list[Document]) -> list[Document]:
        """`remove` for many documents of one dataset at a time: REMOVALS_PER_TRANSACTION to a
        transaction, with one update of the dataset's counts for the lot (one-by-one removals
        would all update the dataset's item: a transaction each, contending on that item). A
        group that a concurrent change spoils (a document renamed, re-parsed or removed
        meanwhile) is done again one document at a time, which re-reads each. Returns the
        documents this call removed."""
        removed: list[Document] = []
        for start in range(0, len(documents), REMOVALS_PER_TRANSACTION):
            group = documents[start : start + REMOVALS_PER_TRANSACTION]
            if len({(document.tenant_id, document.kb_id) for document in group}) > 1:
                removed.extend(document for document in group if self.remove(document))
                continue
            try:
                with Transaction(self._connection) as transaction:
                    _remove_in(transaction, group, count_on_dataset=True)
            except TransactionCancelled:
                removed.extend(document for document in group if self.remove(document))
                continue
            removed.extend(group)
        return removed


# Two items a document (its record and its name claim) and one for the dataset's counts: 99 of
# the 100 items a DynamoDB transaction takes.
REMOVALS_PER_TRANSACTION = 49


def _remove_in(transaction: Transaction, documents: list[Document], count_on_dataset: bool) -> None:
    """Documents of one dataset (as read: their version is the condition), their name claims, and
    their counts taken off the dataset in one update (`dataset` fails when it is being deleted)."""
    for document in documents:
        transaction.delete(f"document {document.id}", to_item(document))
        transaction.delete(
            f"name {document.id}",
            NameClaimModel(document_name_scope(document.kb_id), claim_key(document.name)),
            condition=released_by(document.id),
        )
    if count_on_dataset:
        first = documents[0]
        transaction.update(
            "dataset",
            DatasetModel(first.tenant_id, first.kb_id),
            actions=[
                DatasetModel.doc_num.add(-len(documents)),
                DatasetModel.chunk_num.add(-sum(document.chunk_num for document in documents)),
                DatasetModel.token_num.add(-sum(document.token_num for document in documents)),
            ],
            condition=DatasetModel.id.exists(),
        )


def _projected(item: DocumentModel, names: list[str]) -> dict[str, Any]:
    """A projected item's fields as plain values (numbers as int or float)."""
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(item, name, None)
        if isinstance(value, float) and value.is_integer() and name not in ("progress", "process_duation"):
            value = int(value)
        values[name] = value
    return values


def _tell_the_chunk_feed(document: Document, values: dict[str, Any]) -> None:
    """Enabling or disabling a document marks its chunks' head item, so the chunk change feed
    (retrieval's) sees it without touching every chunk."""
    if "status" in values and document.chunks_run_id:
        from kb_ingest.dal.chunks import mark_document_enabled

        mark_document_enabled(document, document.status == "1")


def _is_stale(error: Exception) -> bool:
    """Somebody changed the document since it was read: read it again and retry."""
    if isinstance(error, TransactionCancelled):
        return True
    return (
        isinstance(error, UpdateError | DeleteError) and error.cause_response_code == "ConditionalCheckFailedException"
    )


@lru_cache(maxsize=1)
def get_document_store() -> DynamoDocumentStore:
    return DynamoDocumentStore()
