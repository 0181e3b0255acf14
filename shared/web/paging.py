"""Lists on the pages that grow without bound, paged on the server: `?side=N`, a fixed page size, and the numbers
the shared pagination macro (templates/navigation_macros.html) shows. One rule for every service's list:
an odd `side` (text, 0, negative) shows the first page, as an odd filter value does, and a page past the end shows
the last one (a link kept from yesterday still lands on the list, and the macro marks the page shown)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for

PAGE_SIZE = 50
PAGE_PARAM = "side"
# Not carried into the pager's links: a success message belongs to the page the action returned to.
_NOT_CARRIED = ("melding",)


def requested_page(param: str = PAGE_PARAM) -> int:
    raw = request.args.get(param, "1").strip()
    return min(int(raw), 10**9) if raw.isdigit() and int(raw) > 0 else 1  # a huge number is past the end too


@dataclass(frozen=True)
class Page:
    number: int
    total: int
    size: int = PAGE_SIZE
    param: str = PAGE_PARAM

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first(self) -> int:
        return self.offset + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.total, self.offset + self.size)

    def steps(self) -> list[int | None]:
        """The page numbers the pager shows, None for a gap: the first and last, and one either side of the page
        shown (Aksel's Pagination with siblingCount=1, boundaryCount=1; seven slots at most)."""
        count = self.pages
        if count <= 7:
            return list(range(1, count + 1))
        start = max(min(self.number - 1, count - 4), 3)
        end = start + 2
        return [1, 2 if start == 3 else None, *range(start, end + 1), count - 1 if end == count - 2 else None, count]

    def url(self, number: int, anchor: str | None = None) -> str:
        """The page's own address with `side` set to number; its other query arguments (filters) kept."""
        args = {k: v for k, v in request.args.to_dict(flat=False).items() if k not in (self.param, *_NOT_CARRIED)}
        args[self.param] = number
        return url_for(request.endpoint, **(request.view_args or {}), **args, _anchor=anchor)


def page_of(total: int, size: int = PAGE_SIZE, param: str = PAGE_PARAM) -> Page:
    """The page the request asks for among `total` items, past the end clamped to the last."""
    page = Page(1, total, size, param)
    return Page(min(requested_page(param), page.pages), total, size, param)
