"""What makes retrieval answer as RAGFlow's synchronous index would right after a write: ranked
hits checked against the chunk store (the truth) before they are answered, and a lagging index
waited for, within a bound."""

from dataclasses import dataclass, replace
from typing import Any

from kb_ingest.domain.retrieval import Ranked, RetrievalOptions
from kb_ingest.domain.retrieval_queries import caught_up_indexes, verified_page


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    content: str
    chunk_key: str = ""
    document_id: str = "doc-1"
    document_name: str = "notes.txt"
    important_keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stored:
    content: str
    available: bool = True
    important_keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()


class Chunks:
    """The chunk store by (document_id, chunk_key `g#<chunk id>`), counting the keys each BatchGet asks for."""

    def __init__(self, stored: dict[str, Stored]) -> None:
        self.stored = stored
        self.asked: list[list[str]] = []

    def current(self, keys: Any) -> dict[tuple[str, str], Stored]:
        self.asked.append([key for _, key in keys])
        by_id = {key: key.removeprefix("g#") for _, key in keys}
        return {(document, key): self.stored[by_id[key]] for document, key in keys if by_id[key] in self.stored}


def ranked(*ids: str) -> list[Ranked[Hit]]:
    return [Ranked(Hit(i, f"old {i}", chunk_key=f"g#{i}"), 1.0 - n / 100, 0.5, 0.5) for n, i in enumerate(ids)]


def test_a_deleted_or_disabled_chunk_is_dropped_and_the_page_filled_from_the_next():
    chunks = Chunks({"a": Stored("a"), "c": Stored("c", available=False), "d": Stored("d"), "e": Stored("e")})
    page = verified_page("q", ranked("a", "b", "c", "d", "e"), 5, RetrievalOptions(page_size=2), chunks)
    assert [item.hit.chunk_id for item in page.chunks] == ["a", "d"]
    assert page.total == 3  # b (deleted) and c (disabled) no longer count
    assert [agg["count"] for agg in page.doc_aggs] == [3]


def test_only_as_many_hits_as_the_page_needs_are_checked():
    chunks = Chunks({i: Stored(i) for i in "abcdef"})
    page = verified_page("q", ranked(*"abcdef"), 6, RetrievalOptions(page=2, page_size=2), chunks)
    assert [item.hit.chunk_id for item in page.chunks] == ["c", "d"]
    assert chunks.asked == [["g#a", "g#b", "g#c", "g#d"]]  # one BatchGet, e and f never read


def test_an_edited_chunk_answers_its_content_now_and_is_highlighted_so():
    chunks = Chunks({"a": Stored("FIFO queues", important_keywords=("sqs",))})
    page = verified_page("fifo", ranked("a"), 1, RetrievalOptions(highlight=True), chunks)
    [item] = page.chunks
    assert (item.hit.content, item.hit.important_keywords) == ("FIFO queues", ("sqs",))
    assert item.highlight == "<em>FIFO</em> queues"


def test_a_row_indexed_without_a_chunk_key_is_kept_on_the_document_filter_alone():
    unkeyed = [replace(item, hit=replace(item.hit, chunk_key="")) for item in ranked("a")]
    page = verified_page("q", unkeyed, 1, RetrievalOptions(), Chunks({}))
    assert [item.hit.chunk_id for item in page.chunks] == ["a"]


@dataclass(frozen=True)
class Dataset:
    id: str
    search_lag: int
    chunk_num: int


class Index:
    def __init__(self, rows: int) -> None:
        self.rows = rows

    def count(self) -> int:
        return self.rows


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Datasets:
    """Each re-read shows the feed one step further: lag 2, then 1, then 0."""

    def __init__(self, states: list[Dataset]) -> None:
        self.states = states
        self.reads = 0

    def get_many(self, _tenant_id: str, ids: list[str]) -> dict[str, Dataset]:
        self.reads += 1
        state = self.states[min(self.reads, len(self.states) - 1)]
        return {state.id: state} if state.id in ids else {}


def test_a_lagging_index_is_waited_for_until_it_has_caught_up():
    states = [Dataset("kb", 2, 4), Dataset("kb", 1, 4), Dataset("kb", 0, 4)]
    store, clock = Datasets(states), Clock()
    opened: list[Any] = []

    def open_index(dataset: Any) -> Index:
        opened.append(dataset)
        return Index(dataset.chunk_num - dataset.search_lag)

    [index] = caught_up_indexes([states[0]], "t", store, open_index, 5.0, clock, clock.sleep)  # type: ignore[arg-type]
    assert index.count() == 4 and opened[-1].search_lag == 0 and clock.now < 1.0


def test_a_stalled_feed_costs_a_bounded_wait():
    stuck = Dataset("kb", 3, 4)
    store, clock = Datasets([stuck]), Clock()
    [index] = caught_up_indexes([stuck], "t", store, lambda _d: Index(1), 5.0, clock, clock.sleep)  # type: ignore[arg-type]
    assert index.count() == 1 and 5.0 <= clock.now < 5.5


def test_an_index_up_to_date_is_searched_at_once():
    ready = Dataset("kb", 0, 4)
    store, clock = Datasets([ready]), Clock()
    caught_up_indexes([ready], "t", store, lambda _d: Index(4), 5.0, clock, clock.sleep)  # type: ignore[arg-type]
    assert clock.now == 0.0 and store.reads == 0
