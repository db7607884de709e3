"""cma-ledger's Datasette plugin: readable amounts and payloads, links to events."""

from __future__ import annotations

import json
from decimal import Decimal

from datasette import hookimpl
from markupsafe import Markup, escape


@hookimpl
def render_cell(value, column, table, database, datasette):
    if column == "amount_cents" and isinstance(value, int):
        return f"${Decimal(value) / 100:,.2f}"
    if column == "positions" and isinstance(value, str) and value.startswith("["):
        try:
            positions = json.loads(value)
        except ValueError:
            return None
        base = datasette.urls.table(database, "events")
        links = ", ".join(
            f'<a href="{base}?position={int(p)}">{int(p)}</a>' for p in positions
        )
        return Markup(links)
    if column == "payload" and table == "events" and isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            return None
        return Markup(
            "<br>".join(f"<b>{escape(k)}</b>: {escape(json.dumps(v))}" for k, v in data.items())
        )
    return None
