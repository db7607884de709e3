"""How cells of the review database read: dollars, rule ids, links to events.

Every billable day and finding links to the events in its `positions`, every
claim to the page that explains it, and every person to their timeline.

`render_cell` runs for every cell of every page, a thousand or more on a page
of 100 rows, so links are built with f-strings over `escape`d parts:
`Markup.format` goes through `string.Formatter` and cost more than the rest of
the page.
"""

from __future__ import annotations

import json
import types
import weakref
from decimal import Decimal, InvalidOperation
from typing import Any

from datasette import hookimpl
from datasette.utils import tilde_encode
from markupsafe import Markup, escape

from datasette_plugins.access import EVENTS_OPEN, REVIEW_DATABASE

MONEY_TEXT_COLUMNS = frozenset({"rate"})
MARKDOWN_PLUGIN = "datasette_render_markdown"
DASHBOARDS_PLUGIN = "datasette_dashboards"

CENT = Decimal("0.01")

_table_urls: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def dollars_from_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${Decimal(abs(cents)) / 100:,.2f}"


def dollars(text: str) -> str | None:
    """A rate as stored, to the tenth of a cent if so (`$9.665`), never rounded."""
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite():
        return None
    if amount.as_tuple().exponent > -2:  # type: ignore[operator]
        amount = amount.quantize(CENT)
    return f"${amount:,f}"


def json_list(value: Any) -> list | None:
    if not isinstance(value, str) or not value.startswith("["):
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    return data if isinstance(data, list) else None


def field(row, name: str) -> Any:
    try:
        return row[name]
    except (IndexError, KeyError, TypeError):
        return None


def link(href: str, text: Any, title: str | None = None) -> Markup:
    extra = f' title="{escape(title)}"' if title else ""
    return Markup(f'<a href="{escape(href)}"{extra}>{escape(text)}</a>')


def table_url(datasette, table: str) -> str:
    """A review table's address, remembered: links are built for every cell."""
    urls = _table_urls.setdefault(datasette, {})
    if table not in urls:
        urls[table] = datasette.urls.table(REVIEW_DATABASE, table)
    return urls[table]


def claim_url(datasette, claim_id: str) -> str:
    return datasette.urls.path(f"/-/cma/claim/{claim_id}")


def person_url(datasette, person_id: str) -> str:
    return datasette.urls.path(f"/-/cma/person/{person_id}")


def task_url(datasette, task_id: str) -> str:
    return f"{table_url(datasette, 'tasks')}/{tilde_encode(task_id)}"


def events_url(datasette, positions: list[int]) -> str:
    base = table_url(datasette, "events")
    if len(positions) == 1:
        return f"{base}/{positions[0]}"
    return f"{base}?position__in={','.join(str(p) for p in positions)}"


def position_links(datasette, positions: list) -> Markup:
    """Links to the events, or the bare numbers for a viewer who may not open them."""
    positions = [int(p) for p in positions]
    if not EVENTS_OPEN.get():
        return Markup(", ".join(map(str, positions)))
    base = escape(table_url(datasette, "events"))
    links = ", ".join(
        f'<a href="{base}/{p}" title="event {p}">{p}</a>' for p in positions
    )
    if len(positions) > 1:
        every = ",".join(map(str, positions))
        links += (
            f' <a href="{base}?position__in={every}" title="all these events">(all)</a>'
        )
    return Markup(links)


def readable_payload(data: dict, datasette, separator: str = "<br>") -> Markup:
    lines = []
    for key, value in data.items():
        if key in MONEY_TEXT_COLUMNS and isinstance(value, str):
            shown = dollars(value) or value
        elif key == "person_id" and isinstance(value, str):
            shown = link(person_url(datasette, value), value)
        elif key == "claim_id" and isinstance(value, str):
            shown = link(claim_url(datasette, value), value)
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value) or "(none)"
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        else:
            shown = value
        lines.append(f"<b>{escape(key.replace('_', ' '))}</b>: {escape(shown)}")
    return Markup(separator.join(lines))


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if database != REVIEW_DATABASE or value is None:
        return None
    if column == "amount_cents" and isinstance(value, int):
        return dollars_from_cents(value)
    if column in MONEY_TEXT_COLUMNS and isinstance(value, str):
        return dollars(value)
    if column == "positions":
        positions = json_list(value)
        return position_links(datasette, positions) if positions else None
    if column == "reasons":
        rules = json_list(value)
        if rules is None:
            return None
        base = table_url(datasette, "findings")
        claim = field(row, "claim_id")
        chips = [
            link(f"{base}?rule={r}" + (f"&subject_id={claim}" if claim else ""), r)
            for r in rules
        ]
        return Markup(" ").join(chips) if chips else Markup("&mdash;")
    if column == "payload" and isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            return None
        return readable_payload(data, datasette) if isinstance(data, dict) else None
    if column == "person_id":
        return link(person_url(datasette, value), value, "timeline")
    if column == "claim_id":
        return link(claim_url(datasette, value), value, "why this outcome")
    if column == "status" and table == "billable_days":
        claim = field(row, "claim_id")
        if claim:
            return link(claim_url(datasette, claim), value, "why this outcome")
    if column == "subject_id":
        kind = field(row, "subject_type")
        if kind == "claim":
            return link(claim_url(datasette, value), value, "why this outcome")
        if kind == "task":
            return link(task_url(datasette, value), value)
    if column == "task_ids":
        ids = json_list(value)
        if ids is None:
            return None
        return Markup(", ").join(link(task_url(datasette, t), t) for t in ids)
    if column == "stream_id" and isinstance(value, str) and EVENTS_OPEN.get():
        base = table_url(datasette, "events")
        return link(f"{base}?stream_id={value}", value, "every event of this subject")
    return None


@hookimpl
def startup(datasette):
    keep_markdown_out_of_cells()
    keep_dashboards_out_of_the_menu()


def keep_markdown_out_of_cells() -> None:
    """Take datasette-render-markdown's cell hook out, keep the rest of it.

    It comes with datasette-dashboards, which uses its template function and tag.
    Its cell hook looks for `*_markdown` columns (there are none here) by merging
    Datasette's metadata afresh for every cell: a quarter of a thousand-row page.
    """
    drop_hook(MARKDOWN_PLUGIN, "render_cell")


def keep_dashboards_out_of_the_menu() -> None:
    """Its menu link is for everyone; `chrome.menu_links` links those who may."""
    drop_hook(DASHBOARDS_PLUGIN, "menu_links")


def drop_hook(module: str, hook: str) -> None:
    """Register the plugin `module` again without its implementation of `hook`."""
    from datasette.plugins import pm

    for name, plugin in pm.list_name_plugin():
        if getattr(plugin, "__name__", None) != module:
            continue
        callers = pm.get_hookcallers(plugin) or []
        hooks = {
            caller.name: impl.function
            for caller in callers
            if caller.name != hook
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin
        }
        if len(hooks) == len(callers):
            return
        without = types.ModuleType(module)
        vars(without).update(hooks)
        pm.unregister(plugin)
        pm.register(without, name)
