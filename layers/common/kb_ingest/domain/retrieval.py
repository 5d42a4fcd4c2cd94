"""RAGFlow's retrieval ranking, restated (rag/nlp/search.py `Dealer.retrieval`/`rerank`,
rag/nlp/query.py `token_similarity`/`hybrid_similarity`), over the candidates the index found.

    similarity = w * vector_similarity + (1 - w) * term_similarity

with w the request's (or dataset's) `vector_similarity_weight`, 0.3 by default. The term
similarity is the mean of two keyword scores: RAGFlow's token similarity (the question's terms
weighted by how rare they are among the candidates, an IDF, unigrams at 0.4 and adjacent pairs at
0.6 of their weight; a chunk scores the share of that weight its tokens, from content, document
name, important keywords and questions, cover) and the engine's BM25 score scaled by the query's
best (RAGFlow's own BM25 only picks its candidates; here it also ranks, which measured better). Chunks under `similarity_threshold` (0.2 by default; not applied when w is 0,
as RAGFlow, where only chunks matching a term of the question are kept) are dropped; `total` counts the rest, the page is cut from them, and `doc_aggs`
counts them per document, most first. Pure functions: no index, no HTTP.
"""

import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kb_ingest.domain.pagination import DEFAULT_PAGE_SIZE

DEFAULT_SIMILARITY_THRESHOLD = 0.2
DEFAULT_VECTOR_SIMILARITY_WEIGHT = 0.3
DEFAULT_TOP_K = 1024
MAX_TOP_K = 1024  # the most candidates each search leg brings back (RAGFlow's default top_k)

# English function words (RAGFlow's query parser drops its own list of these before weighting).
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "please",
        "tell",
    ]
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_HIGHLIGHT_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class Candidate(Protocol):
    """What ranking reads of a hit (kb_ingest.search.index.Hit has these)."""

    @property
    def chunk_id(self) -> str: ...
    @property
    def document_id(self) -> str: ...
    @property
    def document_name(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def important_keywords(self) -> tuple[str, ...]: ...
    @property
    def questions(self) -> tuple[str, ...]: ...
    @property
    def vector_similarity(self) -> float: ...
    @property
    def term_similarity(self) -> float:
        """The engine's keyword (BM25) score, scaled to [0, 1] by the query's best; 0 when the
        keyword search did not find the chunk."""
        ...


@dataclass(frozen=True)
class RetrievalOptions:
    similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD
    vector_similarity_weight: float = DEFAULT_VECTOR_SIMILARITY_WEIGHT
    top_k: int = DEFAULT_TOP_K
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    highlight: bool = False


@dataclass(frozen=True)
class Ranked[C: Candidate]:
    hit: C
    similarity: float
    term_similarity: float
    vector_similarity: float
    highlight: str | None = None


@dataclass(frozen=True)
class Ranking[C: Candidate]:
    chunks: list[Ranked[C]]  # the page asked for
    total: int  # every candidate at or over the threshold
    doc_aggs: list[dict[str, object]]


# ---------------------------------------------------------------- tokens and weights
def _is_cjk(char: str) -> bool:
    return unicodedata.category(char) == "Lo" and ord(char) >= 0x2E80


def _stem(word: str) -> str:
    """A light English stemmer (plural and common verb endings), enough that "bills" meets
    "billed" and "billing"; words of other scripts are left as they are."""
    if not word.isascii() or len(word) <= 3:
        return word
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: len(word) - len(suffix)] + replacement
    return word


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed word tokens; CJK text one token per character (pairs of adjacent
    tokens are weighted too, so two-character words still count as one)."""
    found: list[str] = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).lower()):
        if any(_is_cjk(char) for char in word):
            run = ""
            for char in word:
                if _is_cjk(char):
                    if run:
                        found.append(_stem(run))
                        run = ""
                    found.append(char)
                else:
                    run += char
            if run:
                found.append(_stem(run))
        else:
            found.append(_stem(word))
    return found


def query_terms(question: str) -> list[str]:
    """The question's tokens without function words, in order, each once."""
    seen: dict[str, None] = {}
    for token in tokens(question):
        if token not in STOP_WORDS:
            seen.setdefault(token, None)
    return list(seen)


