"""What every page carries: the ledger position, a synthetic-data mark, menu links."""

from __future__ import annotations

from datasette import hookimpl

from datasette_plugins import paging
from datasette_plugins.access import (
    PLUGIN,
    REVIEW_DATABASE,
    SiteSettings,
    may_run_sql,
)


async def tracking(db) -> dict:
    """The review database's `_projection` row: its position, and a replay's cut."""
    result = await db.execute("SELECT * FROM _projection WHERE name = 'review'")
    return dict(result.rows[0]) if result.rows else {}


@hookimpl
def extra_template_vars(datasette, request):
    async def inner():
        db = datasette.databases.get(REVIEW_DATABASE)
        found = await tracking(db) if db is not None else {}
        return {
            "cma_synthetic": SiteSettings.of(datasette).synthetic,
            "cma_position": found.get("position"),
            "cma_replay": found.get("cut"),
            "cma_snapshot": db is not None and not db.is_mutable,
            "cma_pager": paging.pager(request),
        }

    return inner


@hookimpl
def extra_css_urls(datasette):
    urls = [datasette.urls.static_plugins(PLUGIN, "cma.css")]
    if SiteSettings.of(datasette).synthetic:
        urls.append(datasette.urls.static_plugins(PLUGIN, "synthetic.css"))
    return urls


@hookimpl
def menu_links(datasette, actor):
    path = datasette.urls.path
    query = datasette.urls.query
    links = [
        {
            "href": datasette.urls.table(REVIEW_DATABASE, "findings"),
            "label": "Findings",
        },
        {
            "href": datasette.urls.table(REVIEW_DATABASE, "billable_days"),
            "label": "Billable days",
        },
        {
            "href": query(REVIEW_DATABASE, "oversight_queue_waiting"),
            "label": "Oversight queue",
        },
    ]
    if may_run_sql(datasette, actor):
        links.append({"href": path("/-/dashboards"), "label": "Charts"})
    return links
