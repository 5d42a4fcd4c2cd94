"""The index function compacts a dataset's table after a batch only when it is due, and a
compaction that fails never fails the batch (its writes are already committed)."""

from kb_ingest.dal.search_feed import _compact_if_due


class Index:
    def __init__(self, due: bool, fails: bool = False) -> None:
        self.due, self.fails, self.compactions = due, fails, 0

    def needs_compaction(self) -> bool:
        return self.due

    def compact(self) -> None:
        if self.fails:
            raise OSError("commit conflict")
        self.compactions += 1


def test_a_due_index_is_compacted_and_one_that_is_not_is_left_alone():
    due, fresh = Index(due=True), Index(due=False)
    assert _compact_if_due(due, "ds") is True and due.compactions == 1
    assert _compact_if_due(fresh, "ds") is False and fresh.compactions == 0


def test_a_failed_compaction_is_reported_not_raised():
    failing = Index(due=True, fails=True)
    assert _compact_if_due(failing, "ds") is False
