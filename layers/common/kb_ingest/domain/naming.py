"""RAGFlow's duplicate-name rule: `kb` -> `kb(1)` -> `kb(2)`, `a.txt` -> `a(1).txt`."""

import re
from collections.abc import Callable

_COUNTER = re.compile(r"\(([0-9]+)\)$")


def name_key(name: str) -> str:
    """Names are unique case-insensitively, as RAGFlow's database collation made them."""
    return name.lower()


def split_extension(name: str) -> tuple[str, str]:
    """`report.final.pdf` -> (`report.final`, `.pdf`); a leading dot alone is not an extension."""
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return name, ""
    return name[:dot], name[dot:]


def next_name(name: str) -> str:
    """The candidate RAGFlow tries after `name` is taken."""
    stem, extension = split_extension(name)
    match = _COUNTER.search(stem)
    counter = 0
    if match:
        counter = int(match.group(1))
        stem = stem[: match.start()]
    return f"{stem}({counter + 1}){extension}"


def first_free_name(name: str, is_taken: Callable[[str], bool], limit: int = 10_000) -> str:
    """Walk the suffix sequence from `name` until `is_taken` says no."""
    candidate = name
    for _ in range(limit):
        if not is_taken(candidate):
            return candidate
        candidate = next_name(candidate)
    raise RuntimeError(f"no free name after {limit} attempts starting from {name!r}")
