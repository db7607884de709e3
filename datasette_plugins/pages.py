"""The plugin's own pages: a person's timeline and why a claim came out as it did.

Both read the review database only, through Datasette's read connections, and
never show task notes, so every signed-in role may open them.
"""

from __future__ import annotations

import json
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup, escape

from datasette_plugins import cells, why
from datasette_plugins.access import EVENTS_OPEN, REVIEW_DATABASE, sign_in_page

ID = r"[A-Za-z0-9._:-]{1,64}"
TIMELINE_LIMIT = 5000
OUTCOME_TYPES = frozenset({"task_completed", "claim_submitted", "claim_voided"})


def note_free(payload: str, person_id: str) -> dict:
    """The payload without the task note, and without the person the page is about."""
    data = json.loads(payload)
    data.pop("note", None)
    if data.get("person_id") == person_id:
        del data["person_id"]
    return data


def shown(column: str, value: Any, datasette) -> Any:
    """One fact cell as the pages show it: positions as links to their events."""
    if value is None:
        return ""
    if column in ("events", "positions") and isinstance(value, list):
        return cells.position_links(datasette, value) if value else ""
    if (column == "position" or column.endswith("_position")) and isinstance(
        value, int
    ):
        if not EVENTS_OPEN.get():
            return value
        return cells.link(cells.events_url(datasette, [value]), value, f"event {value}")
    if column == "person_id":
        return cells.link(cells.person_url(datasette, value), value)
    if column == "claim_id":
        return cells.link(cells.claim_url(datasette, value), value)
    if column == "task_id":
        return cells.link(cells.task_url(datasette, value), value)
    if column == "amount_cents" and isinstance(value, int):
        return cells.dollars_from_cents(value)
    if column == "rate":
        return cells.dollars(value) or value
    if column in ("modifiers", "reasons", "task_ids") and isinstance(value, str):
        items = cells.json_list(value)
        return " ".join(items) if items else ("(none)" if items == [] else value)
    return value


HEADERS = {"amount_cents": "amount"}
WRAPPING = frozenset({"detail", "positions", "events", "why_it_counts", "task_ids"})


def table(columns: list[str], rows: list[dict], datasette) -> dict:
    """A table of facts, its rows already HTML: a template loop per cell is slow."""
    cells = [[shown(c, r.get(c), datasette) for c in columns] for r in rows]
    opening = ["<td>" if c in WRAPPING else '<td class="nowrap">' for c in columns]
    body = "".join(
        "<tr>"
        + "".join(
            f"{td}{escape(cell)}</td>" for td, cell in zip(opening, row, strict=True)
        )
        + "</tr>"
        for row in cells
    )
    return {
        "columns": columns,
        "headers": [HEADERS.get(c, c).replace("_", " ") for c in columns],
        "rows": cells,
        "body": Markup(body),
    }


def timeline_row(event: dict, outcomes: list[dict], person_id: str, datasette) -> str:
    """One event of a person's timeline as a table row, with that day's billing."""
    position = event["position"]
    payload = cells.readable_payload(
        note_free(event["payload"], person_id), datasette, " &middot; "
    )
    billing = "".join(
        f"{cells.link(cells.claim_url(datasette, o['claim_id']), o['claim_id'])}: "
        f'<span class="status-{escape(o["status"])}">{escape(o["status"])}</span> '
        f"{cells.dollars_from_cents(o['amount_cents'])}"
        + (f" <small>{escape(reasons)}</small>" if (reasons := o["reasons"]) else "")
        + "<br>"
        for o in outcomes
    )
    recorded = event["recorded_at"]
    return (
        f'<tr id="event-{position}">'
        f"<td>{shown('position', position, datasette)}</td>"
        f"<td>{escape(event['occurred_on'] or '')}</td>"
        f"<td>{escape(event['type'])}</td>"
        f'<td class="payload">{payload}</td>'
        f'<td class="cma-outcome">{billing}</td>'
        f'<td class="nowrap"><small title="{escape(recorded)}">'
        f"{escape(recorded[:19].replace('T', ' '))}</small></td></tr>"
    )


async def allowed(request, datasette) -> None:
    await datasette.ensure_permissions(
        request.actor, [("view-database", REVIEW_DATABASE), "view-instance"]
    )


