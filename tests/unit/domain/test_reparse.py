"""The scheduled reparse's decisions and its budget, on in-memory data."""

from dataclasses import replace

from kb_ingest.domain.datasets import Dataset
from kb_ingest.domain.documents import Document
from kb_ingest.domain.parse_runs import effective_settings
from kb_ingest.domain.reparse import STALLED_AFTER_MS, SweepBudget, SweepCursor, sweep, why_reparse

NOW = 1_800_000_000_000


def dataset(n=0, **changes):
    return replace(Dataset(id=f"{n:032x}", tenant_id="t" * 32, name=f"d{n}", create_time=1, update_time=1), **changes)


def document(ds, n=0, **changes):
    """A document last parsed (DONE) with the dataset's current settings and ETag "a"."""
    base = Document(
        id=f"{n:031x}d", kb_id=ds.id, tenant_id=ds.tenant_id, name=f"f{n}.txt", type="doc", parser_id="naive",
        parser_config=dict(ds.parser_config), size=10, create_time=1, update_time=NOW, run="3", parsed_etag='"a"',
    )  # fmt: skip
    base = replace(base, settings_fingerprint=effective_settings(base, ds)[2])
    return replace(base, **changes)


def etag(value):
    return lambda: value


def test_a_healthy_parsed_document_is_left_alone():
    ds = dataset()
    assert why_reparse(document(ds), ds, NOW, etag('"a"')) is None


def test_a_changed_file_is_parsed_again():
    ds = dataset()
    assert "changed in storage" in why_reparse(document(ds), ds, NOW, etag('"b"'))


def test_changed_parser_settings_are_noticed_and_pinned_parsers_are_not():
    ds = dataset()
    doc = document(ds)
    changed = replace(ds, parser_id="qa")
    assert "parser settings changed" in why_reparse(doc, changed, NOW, etag('"a"'))
    reconfigured = replace(ds, parser_config={"pages": [[1, 5]]})
    assert "parser settings changed" in why_reparse(doc, reconfigured, NOW, etag('"a"'))


def test_failures_are_retried_with_backoff_until_attempts_run_out():
    ds = dataset()
    failed = document(ds, run="4", attempts=1, last_error_class="ConnectionError", next_retry_at=NOW + 1)
    assert why_reparse(failed, ds, NOW, etag(None)) is None  # still backing off
    assert "attempt 2 of 3" in why_reparse(replace(failed, next_retry_at=NOW - 1), ds, NOW, etag(None))
    assert why_reparse(replace(failed, attempts=3, next_retry_at=None), ds, NOW, etag(None)) is None
    permanent = replace(failed, last_error_class="PasswordProtected", next_retry_at=None)
    assert why_reparse(permanent, ds, NOW, etag(None)) is None


def test_stalled_runs_are_rescued_and_live_ones_are_not():
    ds = dataset()
    live = document(ds, run="1", lease_until=NOW + 60_000)
    assert why_reparse(live, ds, NOW, etag(None)) is None
    assert "stopped responding" in why_reparse(replace(live, lease_until=NOW - 1), ds, NOW, etag(None))
    silent = replace(live, lease_until=None, update_time=NOW - STALLED_AFTER_MS - 1)
    assert "stopped responding" in why_reparse(silent, ds, NOW, etag(None))
    assert why_reparse(document(ds, run="2"), ds, NOW, etag('"b"')) is None  # stopped by the user


class Source:
    def __init__(self, datasets, documents):
        self.datasets, self.documents = datasets, documents
        self.pages_read = 0

    def datasets_after(self, key):
        ids = [d.id for d in self.datasets]
        start = 0 if key is None else ids.index(key["id"]) + 1
        for ds in self.datasets[start:]:
            yield ds, {"id": ds.id}

    def find_dataset(self, tenant_id, dataset_id):
        return next((d for d in self.datasets if d.id == dataset_id), None)

    def documents_after(self, dataset_id, after, limit):
        mine = sorted((d for d in self.documents if d.kb_id == dataset_id), key=lambda d: d.id)
        if after is not None:
            mine = [d for d in mine if d.id > after]
        self.pages_read += 1
        page = mine[:limit]
        return page, (page[-1].id if len(mine) > limit else None)

    def current_etag(self, doc):
        return '"new"'


class Runs:
    def __init__(self):
        self.started = []

    def start(self, document, run):
        self.started.append(document.id)
        return replace(document, run="1", run_id=run.run_id)

    def set_outcome(self, *args):
        pass


class Requests:
    def __init__(self):
        self.parsed = []

    def request_parse(self, documents):
        self.parsed += [d.id for d in documents]


def test_the_budget_stops_a_run_and_the_next_run_resumes_without_repeats():
    datasets = [dataset(n) for n in range(3)]
    documents = [document(ds, n * 10 + i) for n, ds in enumerate(datasets) for i in range(7)]
    source, runs, requests, cursor = Source(datasets, documents), Runs(), Requests(), SweepCursor()
    budget = SweepBudget(max_documents=5, max_requeues=100)
    seen = []
    for _ in range(10):
        report = sweep(source, runs, requests, cursor, budget, NOW, lambda: 600_000)
        assert report.examined <= 5
        seen += [item["document_id"] for item in report.requeued]
        if report.finished_lap:
            break
    assert sorted(seen) == sorted(d.id for d in documents)  # every file changed: each re-queued once
    assert len(seen) == len(set(seen)) and sorted(requests.parsed) == sorted(seen)
    assert cursor.laps == 1


def test_the_requeue_budget_caps_one_run():
    ds = dataset()
    documents = [document(ds, i) for i in range(30)]
    source, runs, requests, cursor = Source([ds], documents), Runs(), Requests(), SweepCursor()
    report = sweep(source, runs, requests, cursor, SweepBudget(1000, 4), NOW, lambda: 600_000)
    assert len(report.requeued) == 4 and report.stopped_because == "re-queue budget used"
    report = sweep(source, runs, requests, cursor, SweepBudget(1000, 100), NOW, lambda: 600_000)
    assert len(report.requeued) == 26 and len(set(requests.parsed)) == 30
