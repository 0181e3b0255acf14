"""The shared pager's numbers (shared.web.paging.Page): the count shown and Aksel's seven-slot page steps."""
from shared.web.paging import Page


def test_counts_of_a_page():
    assert (Page(2, 51).first, Page(2, 51).last, Page(2, 51).pages, Page(2, 51).offset) == (51, 51, 2, 50)
    assert (Page(1, 0).first, Page(1, 0).last, Page(1, 0).pages) == (0, 0, 1)
    assert Page(1, 50).pages == 1 and Page(1, 101, size=10).pages == 11


def test_steps_show_first_last_and_neighbours_with_gaps_as_none():
    assert Page(3, 300).steps() == [1, 2, 3, 4, 5, 6]
    assert Page(1, 500).steps() == [1, 2, 3, 4, 5, None, 10]
    assert Page(5, 500).steps() == [1, None, 4, 5, 6, None, 10]
    assert Page(10, 500).steps() == [1, None, 6, 7, 8, 9, 10]
    assert Page(4, 500).steps() == [1, 2, 3, 4, 5, None, 10]  # a gap of one page is that page, not "…"
