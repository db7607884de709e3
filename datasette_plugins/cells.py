"""How cells of the review database read: dollars, rule ids, links to events.

Every billable day and finding links to the events in its `positions`, every
claim to the page that explains it, and every person to their timeline.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from datasette import hookimpl
from datasette.utils import tilde_encode
from markupsafe import Markup

from datasette_plugins.access import REVIEW_DATABASE

MONEY_TEXT_COLUMNS = frozenset({"rate"})


def dollars_from_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${Decimal(abs(cents)) / 100:,.2f}"


def dollars(text: str) -> str | None:
    try:
        return f"${Decimal(text):,.2f}"
    except (InvalidOperation, ValueError):
        return None


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
    extra = Markup(' title="{}"').format(title) if title else ""
    return Markup('<a href="{}"{}>{}</a>').format(href, extra, text)


def claim_url(datasette, claim_id: str) -> str:
    return datasette.urls.path(f"/-/cma/claim/{claim_id}")


def person_url(datasette, person_id: str) -> str:
    return datasette.urls.path(f"/-/cma/person/{person_id}")


def task_url(datasette, task_id: str) -> str:
    return datasette.urls.row(REVIEW_DATABASE, "tasks", tilde_encode(task_id))


def events_url(datasette, positions: list[int]) -> str:
    base = datasette.urls.table(REVIEW_DATABASE, "events")
    if len(positions) == 1:
        return f"{base}/{positions[0]}"
    return f"{base}?position__in={','.join(str(p) for p in positions)}"


def position_links(datasette, positions: list) -> Markup:
    positions = [int(p) for p in positions]
    links = Markup(", ").join(
        link(events_url(datasette, [p]), p, f"event {p}") for p in positions
    )
    if len(positions) > 1:
        links += Markup(" ") + link(
            events_url(datasette, positions), "(all)", "all these events"
        )
    return links


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
        lines.append(Markup("<b>{}</b>: {}").format(key.replace("_", " "), shown))
    return Markup(separator).join(lines)


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
        base = datasette.urls.table(REVIEW_DATABASE, "findings")
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
    if column == "stream_id" and isinstance(value, str):
        base = datasette.urls.table(REVIEW_DATABASE, "events")
        return link(f"{base}?stream_id={value}", value, "every event of this subject")
    return None
