"""RAGFlow's duplicate-name rule: `kb` -> `kb(1)` -> `kb(2)`, `a.txt` -> `a(1).txt`.

A name belongs to a *family*: its stem without a trailing `(n)` counter, plus its extension.
`kb`, `kb(1)` and `kb(7)` are one family; a taken name moves to the lowest free counter above
its own, so finding it needs the taken counters of one family, not one lookup per candidate.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_COUNTER = re.compile(r"\(([0-9]+)\)$")
# A sort key must fit DynamoDB's 1,024-byte limit on index keys.
MAX_SORT_KEY_BYTES = 1024


def name_key(name: str) -> str:
    """What names sort and compare by: case-insensitive (as RAGFlow's database collation made
    them), never empty and never longer than an index key may be. Not unique for names that
    share their first kilobyte: uniqueness is the name claims' job (kb_ingest.dal.names)."""
    folded = name.lower()
    if not folded:
        return "\x00"  # the empty name sorts first, as "" does
    return truncate_utf8(folded, MAX_SORT_KEY_BYTES)


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` whose UTF-8 form fits `max_bytes` (never half a character)."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", "ignore")


def split_extension(name: str) -> tuple[str, str]:
    """`report.final.pdf` -> (`report.final`, `.pdf`); a leading dot alone is not an extension."""
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return name, ""
    return name[:dot], name[dot:]


@dataclass(frozen=True)
class NameParts:
    """`report(3).pdf` -> base `report`, counter 3 (digits `3`), extension `.pdf`."""

    base: str
    digits: str | None
    extension: str

    @property
    def counter(self) -> int:
        return int(self.digits) if self.digits is not None else 0

    def with_counter(self, counter: int) -> str:
        return f"{self.base}({counter}){self.extension}"


def parse_name(name: str) -> NameParts:
    stem, extension = split_extension(name)
    match = _COUNTER.search(stem)
    if match is None:
        return NameParts(stem, None, extension)
    return NameParts(stem[: match.start()], match.group(1), extension)


def next_name(name: str) -> str:
    """The candidate RAGFlow tries after `name` is taken."""
    parts = parse_name(name)
    return parts.with_counter(parts.counter + 1)


def lowest_free_name(name: str, taken_counters: Iterable[int]) -> str:
    """`name` is taken: the name RAGFlow's walk (`name`, next_name(name), ...) ends on, given
    every counter already taken in its family. Computed, not probed: one read of the family."""
    parts = parse_name(name)
    taken = {counter for counter in taken_counters if counter > parts.counter}
    counter = parts.counter + 1
    while counter in taken:
        counter += 1
    return parts.with_counter(counter)


def first_free_name(name: str, is_taken: Callable[[str], bool], limit: int = 10_000) -> str:
    """Walk the suffix sequence from `name` until `is_taken` says no (in-memory stores)."""
    candidate = name
    for _ in range(limit):
        if not is_taken(candidate):
            return candidate
        candidate = next_name(candidate)
    raise RuntimeError(f"no free name after {limit} attempts starting from {name!r}")
