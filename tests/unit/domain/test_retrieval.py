"""RAGFlow's ranking over candidate hits: the weighting, the threshold, paging, doc_aggs and
highlighting behave as RAGFlow documents them."""

from dataclasses import dataclass

import pytest

from kb_ingest.domain.retrieval import (
    RetrievalOptions,
    doc_aggs,
    highlight,
    query_terms,
    rank,
    term_similarities,
    tokens,
)


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    content: str
    vector_similarity: float = 0.0
    document_id: str = "doc-1"
    document_name: str = "notes.txt"
    important_keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    term_similarity: float = 0.0  # the engine's BM25, scaled


def test_tokens_are_lower_cased_stemmed_and_cjk_by_character():
    assert tokens("Lambda BILLS billed, billing!") == ["lambda", "bill", "bill", "bill"]
    assert tokens("数据库 serverless") == ["数", "据", "库", "serverless"]
    assert query_terms("What is the price of the Lambda?") == ["price", "lambda"]


def test_term_similarity_is_the_share_of_the_questions_weight_a_chunk_covers():
    hits = [
        Hit("all", "Lambda pricing: millisecond granularity"),
        Hit("one", "Lambda runs code"),
        Hit("none", "Cats sleep"),
    ]
    full, partial, nothing = term_similarities("lambda pricing millisecond", hits)
    assert full == pytest.approx(1.0)
    assert 0 < partial < full
    assert nothing == pytest.approx(0.0, abs=1e-6)


def test_a_rare_term_weighs_more_than_a_common_one():
    hits = [Hit(f"common{i}", "lambda functions") for i in range(8)] + [Hit("rare", "snapstart restores")]
    scores = dict(zip([h.chunk_id for h in hits], term_similarities("lambda snapstart", hits), strict=True))
    # both match one of the two terms; the rare term carries more of the question's weight
    assert scores["rare"] > scores["common0"]


def test_keywords_questions_and_the_document_name_count_as_the_chunks_words():
    [kw, q, name, plain] = term_similarities(
        "invoice",
        [
            Hit("kw", "text", important_keywords=("invoice",)),
            Hit("q", "text", questions=("Where is the invoice?",)),
            Hit("name", "text", document_name="invoice-2024.pdf"),
            Hit("plain", "text"),
        ],
    )
    assert kw == q == name == pytest.approx(1.0) and plain == pytest.approx(0.0, abs=1e-6)


def test_similarity_weighs_vector_and_term_similarity_by_vector_similarity_weight():
    hits = [
        Hit("words", "lambda cold start", vector_similarity=0.1, term_similarity=1.0),
        Hit("meaning", "unrelated", vector_similarity=0.9),
    ]
    by_terms = rank("lambda cold start", hits, RetrievalOptions(vector_similarity_weight=0.3, similarity_threshold=0))
    assert [r.hit.chunk_id for r in by_terms.chunks] == ["words", "meaning"]
    words = by_terms.chunks[0]
    assert words.similarity == pytest.approx(0.3 * 0.1 + 0.7 * words.term_similarity)
    assert words.term_similarity == pytest.approx(1.0) and words.vector_similarity == pytest.approx(0.1)
    by_vectors = rank("lambda cold start", hits, RetrievalOptions(vector_similarity_weight=0.9, similarity_threshold=0))
    assert [r.hit.chunk_id for r in by_vectors.chunks] == ["meaning", "words"]
    assert by_vectors.chunks[0].similarity == pytest.approx(0.9 * 0.9)


def test_the_threshold_drops_weak_chunks_and_total_counts_the_rest():
    hits = [Hit(f"c{i}", "lambda" if i < 3 else "other", 0.5, term_similarity=float(i < 3)) for i in range(6)]
    ranking = rank("lambda", hits, RetrievalOptions(similarity_threshold=0.5))
    # matching chunks: 0.3*0.5 + 0.7*1 = 0.85; the others 0.15, under 0.5
    assert ranking.total == 3 and {r.hit.chunk_id for r in ranking.chunks} == {"c0", "c1", "c2"}
    assert all(r.similarity >= 0.5 for r in ranking.chunks)
    assert rank("lambda", hits, RetrievalOptions(similarity_threshold=0.99)).total == 0


