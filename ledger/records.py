"""The records a feed may carry (contract section 3), as frozen msgspec Structs.

Decoding is strict: unknown keys, a wrong JSON type, a bad date, an id outside
the allowed alphabet, money written as a number and out-of-range numbers are all
refused with the path of the offending field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

Id = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
Money = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,7}(\.[0-9]{1,10})?$")]
Months = Annotated[int, msgspec.Meta(ge=0, le=1200)]
Minutes = Annotated[int, msgspec.Meta(ge=1, le=1440)]
ClaimUnits = Annotated[int, msgspec.Meta(ge=1, le=9999)]
AgreementUnits = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Modifier = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{2}$")]
Modifiers = Annotated[list[Modifier], msgspec.Meta(max_length=4)]
ProcedureCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{5}$")]
Timestamp = Annotated[dt.datetime, msgspec.Meta(tz=True)]

Role = Literal["lead_agency", "case_management_provider", "service_provider"]
Program = Literal["BI", "CAC", "CADI", "DD", "EW", "AC", "ECS"]
Outcome = Literal["approved", "returned"]

COVERED_CATEGORIES = frozenset(
    {
        "case_preparation",
        "provider_contact",
        "phone_contact",
        "mmis_entry",
        "support_plan_update",
        "service_coordination",
    }
)
NOT_COVERED_CATEGORIES = frozenset(
    {"assessment", "reassessment", "support_plan_development", "professional_judgement"}
)
Category = Literal[
    "case_preparation",
    "provider_contact",
    "phone_contact",
    "mmis_entry",
    "support_plan_update",
    "service_coordination",
    "assessment",
    "reassessment",
    "support_plan_development",
    "professional_judgement",
]


class Record(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="type",
    omit_defaults=True,
):
    """Fields every record may carry besides its own."""

    record_id: Id | None = None
    entered_by: Name | None = None
    entered_at: Timestamp | None = None

    @property
    def type(self) -> str:
        return type(self).__struct_config__.tag  # type: ignore[return-value]


class AgencyRegistered(Record, tag="agency_registered", frozen=True):
    agency_id: Id
    name: Name
    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=3)]
    private: bool


class CaseManagerRegistered(Record, tag="case_manager_registered", frozen=True):
    staff_id: Id
    agency_id: Id
    name: Name
    qualified_on: dt.date


class AideRegistered(Record, tag="aide_registered", frozen=True):
    staff_id: Id
    agency_id: Id
    name: Name
    hired_on: dt.date
    high_school_graduate: bool
    case_aide_experience_months: Months
    post_secondary_months: Months


class AideQualificationUpdated(Record, tag="aide_qualification_updated", frozen=True):
    staff_id: Id
    as_of: dt.date
    high_school_graduate: bool
    case_aide_experience_months: Months
    post_secondary_months: Months


class StaffSeparated(Record, tag="staff_separated", frozen=True):
    staff_id: Id
    separated_on: dt.date


class SupervisionStarted(Record, tag="supervision_started", frozen=True):
    aide_id: Id
    case_manager_id: Id
    start_on: dt.date


class SupervisionEnded(Record, tag="supervision_ended", frozen=True):
    aide_id: Id
    case_manager_id: Id
    end_on: dt.date


class PersonEnrolled(Record, tag="person_enrolled", frozen=True):
    person_id: Id
    program: Program
    lead_agency_id: Id
    start_on: dt.date


class EnrollmentEnded(Record, tag="enrollment_ended", frozen=True):
    person_id: Id
    program: Program
    end_on: dt.date


class CdcsStarted(Record, tag="cdcs_started", frozen=True):
    person_id: Id
    start_on: dt.date


class CdcsEnded(Record, tag="cdcs_ended", frozen=True):
    person_id: Id
    end_on: dt.date


class FinancialInterestDeclared(Record, tag="financial_interest_declared", frozen=True):
    holder_id: Id
    provider_id: Id
    declared_on: dt.date


class ServiceAgreementApproved(Record, tag="service_agreement_approved", frozen=True):
    agreement_id: Id
    person_id: Id
    lead_agency_id: Id
    provider_id: Id
    procedure_code: ProcedureCode
    modifiers: Modifiers
    start_on: dt.date
    end_on: dt.date
    units: AgreementUnits
    rate: Money

    @property
    def rate_decimal(self) -> Decimal:
        return Decimal(self.rate)


class ServiceAgreementEnded(Record, tag="service_agreement_ended", frozen=True):
    agreement_id: Id
    end_on: dt.date


class TaskAssigned(Record, tag="task_assigned", frozen=True):
    task_id: Id
    person_id: Id
    aide_id: Id
    case_manager_id: Id
    category: Category
    assigned_on: dt.date
    due_on: dt.date | None = None


class TaskReassigned(Record, tag="task_reassigned", frozen=True):
    task_id: Id
    aide_id: Id
    case_manager_id: Id
    reassigned_on: dt.date


class TaskCancelled(Record, tag="task_cancelled", frozen=True):
    task_id: Id
    case_manager_id: Id
    cancelled_on: dt.date


class TaskCompleted(Record, tag="task_completed", frozen=True):
    task_id: Id
    aide_id: Id
    performed_on: dt.date
    minutes: Minutes
    note: Text | None = None


class OversightReviewed(Record, tag="oversight_reviewed", frozen=True):
    task_id: Id
    case_manager_id: Id
    reviewed_on: dt.date
    outcome: Outcome
    comment: Text | None = None


class ClaimSubmitted(Record, tag="claim_submitted", frozen=True):
    claim_id: Id
    provider_id: Id
    person_id: Id
    service_date: dt.date
    procedure_code: ProcedureCode
    modifiers: Modifiers
    units: ClaimUnits
    agreement_id: Id
    task_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=96)]


class ClaimVoided(Record, tag="claim_voided", frozen=True):
    claim_id: Id
    voided_on: dt.date
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


AnyRecord = (
    AgencyRegistered
    | CaseManagerRegistered
    | AideRegistered
    | AideQualificationUpdated
    | StaffSeparated
    | SupervisionStarted
    | SupervisionEnded
    | PersonEnrolled
    | EnrollmentEnded
    | CdcsStarted
    | CdcsEnded
    | FinancialInterestDeclared
    | ServiceAgreementApproved
    | ServiceAgreementEnded
    | TaskAssigned
    | TaskReassigned
    | TaskCancelled
    | TaskCompleted
    | OversightReviewed
    | ClaimSubmitted
    | ClaimVoided
)
RECORD_TYPES: dict[str, type[Record]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in AnyRecord.__args__  # type: ignore[attr-defined]
}

# The business date each record speaks of: `replay --as-of` keeps the events
# whose date is on or before the cut. Agency registrations carry no date.
OCCURRED_ON: dict[str, str | None] = {
    "agency_registered": None,
    "case_manager_registered": "qualified_on",
    "aide_registered": "hired_on",
    "aide_qualification_updated": "as_of",
    "staff_separated": "separated_on",
    "supervision_started": "start_on",
    "supervision_ended": "end_on",
    "person_enrolled": "start_on",
    "enrollment_ended": "end_on",
    "cdcs_started": "start_on",
    "cdcs_ended": "end_on",
    "financial_interest_declared": "declared_on",
    "service_agreement_approved": "start_on",
    "service_agreement_ended": "end_on",
    "task_assigned": "assigned_on",
    "task_reassigned": "reassigned_on",
    "task_cancelled": "cancelled_on",
    "task_completed": "performed_on",
    "oversight_reviewed": "reviewed_on",
    "claim_submitted": "service_date",
    "claim_voided": "voided_on",
}

# Free text that is confidential case detail: kept out of logs, messages and
# the review database unless asked for.
CONFIDENTIAL_FIELDS = frozenset({"note"})


def occurred_on(record: Record) -> dt.date | None:
    field = OCCURRED_ON[record.type]
    return getattr(record, field) if field else None


_decoder = msgspec.json.Decoder(AnyRecord)
_encoder = msgspec.json.Encoder(order="deterministic")


def decode_record(line: bytes | str) -> Record:
    """Decode one feed line; raises msgspec.ValidationError or DecodeError."""
    return _decoder.decode(line)


def encode_record(record: Record) -> bytes:
    """The canonical JSON of a record: the same content gives the same bytes."""
    return _encoder.encode(record)


def public_payload(record: Record, include_notes: bool = False) -> dict:
    """The record as a dict for display, without confidential text unless asked."""
    data = msgspec.to_builtins(record, order="deterministic")
    if not include_notes:
        for field in CONFIDENTIAL_FIELDS:
            if field in data:
                data[field] = "[confidential]"
    return data
