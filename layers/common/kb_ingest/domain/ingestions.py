"""A dataset's ingestion summary and logs: RAGFlow's `GET /datasets/{id}/ingestions/summary`,
`.../ingestions` and `.../ingestions/{log_id}` over this service's parse runs.

RAGFlow writes a pipeline operation log when a document's parse task ends (DONE, FAIL or
CANCEL: `log_type=file`) and when a dataset-wide task (knowledge graph, RAPTOR, mind map)
ends (`log_type=dataset`). Here a document keeps its last runs in `history`
(kb_ingest.domain.parse_runs), each ended run being one file log; there are no dataset-wide
tasks, so dataset logs are always none. Pure logic: the store reads documents a page at a
time (only the fields a log shows) or one by key.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from kb_ingest.clock import rfc1123
from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.documents import RUN_STATUS_NAMES, extension_of
from kb_ingest.domain.errors import ArgumentError, DataError
from kb_ingest.domain.pagination import page_number, page_size

LOG_TYPES = ("dataset", "file")
# The document fields a file log is made of (a projection: nothing else is read).
LOG_FIELDS = (
    "id", "kb_id", "tenant_id", "name", "type", "parser_id", "source_type", "thumbnail", "history", "run_id",
    "progress", "progress_msg", "process_begin_at", "process_duation",
)  # fmt: skip
_OUTCOME_CODES = {name: code for code, name in RUN_STATUS_NAMES.items()}
_OUTCOME_PROGRESS = {"DONE": 1.0, "FAIL": -1.0, "CANCEL": 0.0}
_ORDERS = {
    "create_time": "create_time", "update_time": "update_time", "create_date": "create_time",
    "update_date": "update_time", "process_begin_at": "process_begin_at", "process_duration": "process_duration",
    "progress": "progress", "document_name": "document_name", "operation_status": "operation_status",
}  # fmt: skip
_LOG_ID_SEPARATOR = "_"


class IngestionStore(Protocol):
    def get_fields(self, dataset_id: str, document_id: str, fields: tuple[str, ...]) -> dict[str, Any] | None:
        """The named fields of one document (None when it does not exist)."""

    def fields_pages(self, dataset_id: str, fields: tuple[str, ...]) -> Iterable[list[dict[str, Any]]]:
        """The named fields of every document of the dataset, a page at a time."""


# ---------------------------------------------------------------- summary
def ingestion_summary(
    store: IngestionStore, dataset: Dataset | None, dataset_id: str, tenant_id: str
) -> dict[str, Any]:
    """The dataset's counts and how many of its documents are in each run state."""
    if dataset is None:
        raise DataError(f"User '{tenant_id}' lacks permission for dataset '{dataset_id}'")
    status = {f"{name.lower()}_count": 0 for name in RUN_STATUS_NAMES.values()}
    for page in store.fields_pages(dataset.id, ("id", "run")):
        for document in page:
            name = RUN_STATUS_NAMES.get(str(document.get("run")))
            if name:
                status[f"{name.lower()}_count"] += 1
    return {
        "doc_num": dataset.doc_num,
        "chunk_num": dataset.chunk_num,
        "token_num": dataset.token_num,
        "status": status,
    }


