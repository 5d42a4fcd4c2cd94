"""A dataset's ingestion summary and logs (RAGFlow's per-file pipeline logs) from documents'
parse runs, on in-memory documents."""

from dataclasses import replace

import pytest

from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.errors import ArgumentError, DataError
from kb_ingest.domain.ingestions import get_log, ingestion_summary, list_logs

DATASET = replace(
    Dataset(id="d" * 32, tenant_id="t" * 32, name="kb", create_time=1, update_time=1),
    doc_num=3, chunk_num=7, token_num=70,
)  # fmt: skip
DAY = 86_400_000
JAN_1 = 1_735_689_600_000  # 2025-01-01 00:00:00 UTC


class Query(dict):
    """A query string: one value per key, or a list for repeated ones."""

    def get(self, key, default=None):
        value = super().get(key, default)
        return value[0] if isinstance(value, list) else value

    def getlist(self, key):
        value = super().get(key, [])
        return value if isinstance(value, list) else [value]


def fields(n, run="3", history=(), **extra):
    return {
        "id": f"{n:032x}", "kb_id": DATASET.id, "tenant_id": DATASET.tenant_id, "name": f"Report{n}.PDF",
        "type": "pdf", "parser_id": "naive", "source_type": "local", "thumbnail": None, "run": run,
        "history": list(history), "run_id": history[-1]["run_id"] if history else None, "progress": 1.0,
        "progress_msg": "Task done.", "process_begin_at": JAN_1, "process_duation": 2.5, **extra,
    }  # fmt: skip


def entry(run_id, outcome, at, message=""):
    return {"at": at, "run_id": run_id, "outcome": outcome, "error_class": None, "message": message}


class Store:
    def __init__(self, documents):
        self.documents = {d["id"]: d for d in documents}
        self.projections = []

    def fields_pages(self, dataset_id, names):
        self.projections.append(names)
        items = list(self.documents.values())
        for start in range(0, len(items), 2):
            yield [{k: d.get(k) for k in ("id", *names)} for d in items[start : start + 2]]

    def get_fields(self, dataset_id, document_id, names):
        document = self.documents.get(document_id)
        return {k: document.get(k) for k in ("id", *names)} if document else None


STORE = Store(
    [
        fields(1, history=[entry("r1", "FAIL", JAN_1 + DAY, "Bad PDF"), entry("r2", "DONE", JAN_1 + 3 * DAY)]),
        fields(2, run="2", history=[entry("r3", "CANCEL", JAN_1 + 2 * DAY)], progress=0.4, progress_msg="stopped"),
        fields(3, run="0"),
    ]
)


def test_summary_has_the_datasets_counts_and_documents_per_run_state():
    assert ingestion_summary(STORE, DATASET, DATASET.id, DATASET.tenant_id) == {
        "doc_num": 3, "chunk_num": 7, "token_num": 70,
        "status": {"unstart_count": 1, "running_count": 0, "cancel_count": 1, "done_count": 1, "fail_count": 0},
    }  # fmt: skip
    assert STORE.projections[-1] == ("id", "run")  # only the run state is read
    with pytest.raises(DataError, match=f"User '{DATASET.tenant_id}' lacks permission for dataset 'x'"):
        ingestion_summary(STORE, None, "x", DATASET.tenant_id)


def test_dataset_logs_are_none_and_file_logs_are_the_ended_runs_newest_first():
    assert list_logs(STORE, DATASET, Query()) == {"total": 0, "logs": []}
    answer = list_logs(STORE, DATASET, Query(log_type="file"))
    assert answer["total"] == 3
    assert [(log["document_name"], log["operation_status"]) for log in answer["logs"]] == [
        ("Report1.PDF", "3"), ("Report2.PDF", "2"), ("Report1.PDF", "4"),
    ]  # fmt: skip
    latest, cancelled, failed = answer["logs"]
    assert latest["id"] == f"{1:032x}_r2" and latest["document_suffix"] == "pdf" and latest["task_type"] == "parse"
    assert (latest["progress"], latest["process_duration"], latest["progress_msg"]) == (1.0, 2.5, "Task done.")
    assert (cancelled["progress"], cancelled["progress_msg"]) == (0.4, "stopped")  # its document's last run
    assert (failed["progress"], failed["progress_msg"], failed["process_begin_at"]) == (-1.0, "Bad PDF", None)
    assert latest["create_date"] == "Sat, 04 Jan 2025 00:00:00 GMT"


def test_file_logs_filter_order_and_page():
    def names(**query):
        return [(log["document_name"], log["operation_status"]) for log in list_logs(STORE, DATASET, Query(log_type="file", **query))["logs"]]  # fmt: skip

    assert names(desc="false") == [("Report1.PDF", "4"), ("Report2.PDF", "2"), ("Report1.PDF", "3")]
    assert names(operation_status=["FAIL", "2"]) == [("Report2.PDF", "2"), ("Report1.PDF", "4")]
    assert names(keywords="report2") == [("Report2.PDF", "2")]
    assert names(create_date_from="2025-01-02 12:00:00", create_date_to="2025-01-04") == [
        ("Report1.PDF", "3"), ("Report2.PDF", "2"),
    ]  # fmt: skip
    assert names(page="2", page_size="2") == [("Report1.PDF", "4")]
    assert names(page="x", page_size="0") == names()  # RAGFlow falls back to the defaults
    assert names(orderby="document_name", desc="false")[0][0] == "Report1.PDF"


def test_an_inverted_date_range_selects_nothing_as_ragflows_code_does():
    answer = list_logs(
        STORE, DATASET, Query(log_type="file", create_date_from="2025-02-01", create_date_to="2025-01-01")
    )
    assert answer == {"total": 0, "logs": []}


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        ({"page_size": "101"}, ArgumentError, "page_size must be less than or equal to 100"),
        ({"log_type": "graph"}, DataError, 'Invalid "log_type", expected "dataset" or "file"'),
        ({"create_date_from": "yesterday"}, ArgumentError, "create_date_from must be a date"),
        ({"orderby": "secret"}, ArgumentError, "invalid orderby field: secret"),
    ],
)
def test_bad_queries_are_refused(query, error, message):
    with pytest.raises(error, match=message):
        list_logs(STORE, DATASET, Query(query))


def test_one_log_by_id_and_unknown_ones():
    log = get_log(STORE, DATASET, f"{1:032x}_r1")
    assert (log["operation_status"], log["progress_msg"]) == ("4", "Bad PDF")
    for unknown in ("nonexistent_log_id", f"{1:032x}_r9", f"{9:032x}_r1", "x"):
        with pytest.raises(DataError, match="Log not found"):
            get_log(STORE, DATASET, unknown)
    with pytest.raises(DataError, match="no authorization"):
        get_log(STORE, None, "x")
