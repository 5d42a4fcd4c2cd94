"""Ids and timestamps in RAGFlow's formats."""

import time
import uuid
from email.utils import formatdate


def new_id() -> str:
    """A RAGFlow id: 32 lowercase hex characters (a uuid4 without dashes)."""
    return uuid.uuid4().hex


def now_ms() -> int:
    return int(time.time() * 1000)


def rfc1123(epoch_ms: int) -> str:
    """`Mon, 17 Jun 2024 16:00:05 GMT`, as RAGFlow's create_date/update_date."""
    return formatdate(epoch_ms / 1000, usegmt=True)


def is_valid_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)
