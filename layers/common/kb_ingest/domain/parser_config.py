"""RAGFlow's parser settings per chunk method: the defaults a dataset starts with, and a
client's settings laid over them (RAGFlow's `get_parser_config`, restated)."""

import copy
from collections.abc import Mapping
from typing import Any

_RAPTOR_PROMPT = (
    "Summarize the paragraphs below without inventing facts or changing numbers.\n"
    "Output exactly two parts in the same language as the source:\n"
    "1. First line: a concise title only.\n"
    "2. Following lines: a concise summary of the content.\n"
    "Do not output labels, Markdown headings, bullet points, or any other commentary.\n\n"
    "Paragraphs:\n{cluster_content}"
)
_EVERY_METHOD: dict[str, Any] = {"table_context_size": 0, "image_context_size": 0}
_NO_RAPTOR_NOR_GRAPH: dict[str, Any] = {"raptor": {"use_raptor": False}, "graphrag": {"use_graphrag": False}}
_NAIVE: dict[str, Any] = {
    "layout_recognize": "DeepDOC",
    "chunk_token_num": 512,
    "delimiter": "\n",
    "auto_keywords": 0,
    "auto_questions": 0,
    "html4excel": False,
    "topn_tags": 3,
    "raptor": {
        "use_raptor": True,
        "prompt": _RAPTOR_PROMPT,
        "max_token": 512,
        "clustering_threshold": 0.3,
        "clustering_ratio": 0.5,
        "max_cluster": 64,
        "random_seed": 0,
    },
    "graphrag": {
        "use_graphrag": True,
        "entity_types": ["organization", "person", "geo", "event", "category"],
        "method": "light",
        "batch_chunk_token_size": 4096,
        "retry_attempts": 2,
        "retry_backoff_seconds": 2.0,
        "retry_backoff_max_seconds": 60.0,
        "build_subgraph_timeout_per_chunk_seconds": 300,
        "build_subgraph_min_timeout_seconds": 600,
        "merge_timeout_seconds": 180,
        "resolution_timeout_seconds": 1800,
        "community_timeout_seconds": 1800,
        "lock_acquire_timeout_seconds": 600,
    },
    "parent_child": {"use_parent_child": False, "children_delimiter": "\n"},
}
_DEFAULTS_OF_METHOD: dict[str, dict[str, Any] | None] = {
    "naive": _NAIVE,
    "qa": _NO_RAPTOR_NOR_GRAPH,
    "manual": _NO_RAPTOR_NOR_GRAPH,
    "paper": _NO_RAPTOR_NOR_GRAPH,
    "book": _NO_RAPTOR_NOR_GRAPH,
    "laws": _NO_RAPTOR_NOR_GRAPH,
    "presentation": _NO_RAPTOR_NOR_GRAPH,
    "knowledge_graph": {
        "chunk_token_num": 8192,
        "delimiter": "\n",
        "entity_types": ["organization", "person", "location", "event", "time"],
        **_NO_RAPTOR_NOR_GRAPH,
    },
    "tag": None,
    "resume": None,
    "table": None,
    "one": None,
    "email": None,
    "picture": None,
    "audio": None,
}


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`overrides` over a copy of `base`, nested objects merged key by key."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parser_config_for(method: str | None, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings a dataset (or document) of `method` keeps when a client sends `given`."""
    defaults = _DEFAULTS_OF_METHOD.get(method or "naive") or {}
    merged = deep_merge(deep_merge(_EVERY_METHOD, defaults), given or {})
    # The parse step reads children_delimiter alone: parent_child decides it.
    parent_child = merged.get("parent_child") or {}
    if parent_child.get("use_parent_child"):
        merged["children_delimiter"] = parent_child.get("children_delimiter", "\n")
    elif parent_child:
        merged["children_delimiter"] = ""
    return merged
