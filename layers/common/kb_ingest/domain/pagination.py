"""Today's API's paging rules, as RAGFlow's list and retrieval routes apply them
(api/utils/pagination_utils.py): a page or page size that is not a positive integer falls back
to the default without an error; a page size over 100 is refused."""

from typing import Any

from kb_ingest.domain.errors import ArgumentError

DEFAULT_PAGE = 1
DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 100  # RAGFlow's REST_API_MAX_PAGE_SIZE


def _positive(raw: Any) -> int | None:
    try:
        value = int(raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON 1e400 reads as infinity
        return None
    return value if value >= 1 else None


def page_number(raw: Any) -> int:
    return _positive(raw) or DEFAULT_PAGE


def page_size(raw: Any) -> int:
    size = _positive(raw) or DEFAULT_PAGE_SIZE
    if size > MAX_PAGE_SIZE:
        raise ArgumentError(f"page_size must be less than or equal to {MAX_PAGE_SIZE}")
    return size