# ---------------------------------------------------------------- logs
def _log(document: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """One ended run of a document as RAGFlow's file log. Only the document's last run keeps its
    start, duration and progress lines; for earlier runs they are unknown (null, 0, the run's
    error message)."""
    outcome = str(entry.get("outcome", ""))
    latest = entry.get("run_id") == document.get("run_id")
    ended = int(entry["at"])
    begin = document.get("process_begin_at") if latest else None
    return {
        "id": f"{document['id']}{_LOG_ID_SEPARATOR}{entry.get('run_id')}",
        "document_id": document["id"],
        "tenant_id": document.get("tenant_id"),
        "kb_id": document.get("kb_id"),
        "pipeline_id": None,
        "pipeline_title": document.get("parser_id"),
        "parser_id": document.get("parser_id"),
        "document_name": document.get("name"),
        "document_suffix": extension_of(str(document.get("name") or "")),
        "document_type": document.get("type"),
        "source_from": str(document.get("source_type") or "local").split("/")[0],
        "progress": float(document.get("progress") or 0) if latest else _OUTCOME_PROGRESS.get(outcome, 0.0),
        "progress_msg": str(document.get("progress_msg") or "") if latest else str(entry.get("message") or ""),
        "process_begin_at": rfc1123(int(begin)) if begin else None,
        "process_duration": float(document.get("process_duation") or 0) if latest else 0.0,
        "dsl": {},
        "task_type": "parse",
        "operation_status": _OUTCOME_CODES.get(outcome, outcome),
        "avatar": document.get("thumbnail"),
        "status": "1",
        "error_class": entry.get("error_class"),
        "create_time": ended,
        "create_date": rfc1123(ended),
        "update_time": ended,
        "update_date": rfc1123(ended),
    }


def _logs_of(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [_log(document, entry) for entry in document.get("history") or [] if "at" in entry]


def _date(raw: str | None, name: str) -> int | None:
    """A `create_date_from`/`_to` bound in epoch ms (UTC): `YYYY-MM-DD` (midnight) or with a time."""
    if not raw:
        return None
    for pattern in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return int(datetime.strptime(raw.strip(), pattern).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    raise ArgumentError(f"{name} must be a date (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS), not {raw!r}")


@dataclass(frozen=True)
class LogQuery:
    page: int
    page_size: int
    orderby: str
    desc: bool
    statuses: frozenset[str]
    date_from: int | None
    date_to: int | None
    log_type: str
    keywords: str

    def keeps(self, log: Mapping[str, Any]) -> bool:
        if self.keywords and self.keywords.lower() not in str(log["document_name"] or "").lower():
            return False
        if self.statuses and log["operation_status"] not in self.statuses:
            return False
        if self.date_from is not None and log["create_time"] < self.date_from:
            return False
        return not (self.date_to is not None and log["create_time"] > self.date_to)


class QueryArgs(Protocol):
    def get(self, key: str, /) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...


def parse_log_query(query: QueryArgs) -> LogQuery:
    """RAGFlow's parameters: page and page_size fall back to their defaults when not positive
    numbers (page_size over 100 is refused), `desc` is true unless `false`, `operation_status`
    repeats (codes `0`..`4` or names), dates are inclusive bounds. A `from` after `to` selects
    nothing (RAGFlow's code answers an empty page, not an error)."""
    orderby = query.get("orderby") or "create_time"
    if orderby not in _ORDERS:
        raise ArgumentError(f"invalid orderby field: {orderby}")
    statuses = frozenset(_OUTCOME_CODES.get(s.upper(), s) for s in query.getlist("operation_status") if s)
    return LogQuery(
        page=page_number(query.get("page")),
        page_size=page_size(query.get("page_size")),
        orderby=_ORDERS[orderby],
        desc=(query.get("desc") or "true").lower() != "false",
        statuses=statuses,
        date_from=_date(query.get("create_date_from"), "create_date_from"),
        date_to=_date(query.get("create_date_to"), "create_date_to"),
        log_type=query.get("log_type") or "dataset",
        keywords=query.get("keywords") or "",
    )


def _sort_key(orderby: str) -> Any:
    def key(log: Mapping[str, Any]) -> tuple[bool, Any]:
        value = log[orderby]
        return value is None, value if value is not None else 0

    return key


def list_logs(store: IngestionStore, dataset: Dataset | None, query: QueryArgs) -> dict[str, Any]:
    """`{"total", "logs"}`: a page of the dataset's logs of `log_type` (default `dataset`)."""
    if dataset is None:
        raise DataError("no authorization")
    wanted = parse_log_query(query)
    if wanted.log_type not in LOG_TYPES:
        raise DataError('Invalid "log_type", expected "dataset" or "file"')
    if wanted.log_type == "dataset":
        return {"total": 0, "logs": []}  # no dataset-wide tasks (graph, RAPTOR, mind map) here
    logs = [
        log
        for page in store.fields_pages(dataset.id, LOG_FIELDS)
        for document in page
        for log in _logs_of(document)
        if wanted.keeps(log)
    ]
    logs.sort(key=_sort_key(wanted.orderby), reverse=wanted.desc)
    start = (wanted.page - 1) * wanted.page_size
    return {"total": len(logs), "logs": logs[start : start + wanted.page_size]}


def get_log(store: IngestionStore, dataset: Dataset | None, log_id: str) -> dict[str, Any]:
    """One log by its id (`{document_id}_{run_id}`): one read of that document."""
    if dataset is None:
        raise DataError("no authorization")
    document_id, _, run_id = log_id.partition(_LOG_ID_SEPARATOR)
    readable = 0 < len(document_id.encode("utf-8", "surrogatepass")) <= 1024 and run_id
    document = store.get_fields(dataset.id, document_id, LOG_FIELDS) if readable else None
    for log in _logs_of(document or {}):
        if log["id"] == log_id:
            return log
    raise DataError("Log not found")