def test_the_term_side_is_the_mean_of_ragflows_token_similarity_and_the_engines_bm25():
    hits = [
        Hit("both", "lambda", 0.5, term_similarity=1.0),
        Hit("tokens", "lambda", 0.5),
        Hit("bm25", "x", 0.5, term_similarity=0.6),
    ]
    by_id = {r.hit.chunk_id: r for r in rank("lambda", hits, RetrievalOptions(similarity_threshold=0)).chunks}
    assert by_id["both"].term_similarity == pytest.approx(1.0)
    assert by_id["tokens"].term_similarity == pytest.approx(0.5)
    assert by_id["bm25"].term_similarity == pytest.approx(0.3)


def test_with_no_vector_weight_the_threshold_is_not_applied_as_ragflow():
    hits = [Hit("a", "lambda", vector_similarity=0.9), Hit("b", "lambda pricing", vector_similarity=0.9)]
    ranking = rank("lambda pricing", hits, RetrievalOptions(vector_similarity_weight=0.0, similarity_threshold=0.9))
    assert ranking.total == 2 and ranking.chunks[0].hit.chunk_id == "b"


def test_with_no_vector_weight_a_chunk_matching_no_term_of_the_question_is_no_answer():
    # Only the vector search proposed "b"; with terms alone ranking, RAGFlow's keyword query
    # never returns it (its suite: weight 0 answers exactly the chunks holding the word).
    hits = [Hit("a", "lambda", vector_similarity=0.1), Hit("b", "other", vector_similarity=0.9)]
    ranking = rank("lambda", hits, RetrievalOptions(vector_similarity_weight=0.0))
    assert [ranked.hit.chunk_id for ranked in ranking.chunks] == ["a"] and ranking.total == 1


def test_without_any_vector_signal_terms_alone_rank():
    hits = [Hit("a", "lambda cold"), Hit("b", "lambda")]
    ranking = rank("lambda cold", hits, RetrievalOptions(similarity_threshold=0.0))
    assert ranking.chunks[0].similarity == pytest.approx(ranking.chunks[0].term_similarity)


def test_pages_are_cut_from_the_ranked_chunks_and_do_not_overlap():
    hits = [Hit(f"c{i:02d}", "lambda " * (i + 1), vector_similarity=i / 100) for i in range(25)]
    pages = [rank("lambda", hits, RetrievalOptions(page=p, page_size=10, similarity_threshold=0)) for p in (1, 2, 3, 4)]
    ids = [[r.hit.chunk_id for r in page.chunks] for page in pages]
    assert [len(page) for page in ids] == [10, 10, 5, 0]
    assert len({i for page in ids for i in page}) == 25
    assert all(page.total == 25 for page in pages)
    sims = [r.similarity for page in pages for r in page.chunks]
    assert sims == sorted(sims, reverse=True)


def test_doc_aggs_count_kept_chunks_per_document_most_first():
    hits = [
        Hit("a1", "lambda", 0.5, "A", "a.txt"),
        Hit("b1", "lambda", 0.5, "B", "b.txt"),
        Hit("b2", "lambda", 0.5, "B", "b.txt"),
        Hit("c1", "nothing", 0.0, "C", "c.txt"),
    ]
    ranking = rank("lambda", hits, RetrievalOptions(page_size=1))
    assert ranking.doc_aggs == [
        {"doc_name": "b.txt", "doc_id": "B", "count": 2},
        {"doc_name": "a.txt", "doc_id": "A", "count": 1},
    ]
    assert doc_aggs([]) == []


def test_highlight_wraps_matched_words_in_em_and_only_when_asked():
    hits = [Hit("a", "Lambda functions bill per millisecond.", 0.5)]
    plain = rank("billing of lambda", hits, RetrievalOptions())
    assert plain.chunks[0].highlight is None
    marked = rank("billing of lambda", hits, RetrievalOptions(highlight=True))
    assert marked.chunks[0].highlight == "<em>Lambda</em> functions <em>bill</em> per millisecond."
    assert highlight("数据库很快", "数据") == "<em>数</em><em>据</em>库很快"
    assert highlight("nothing here", "lambda") == "nothing here"


def test_an_empty_question_or_no_candidates_rank_nothing():
    assert rank("  ", [Hit("a", "x", 0.9)], RetrievalOptions()).total == 0
    assert rank("lambda", [], RetrievalOptions()).chunks == []


def test_duplicate_candidates_count_once():
    hit = Hit("a", "lambda", 0.5)
    assert rank("lambda", [hit, hit], RetrievalOptions()).total == 1