def _idf(document_frequency: int, documents: int) -> float:
    # RAGFlow's term_weight idf: log10(10 + (N - df + 0.5) / (df + 0.5))
    return math.log10(10 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


def _weighted_terms(terms: Sequence[str], frequency: Counter[str], documents: int) -> dict[str, float]:
    """RAGFlow's `to_dict`: each term 0.4 of its normalised weight, each adjacent pair 0.6 of
    the larger of the two."""
    raw = [_idf(frequency.get(term, 0), documents) for term in terms]
    total = sum(raw) or 1.0
    weights = [value / total for value in raw]
    weighted: dict[str, float] = {}
    for i, term in enumerate(terms):
        weighted[term] = weighted.get(term, 0.0) + weights[i] * 0.4
        if i + 1 < len(terms):
            pair = term + terms[i + 1]
            weighted[pair] = weighted.get(pair, 0.0) + max(weights[i], weights[i + 1]) * 0.6
    return weighted


def chunk_terms(candidate: Candidate) -> set[str]:
    """Every token and adjacent pair of the chunk's searchable fields."""
    found: set[str] = set()
    fields: Iterable[str] = [
        candidate.content, candidate.document_name, *candidate.important_keywords, *candidate.questions,
    ]  # fmt: skip
    for text in fields:
        words = [token for token in tokens(text) if token not in STOP_WORDS]
        found.update(words)
        found.update(a + b for a, b in itertools.pairwise(words))
    return found


def term_similarities(question: str, candidates: Sequence[Candidate]) -> list[float]:
    """RAGFlow's token similarity of each candidate to the question, in [0, 1]."""
    terms = query_terms(question)
    if not terms or not candidates:
        return [0.0] * len(candidates)
    term_sets = [chunk_terms(candidate) for candidate in candidates]
    frequency = Counter(term for term_set in term_sets for term in set(terms) & term_set)
    weighted = _weighted_terms(terms, frequency, len(candidates))
    whole = sum(weighted.values()) + 1e-9
    return [min(1.0, (sum(w for t, w in weighted.items() if t in term_set) + 1e-9) / whole) for term_set in term_sets]


# ---------------------------------------------------------------- highlight
def highlight(content: str, question: str) -> str:
    """The content with every word matching a question term wrapped in <em>, as RAGFlow's
    highlighter marks matches; the content unchanged when nothing matches."""
    terms = set(query_terms(question))
    if not terms:
        return content

    def mark(match: re.Match[str]) -> str:
        word = match.group(0)
        if any(_is_cjk(char) for char in word):
            return "".join(f"<em>{char}</em>" if char in terms else char for char in word)
        return f"<em>{word}</em>" if _stem(unicodedata.normalize("NFKC", word).lower()) in terms else word

    return _HIGHLIGHT_WORD.sub(mark, content)


# ---------------------------------------------------------------- ranking
def rank[C: Candidate](question: str, candidates: Sequence[C], options: RetrievalOptions) -> Ranking[C]:
    """Score, threshold, sort and page the candidates as RAGFlow's `Dealer.retrieval` does."""
    unique = list({candidate.chunk_id: candidate for candidate in candidates}.values())
    if not question.strip() or not unique:
        return Ranking([], 0, [])
    weight = min(1.0, max(0.0, options.vector_similarity_weight))
    # The term side is the mean of RAGFlow's token similarity and the engine's BM25: on the
    # retrieval benchmark either alone ranks answers lower than the two together.
    tokens_side = term_similarities(question, unique)
    term = [
        (token + min(1.0, max(0.0, float(candidate.term_similarity)))) / 2
        for token, candidate in zip(tokens_side, unique, strict=True)
    ]
    vector = [min(1.0, max(0.0, float(candidate.vector_similarity))) for candidate in unique]
    if sum(vector) == 0:  # no vector signal at all: RAGFlow ranks by terms alone
        similarity = list(term)
    else:
        similarity = [weight * v + (1 - weight) * t for v, t in zip(vector, term, strict=True)]
    order = sorted(range(len(unique)), key=lambda i: (-similarity[i], unique[i].chunk_id))
    if weight <= 0:
        # Terms alone rank: the threshold is not applied (RAGFlow), but a chunk that matches none
        # of the question's terms scores 0 and is no answer (the vector leg only proposed it;
        # RAGFlow's keyword query never returns it).
        asked = set(query_terms(question))
        kept = [i for i in order if unique[i].term_similarity > 0 or asked & chunk_terms(unique[i])]
    else:
        kept = [i for i in order if similarity[i] >= options.similarity_threshold]
    start = (max(1, options.page) - 1) * max(1, options.page_size)
    page = kept[start : start + max(1, options.page_size)]
    chunks = [
        Ranked(
            unique[i],
            similarity[i],
            term[i],
            vector[i],
            highlight(unique[i].content, question) if options.highlight else None,
        )
        for i in page
    ]
    return Ranking(chunks, len(kept), doc_aggs(unique[i] for i in kept))


def doc_aggs(ranked: Iterable[Candidate]) -> list[dict[str, object]]:
    """Per document name: its id and how many kept chunks it has, most first (ties: first seen)."""
    counts: Counter[str] = Counter()
    document_ids: dict[str, str] = {}
    for candidate in ranked:
        counts[candidate.document_name] += 1
        document_ids.setdefault(candidate.document_name, candidate.document_id)
    ordered = sorted(document_ids, key=lambda name: -counts[name])
    return [{"doc_name": name, "doc_id": document_ids[name], "count": counts[name]} for name in ordered]