async def person_page(request, datasette) -> Response:
    await allowed(request, datasette)
    person_id = request.url_vars["person_id"]
    db = datasette.get_database(REVIEW_DATABASE)
    person = await why.one(db, "SELECT * FROM persons WHERE person_id = ?", [person_id])
    if person is None:
        raise NotFound(f"no person {person_id} in the review database")

    days = await why.rows(
        db,
        "SELECT b.service_date, b.claim_id, b.provider_id, b.status, "
        "b.claimed_units, b.billable_units, b.amount_cents, b.reasons, b.positions "
        "FROM billable_days b WHERE b.person_id = ? "
        "ORDER BY b.service_date, b.claim_id",
        [person_id],
    )
    by_day: dict[str, list[dict]] = {}
    for d in days:
        by_day.setdefault(d["service_date"], []).append(d)

    events = await why.rows(
        db,
        "SELECT position, recorded_at, occurred_on, type, stream_id, payload "
        "FROM events WHERE person_id = ? ORDER BY position LIMIT ?",
        [person_id, TIMELINE_LIMIT + 1],
    )
    truncated = len(events) > TIMELINE_LIMIT
    outcomes_of = {
        day: [o | {"reasons": " ".join(json.loads(o["reasons"]))} for o in claimed]
        for day, claimed in by_day.items()
    }
    timeline = Markup(
        "".join(
            timeline_row(
                e,
                outcomes_of.get(e["occurred_on"], [])
                if e["type"] in OUTCOME_TYPES
                else [],
                person_id,
                datasette,
            )
            for e in events[:TIMELINE_LIMIT]
        )
    )

    enrollments = await why.rows(
        db,
        "SELECT program, lead_agency_id, start_on, end_on, start_position, "
        "end_position FROM enrollments WHERE person_id = ? ORDER BY start_on",
        [person_id],
    )
    agreements = await why.rows(
        db,
        "SELECT agreement_id, provider_id, procedure_code, modifiers, start_on, "
        "end_on, units, units_left, rate, position FROM service_agreements "
        "WHERE person_id = ? ORDER BY start_on, agreement_id",
        [person_id],
    )
    findings = await why.rows(
        db,
        "SELECT service_date, rule, subject_type, subject_id, detail, positions "
        "FROM findings WHERE person_id = ? ORDER BY service_date, rule",
        [person_id],
    )
    for f in findings:
        f["positions"] = json.loads(f["positions"])
        if f["subject_type"] == "claim":
            f["subject_id"] = cells.link(
                cells.claim_url(datasette, f["subject_id"]), f["subject_id"]
            )
        else:
            f["subject_id"] = cells.link(
                cells.task_url(datasette, f["subject_id"]), f["subject_id"]
            )
    for d in days:
        d["positions"] = json.loads(d["positions"])
    total = sum(d["amount_cents"] for d in days)

    context = {
        "person_id": person_id,
        "person": person,
        "open_programs": " ".join(json.loads(person["open_programs"] or "[]")),
        "timeline": timeline,
        "truncated": truncated,
        "limit": TIMELINE_LIMIT,
        "all_events_url": (
            datasette.urls.table(REVIEW_DATABASE, "events") + f"?person_id={person_id}"
            if EVENTS_OPEN.get()
            else None
        ),
        "enrollments": table(
            list(enrollments[0]) if enrollments else [], enrollments, datasette
        ),
        "agreements": table(
            list(agreements[0]) if agreements else [], agreements, datasette
        ),
        "days": table(
            [
                "service_date",
                "claim_id",
                "provider_id",
                "status",
                "claimed_units",
                "billable_units",
                "amount_cents",
                "reasons",
                "positions",
            ],
            days,
            datasette,
        ),
        "findings": table(
            [
                "service_date",
                "rule",
                "subject_type",
                "subject_id",
                "detail",
                "positions",
            ],
            findings,
            datasette,
        ),
        "total": cells.dollars_from_cents(total),
    }
    return Response.html(
        await datasette.render_template("cma_person.html", context, request=request)
    )


async def claim_page(request, datasette) -> Response:
    await allowed(request, datasette)
    claim_id = request.url_vars["claim_id"]
    db = datasette.get_database(REVIEW_DATABASE)
    explanation = await why.explain(db, claim_id)
    if explanation is None:
        raise NotFound(f"no claim {claim_id} in the review database")

    steps = [
        {
            "rule": s.rule,
            "question": s.question,
            "applies": s.applies,
            "effect": s.effect,
            "detail": s.detail,
            "facts": [
                {"title": f.title} | table(f.columns, f.rows, datasette)
                for f in s.facts
            ],
        }
        for s in explanation.steps
    ]
    outcome = explanation.outcome
    context = {
        "claim_id": claim_id,
        "claim": table(
            [
                "claim_id",
                "provider_id",
                "person_id",
                "service_date",
                "procedure_code",
                "modifiers",
                "units",
                "agreement_id",
                "task_ids",
                "voided_on",
                "position",
            ],
            [explanation.claim],
            datasette,
        ),
        "outcome": table(
            [
                "status",
                "claimed_units",
                "documented_units",
                "billable_units",
                "rate",
                "amount_cents",
                "reasons",
                "positions",
            ],
            [outcome | {"positions": json.loads(outcome["positions"])}],
            datasette,
        ),
        "status": outcome["status"],
        "summary": explanation.summary,
        "tasks": {"title": explanation.tasks.title}
        | table(explanation.tasks.columns, explanation.tasks.rows, datasette),
        "steps": steps,
        "rules_walked": outcome["status"] not in ("voided", "pending_review"),
        "person_url": cells.person_url(datasette, explanation.claim["person_id"]),
    }
    return Response.html(
        await datasette.render_template("cma_claim.html", context, request=request)
    )


async def redacted_metadata(request, datasette) -> Response:
    """/-/metadata without plugin settings: those hold the password hashes."""
    await datasette.ensure_permissions(request.actor, ["view-instance"])
    data = {k: v for k, v in datasette.metadata().items() if k != "plugins"}
    body = json.dumps(data, indent=2)
    if request.url_vars.get("format"):
        return Response.json(data)
    return Response.html(
        await datasette.render_template(
            "show_json.html",
            {"filename": "metadata.json", "data_json": body},
            request=request,
        )
    )


@hookimpl(tryfirst=True)
def register_routes(datasette):
    """Called first, so these routes come before datasette-auth-passwords' own."""
    return [
        (r"^/-/login$", sign_in_page),
        (rf"^/-/cma/person/(?P<person_id>{ID})$", person_page),
        (rf"^/-/cma/claim/(?P<claim_id>{ID})$", claim_page),
        (r"^/-/metadata(\.(?P<format>json))?$", redacted_metadata),
    ]
