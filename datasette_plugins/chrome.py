"""What every page carries: the ledger position, a synthetic-data mark, menu links."""

from __future__ import annotations

from datasette import hookimpl

from datasette_plugins.access import PLUGIN, REVIEW_DATABASE, SiteSettings


async def review_position(datasette) -> int | None:
    db = datasette.databases.get(REVIEW_DATABASE)
    if db is None:
        return None
    result = await db.execute("SELECT position FROM _projection WHERE name = 'review'")
    return result.rows[0][0] if result.rows else None


@hookimpl
def extra_template_vars(datasette):
    async def inner():
        db = datasette.databases.get(REVIEW_DATABASE)
        return {
            "cma_synthetic": SiteSettings.of(datasette).synthetic,
            "cma_position": await review_position(datasette),
            "cma_snapshot": db is not None and not db.is_mutable,
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
    return [
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
        {"href": path("/-/dashboards"), "label": "Charts"},
    ]
