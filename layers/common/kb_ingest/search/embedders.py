"""Embedders: text to L2-normalised float32 vectors, chosen by a dataset's `embedding_model`.

Two are available:

- the embedded default, WordLlama (`l2_supercat`, 256 dimensions, MIT): a static token-embedding
  model whose weights ship inside its PyPI wheel, so nothing is downloaded at run time (the
  search image and the local stack run it offline);
- Amazon Bedrock's Titan Text Embeddings V2 (`amazon.titan-embed-text-v2:0`, 1,024 dimensions,
  normalised by Bedrock), for AWS.

A dataset names its model RAGFlow's way, `<model_name>@<factory>`. RAGFlow's built-in models
(`BAAI/bge-small-en-v1.5@Builtin`, the default this API gives new datasets, and the rest of
its built-in list) mean "the stack's default embedder", which the `EMBEDDER` setting picks
(`builtin` or `bedrock`). A model this stack cannot run raises UnknownEmbeddingModel with a
message saying what it can run.
"""

import json
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from kb_ingest.domain.errors import DataError
from kb_ingest.settings import get_settings

Vectors = npt.NDArray[np.float32]

TITAN_V2 = "amazon.titan-embed-text-v2:0"
WORDLLAMA = "wordllama/l2_supercat"
# The names this stack answers for each embedder (case-insensitive, with or without a factory).
_BUILTIN_FACTORIES = {"builtin", "baai", "youdao", "jina", "tei", "fastembed", "sentence_transformers"}
_STACK_DEFAULT_MODELS = {
    # RAGFlow's built-in and default embedding models (its llm_factories' "Builtin" list and the
    # seed API's default); they mean "whatever this stack embeds with by default".
    "baai/bge-small-en-v1.5",
    "baai/bge-large-zh-v1.5",
    "baai/bge-large-en-v1.5",
    "baai/bge-base-en-v1.5",
    "baai/bge-m3",
    "maidalun1020/bce-embedding-base_v1",
    "jinaai/jina-embeddings-v2-base-en",
    "jinaai/jina-embeddings-v2-small-en",
    "nomic-ai/nomic-embed-text-v1.5",
    "sentence-transformers/all-minilm-l6-v2",
    "qwen/qwen3-embedding-0.6b",
}
_TITAN_MAX_CHARACTERS = 50_000  # Titan V2 takes up to 8,192 tokens or 50,000 characters
_TITAN_CONCURRENCY = 8  # InvokeModel embeds one text a call: batches go out this many at a time


class UnknownEmbeddingModel(DataError):
    """The dataset names an embedding model this stack cannot run."""


class Embedder(Protocol):
    name: str  # stored with the index: vectors of two embedders never mix
    dimensions: int

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """(len(texts), dimensions), each row L2-normalised."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """(dimensions,), L2-normalised."""
        ...


def normalise(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0).astype(np.float32)


class WordLlamaEmbedder:
    """WordLlama's static embeddings: mean-pooled token vectors, no network, no GPU, ~20 MB."""

    name = f"{WORDLLAMA}-256"
    dimensions = 256

    def __init__(self) -> None:
        from pathlib import Path

        import wordllama

        # The wheel holds the weights (weights/) and the tokenizer (tokenizers/); 0.4 looks for the
        # tokenizer under tokenizer/ beside itself, so the package folder is passed as the cache,
        # where it looks under tokenizers/. disable_download: a missing file fails, never fetches.
        self._model = wordllama.WordLlama.load(
            config="l2_supercat", dim=self.dimensions, cache_dir=Path(wordllama.__file__).parent, disable_download=True
        )

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = np.asarray(self._model.embed(list(texts), norm=False), dtype=np.float32)
        return normalise(vectors.reshape(len(texts), self.dimensions))

    def embed_query(self, text: str) -> Vectors:
        return self.embed_documents([text])[0]


class TitanEmbedder:
    """Bedrock's Titan Text Embeddings V2 through `InvokeModel`, one text per call, in parallel."""

    dimensions = 1024

    def __init__(self, client: Any | None = None) -> None:
        self.name = f"bedrock/{TITAN_V2}-{self.dimensions}"
        self._client = client

    def _bedrock(self) -> Any:
        if self._client is None:
            from kb_ingest.dal.clients import client

            self._client = client("bedrock-runtime")
        return self._client

    def _embed_one(self, text: str) -> list[float]:
        body = {"inputText": text[:_TITAN_MAX_CHARACTERS] or " ", "dimensions": self.dimensions, "normalize": True}
        answer = self._bedrock().invoke_model(
            modelId=TITAN_V2, body=json.dumps(body), contentType="application/json", accept="application/json"
        )
        return list(json.loads(answer["body"].read())["embedding"])

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with ThreadPoolExecutor(max_workers=min(_TITAN_CONCURRENCY, len(texts))) as pool:
            rows = list(pool.map(self._embed_one, texts))
        return normalise(np.asarray(rows, dtype=np.float32))

    def embed_query(self, text: str) -> Vectors:
        return normalise(np.asarray(self._embed_one(text), dtype=np.float32))


def _split(embedding_model: str) -> tuple[str, str]:
    model, _, factory = embedding_model.strip().partition("@")
    return model.strip().lower(), factory.strip().lower()


def embedder_kind(embedding_model: str, default: str | None = None) -> str:
    """Which embedder (`builtin` or `bedrock`) serves this model name; raises UnknownEmbeddingModel."""
    stack_default = (default or get_settings().embedder).strip().lower()
    if stack_default not in ("builtin", "bedrock"):
        raise UnknownEmbeddingModel(f"EMBEDDER is '{stack_default}': it must be 'builtin' or 'bedrock'.")
    model, factory = _split(embedding_model or "")
    if model == TITAN_V2 and factory in ("", "bedrock", "amazon"):
        return "bedrock"
    if model.startswith("wordllama") and factory in ("", "builtin"):
        return "builtin"
    if model in _STACK_DEFAULT_MODELS and (factory == "" or factory in _BUILTIN_FACTORIES):
        return stack_default
    if re.fullmatch(r"[0-9a-f]{32}", model):
        reason = "it names a tenant's model record, which this stack does not keep"
    else:
        reason = "this stack does not run it"
    raise UnknownEmbeddingModel(
        f"Embedding model '{embedding_model}' is not available: {reason}. Use '{TITAN_V2}@Bedrock', "
        f"'{WORDLLAMA}@Builtin', or a RAGFlow built-in such as 'BAAI/bge-small-en-v1.5@Builtin' "
        f"(served by this stack's default embedder, '{stack_default}')."
    )


@cache
def _embedder(kind: str) -> Embedder:
    return WordLlamaEmbedder() if kind == "builtin" else TitanEmbedder()


def embedder_for(embedding_model: str) -> Embedder:
    """The embedder for a dataset's `embedding_model`, created once per container."""
    return _embedder(embedder_kind(embedding_model))
