"""Today's API's paging, RAGFlow's rules: anything that is not a positive integer is the default,
a page size over 100 is refused with RAGFlow's message."""

import pytest

from kb_ingest.domain.errors import ArgumentError
from kb_ingest.domain.pagination import page_number, page_size


@pytest.mark.parametrize("raw", [None, "", "a", "0", -3, 0, [], {}, float("inf"), "1.5"])
def test_what_is_not_a_positive_integer_is_the_default(raw):
    assert page_number(raw) == 1 and page_size(raw) == 30


def test_positive_integers_are_taken_as_they_are():
    assert page_number("7") == 7 and page_size(100) == 100 and page_size(2.9) == 2


def test_a_page_size_over_100_is_refused():
    with pytest.raises(ArgumentError, match="page_size must be less than or equal to 100"):
        page_size("101")
