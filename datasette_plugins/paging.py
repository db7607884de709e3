"""Long canned queries, a page at a time.

Datasette 0.65 pages through tables but not through canned queries: it shows
up to `max_returned_rows` rows and says the rest were cut off, which a reviewer,
who cannot edit SQL, has no way past; and a thousand rows take most of a page's
time to draw. A long canned query ends in `LIMIT 100 OFFSET :_page_offset`
(`metadata.A_PAGE`); `?_page=N` picks the page, and each page links to the
pages on either side.
"""

from __future__ import annotations

from datasette import hookimpl
from datasette.utils import path_with_replaced_args

from datasette_plugins.metadata import A_PAGE, PAGE_ROWS, QUERIES

PAGED_QUERIES = frozenset(name for name, q in QUERIES.items() if A_PAGE in q["sql"])


def page_number(request) -> int:
    try:
        return max(int(request.args.get("_page", "1")), 1)
    except ValueError:
        return 1


def page_parameter(key: str, request) -> int:
    """`:_page_offset`: the rows before the page asked for."""
    if key != "offset":
        raise KeyError(key)
    return (page_number(request) - 1) * PAGE_ROWS


def pager(request) -> dict | None:
    """Where the page stands and the links around it, for a paged canned query."""
    if request is None or request.url_vars.get("table") not in PAGED_QUERIES:
        return None
    page = page_number(request)
    return {
        "size": PAGE_ROWS,
        "first": (page - 1) * PAGE_ROWS + 1,
        "previous": path_with_replaced_args(request, {"_page": page - 1})
        if page > 1
        else None,
        "next": path_with_replaced_args(request, {"_page": page + 1}),
    }


@hookimpl
def register_magic_parameters(datasette):
    return [("page", page_parameter)]
