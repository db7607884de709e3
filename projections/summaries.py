"""Small tables that answer the review site's summary questions.

A month's amounts per provider, or the claims that share a person and a day,
would otherwise be worked out from a table of every claim on each visit. Both
are taken from the billing projection's own rows, so they always agree with
`billable_days`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

from ledger.state import Claim, State
from projections.billing import BillableDay

PAID_STATUSES = frozenset({"billable", "partially_billable"})


def billing_by_month(days: list[BillableDay]) -> list[dict]:
    """Per month of service and provider: live claims, billable days, units, amount."""
    totals: dict[tuple[str, str], dict] = {}
    for day in days:
        if day.status == "voided":
            continue
        month = day.service_date.isoformat()[:7]
        row = totals.setdefault(
            (month, day.provider_id),
            {
                "month": month,
                "provider_id": day.provider_id,
                "claims": 0,
                "billable_days": 0,
                "claimed_units": 0,
                "billable_units": 0,
                "amount_cents": 0,
            },
        )
        row["claims"] += 1
        row["billable_days"] += day.status in PAID_STATUSES
        row["claimed_units"] += day.claimed_units
        row["billable_units"] += day.billable_units
        row["amount_cents"] += day.amount_cents
    return [totals[key] for key in sorted(totals)]


def same_day_claims(state: State, days: list[BillableDay]) -> list[dict]:
    """Every live claim that shares its person and service date with another.

    Only the first recorded of them can be paid (CMA-DUP, CMA-SAME-DAY).
    """
    sharing: dict[tuple[str, dt.date], list[Claim]] = defaultdict(list)
    for claim in state.claims.values():
        if not claim.voided:
            sharing[(claim.record.person_id, claim.record.service_date)].append(claim)
    outcome = {day.claim_id: day for day in days}
    rows = []
    for (person_id, service_date), claims in sorted(sharing.items()):
        if len(claims) < 2:
            continue
        for claim in sorted(claims, key=lambda c: c.position):
            billed = outcome[claim.record.claim_id]
            rows.append(
                {
                    "claim_id": claim.record.claim_id,
                    "person_id": person_id,
                    "service_date": service_date.isoformat(),
                    "provider_id": claim.record.provider_id,
                    "procedure_code": claim.record.procedure_code,
                    "position": claim.position,
                    "status": billed.status,
                    "reasons": json.dumps(billed.reasons),
                    "amount_cents": billed.amount_cents,
                }
            )
    return rows
