"""The certification state machine and its date and status rules: pure, no database."""
from datetime import date
from itertools import product

import pytest

from db.enums import (
    ApplicationStatus,
    AuditStatus,
    CapStatus,
    CertificateStatus,
    CertificationStatus,
    ReviewDecision,
    Severity,
)
from resolvers.certification_rules import (
    Event,
    InvalidTransition,
    ReviewOutcome,
    add_working_days,
    allowed_events,
    approval_blockers,
    audit_window_limit,
    cap_due_on,
    certificate_number,
    certificate_status,
    certificate_status_change_allowed,
    certificate_validity,
    factory_certification_status,
    is_open,
    is_overdue,
    next_status,
    renewal_opens_on,
    report_due_on,
    review_outcome,
)

S = ApplicationStatus
E = Event

# Written out by hand from DESIGN.md "Certification workflow"; every pair not listed is refused.
ALLOWED_MOVES = {
    (S.SUBMITTED, E.ASSIGN_FIRM): S.AUDIT_FIRM_ASSIGNED,
    (S.AUDIT_FIRM_ASSIGNED, E.SCHEDULE_AUDIT): S.AUDIT_SCHEDULED,
    (S.AUDIT_SCHEDULED, E.SUBMIT_REPORT): S.UNDER_REVIEW,
    (S.UNDER_REVIEW, E.APPROVE): S.APPROVED,
    (S.UNDER_REVIEW, E.REQUIRE_FOLLOW_UP): S.FOLLOW_UP_REQUIRED,
    (S.UNDER_REVIEW, E.REJECT): S.REJECTED,
    (S.FOLLOW_UP_REQUIRED, E.SCHEDULE_AUDIT): S.AUDIT_SCHEDULED,
    (S.APPROVED, E.PAY_SEAL_FEE): S.CERTIFIED,
    (S.SUBMITTED, E.WITHDRAW): S.WITHDRAWN,
    (S.AUDIT_FIRM_ASSIGNED, E.WITHDRAW): S.WITHDRAWN,
    (S.AUDIT_SCHEDULED, E.WITHDRAW): S.WITHDRAWN,
    (S.UNDER_REVIEW, E.WITHDRAW): S.WITHDRAWN,
    (S.FOLLOW_UP_REQUIRED, E.WITHDRAW): S.WITHDRAWN,
    (S.APPROVED, E.WITHDRAW): S.WITHDRAWN,
}
REFUSED_MOVES = [move for move in product(S, E) if move not in ALLOWED_MOVES]

ALLOWED_EVENTS = {
    S.SUBMITTED: {E.ASSIGN_FIRM, E.WITHDRAW},
    S.AUDIT_FIRM_ASSIGNED: {E.SCHEDULE_AUDIT, E.WITHDRAW},
    S.AUDIT_SCHEDULED: {E.SUBMIT_REPORT, E.WITHDRAW},
    S.UNDER_REVIEW: {E.APPROVE, E.REQUIRE_FOLLOW_UP, E.REJECT, E.WITHDRAW},
    S.FOLLOW_UP_REQUIRED: {E.SCHEDULE_AUDIT, E.WITHDRAW},
    S.APPROVED: {E.PAY_SEAL_FEE, E.WITHDRAW},
    S.CERTIFIED: set(),
    S.REJECTED: set(),
    S.WITHDRAWN: set(),
}

OPEN = {
    S.SUBMITTED: True,
    S.AUDIT_FIRM_ASSIGNED: True,
    S.AUDIT_SCHEDULED: True,
    S.UNDER_REVIEW: True,
    S.FOLLOW_UP_REQUIRED: True,
    S.APPROVED: True,
    S.CERTIFIED: False,
    S.REJECTED: False,
    S.WITHDRAWN: False,
}


def _move_id(move: tuple[ApplicationStatus, Event]) -> str:
    return f"{move[0].value}-{move[1].value}"


# --- Application state machine ------------------------------------------------------------------


def test_the_move_tables_cover_every_status_and_event() -> None:
    assert len(ALLOWED_MOVES) == 14
    assert len(REFUSED_MOVES) == len(S) * len(E) - 14 == 58


@pytest.mark.parametrize("move", list(ALLOWED_MOVES), ids=_move_id)
def test_allowed_move_reaches_its_status(move: tuple[ApplicationStatus, Event]) -> None:
    current, event = move

    assert next_status(current, event) is ALLOWED_MOVES[move]


@pytest.mark.parametrize("move", REFUSED_MOVES, ids=_move_id)
def test_refused_move_raises_invalid_transition(move: tuple[ApplicationStatus, Event]) -> None:
    current, event = move

    with pytest.raises(InvalidTransition) as refused:
        next_status(current, event)

    assert (refused.value.current, refused.value.event) == (current, event)
    assert refused.value.code == "INVALID_TRANSITION"


def test_invalid_transition_says_what_was_refused() -> None:
    with pytest.raises(InvalidTransition, match="^cannot SCHEDULE_AUDIT an application that is "
                                                "SUBMITTED$"):
        next_status(S.SUBMITTED, E.SCHEDULE_AUDIT)


@pytest.mark.parametrize("status", list(S))
def test_allowed_events_match_the_table(status: ApplicationStatus) -> None:
    assert allowed_events(status) == frozenset(ALLOWED_EVENTS[status])


@pytest.mark.parametrize("status", list(S))
def test_only_certified_rejected_and_withdrawn_are_closed(status: ApplicationStatus) -> None:
    assert is_open(status) is OPEN[status]


def test_application_with_a_follow_up_audit_ends_certified() -> None:
    events = [E.ASSIGN_FIRM, E.SCHEDULE_AUDIT, E.SUBMIT_REPORT, E.REQUIRE_FOLLOW_UP,
              E.SCHEDULE_AUDIT, E.SUBMIT_REPORT, E.APPROVE, E.PAY_SEAL_FEE]
    status = S.SUBMITTED

    for event in events:
        status = next_status(status, event)

    assert status is S.CERTIFIED


# --- Review -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("decision", "outcome"), [
    (ReviewDecision.APPROVE, (E.APPROVE, AuditStatus.APPROVED, CapStatus.ACCEPTED)),
    (ReviewDecision.REQUIRE_FOLLOW_UP,
     (E.REQUIRE_FOLLOW_UP, AuditStatus.FOLLOW_UP_REQUIRED, CapStatus.RETURNED)),
    (ReviewDecision.REJECT, (E.REJECT, AuditStatus.REJECTED, CapStatus.RETURNED)),
])
def test_review_decision_sets_event_audit_and_cap_status(
    decision: ReviewDecision, outcome: tuple[Event, AuditStatus, CapStatus]
) -> None:
    assert review_outcome(decision) == ReviewOutcome(*outcome)


@pytest.mark.parametrize(("severities", "cap_status", "has_findings", "blockers"), [
    ([], None, False, []),
    ([Severity.MINOR, Severity.MAJOR, Severity.CRITICAL], CapStatus.SUBMITTED, True, []),
    ([Severity.MINOR], None, True, ["CAP_NOT_SUBMITTED"]),
    ([Severity.MINOR], CapStatus.DRAFT, True, ["CAP_NOT_SUBMITTED"]),
    ([Severity.MINOR], CapStatus.RETURNED, True, ["CAP_NOT_SUBMITTED"]),
    ([Severity.MINOR], CapStatus.ACCEPTED, True, ["CAP_NOT_SUBMITTED"]),
    ([Severity.ZERO_TOLERANCE], CapStatus.SUBMITTED, True, ["ZERO_TOLERANCE_FINDING"]),
    ([Severity.MINOR, Severity.ZERO_TOLERANCE], CapStatus.DRAFT, True,
     ["ZERO_TOLERANCE_FINDING", "CAP_NOT_SUBMITTED"]),
], ids=["no-findings", "all-but-zero-tolerance-with-cap", "no-cap", "draft-cap", "returned-cap",
        "accepted-cap", "zero-tolerance", "zero-tolerance-and-draft-cap"])
def test_approval_blockers(
    severities: list[Severity], cap_status: CapStatus | None, has_findings: bool,
    blockers: list[str],
) -> None:
    assert approval_blockers(severities, cap_status, has_findings) == blockers


# --- Dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "n", "expected"), [
    (date(2025, 1, 9), 0, date(2025, 1, 9)),     # Thursday, nothing to add
    (date(2025, 1, 11), 0, date(2025, 1, 11)),   # Saturday stays Saturday
    (date(2025, 1, 9), 1, date(2025, 1, 10)),    # Thursday -> Friday
    (date(2025, 1, 10), 1, date(2025, 1, 13)),   # Friday -> Monday
    (date(2025, 1, 11), 1, date(2025, 1, 13)),   # Saturday -> Monday
    (date(2025, 1, 12), 1, date(2025, 1, 13)),   # Sunday -> Monday
    (date(2025, 1, 10), 5, date(2025, 1, 17)),   # Friday -> next Friday
    (date(2025, 1, 6), 7, date(2025, 1, 15)),    # Monday -> Wednesday of the next week
    (date(2025, 1, 30), 3, date(2025, 2, 4)),    # across a month end and a weekend
    (date(2024, 12, 27), 7, date(2025, 1, 7)),   # across the year end; Jan 1 counts
    (date(2024, 2, 27), 3, date(2024, 3, 1)),    # across a leap day
])
def test_add_working_days_skips_weekends(start: date, n: int, expected: date) -> None:
    assert add_working_days(start, n) == expected


def test_add_working_days_refuses_negative_days() -> None:
    with pytest.raises(ValueError):
        add_working_days(date(2025, 1, 6), -1)


def test_report_is_due_seven_working_days_after_the_audit() -> None:
    assert report_due_on(date(2025, 1, 6)) == date(2025, 1, 15)
    assert report_due_on(date(2025, 1, 10)) == date(2025, 1, 21)


def test_cap_is_due_five_working_days_after_the_report() -> None:
    assert cap_due_on(date(2025, 1, 15)) == date(2025, 1, 22)
    assert cap_due_on(date(2025, 12, 29)) == date(2026, 1, 5)


@pytest.mark.parametrize(("assigned_on", "limit"), [
    (date(2025, 1, 15), date(2025, 3, 15)),
    (date(2025, 1, 31), date(2025, 3, 31)),
    (date(2025, 7, 31), date(2025, 9, 30)),     # clamped to a 30-day month
    (date(2025, 11, 30), date(2026, 1, 30)),    # across the year end
    (date(2024, 12, 30), date(2025, 2, 28)),
    (date(2024, 12, 31), date(2025, 2, 28)),    # clamped to February
    (date(2023, 12, 31), date(2024, 2, 29)),    # clamped to February of a leap year
])
def test_audit_window_ends_two_calendar_months_after_assignment(
    assigned_on: date, limit: date
) -> None:
    assert audit_window_limit(assigned_on) == limit


@pytest.mark.parametrize(("issued_on", "valid_until"), [
    (date(2025, 1, 15), date(2026, 1, 14)),
    (date(2025, 1, 1), date(2025, 12, 31)),
    (date(2024, 12, 31), date(2025, 12, 30)),
    (date(2023, 3, 1), date(2024, 2, 29)),      # ends on a leap day
    (date(2024, 3, 1), date(2025, 2, 28)),
    (date(2023, 2, 28), date(2024, 2, 27)),
    (date(2024, 2, 28), date(2025, 2, 27)),
    (date(2024, 2, 29), date(2025, 2, 28)),     # no Feb 29 next year: the day before Mar 1
])
def test_certificate_is_valid_through_the_day_before_its_anniversary(
    issued_on: date, valid_until: date
) -> None:
    assert certificate_validity(issued_on) == valid_until


@pytest.mark.parametrize(("valid_until", "opens_on"), [
    (date(2026, 1, 14), date(2025, 10, 16)),
    (date(2024, 5, 29), date(2024, 2, 29)),
])
def test_renewal_opens_ninety_days_before_expiry(valid_until: date, opens_on: date) -> None:
    assert renewal_opens_on(valid_until) == opens_on


@pytest.mark.parametrize(("today", "done", "overdue"), [
    (date(2025, 1, 14), False, False),
    (date(2025, 1, 15), False, False),          # the due day itself is still on time
    (date(2025, 1, 16), False, True),
    (date(2025, 1, 16), True, False),
])
def test_is_overdue_from_the_day_after_the_due_date(today: date, done: bool, overdue: bool) -> None:
    assert is_overdue(date(2025, 1, 15), done, today) is overdue


# --- Certificates and factory status ------------------------------------------------------------

C = CertificateStatus
F = CertificationStatus
VALID_UNTIL = date(2025, 6, 30)
ON_LAST_DAY = date(2025, 6, 30)
AFTER = date(2025, 7, 1)


@pytest.mark.parametrize(("stored", "today", "expected"), [
    (C.ACTIVE, date(2025, 1, 1), C.ACTIVE),
    (C.ACTIVE, ON_LAST_DAY, C.ACTIVE),
    (C.ACTIVE, AFTER, C.EXPIRED),
    (C.SUSPENDED, ON_LAST_DAY, C.SUSPENDED),
    (C.SUSPENDED, AFTER, C.SUSPENDED),
    (C.REVOKED, ON_LAST_DAY, C.REVOKED),
    (C.REVOKED, AFTER, C.REVOKED),
    (C.SUPERSEDED, ON_LAST_DAY, C.SUPERSEDED),
    (C.SUPERSEDED, AFTER, C.SUPERSEDED),
    (C.EXPIRED, ON_LAST_DAY, C.EXPIRED),
    (C.EXPIRED, AFTER, C.EXPIRED),
])
def test_certificate_status_reads_expired_only_for_active_past_validity(
    stored: CertificateStatus, today: date, expected: CertificateStatus
) -> None:
    assert certificate_status(stored, VALID_UNTIL, today) is expected


@pytest.mark.parametrize(("certificate", "has_open_application", "today", "expected"), [
    (None, False, ON_LAST_DAY, F.NOT_CERTIFIED),
    (None, True, ON_LAST_DAY, F.IN_PROGRESS),
    ((C.ACTIVE, VALID_UNTIL), False, ON_LAST_DAY, F.CERTIFIED),
    ((C.ACTIVE, VALID_UNTIL), True, ON_LAST_DAY, F.CERTIFIED),       # renewal under way
    ((C.ACTIVE, VALID_UNTIL), False, AFTER, F.EXPIRED),
    ((C.ACTIVE, VALID_UNTIL), True, AFTER, F.IN_PROGRESS),
    ((C.EXPIRED, VALID_UNTIL), False, AFTER, F.EXPIRED),
    ((C.EXPIRED, VALID_UNTIL), True, AFTER, F.IN_PROGRESS),
    ((C.SUSPENDED, VALID_UNTIL), False, ON_LAST_DAY, F.SUSPENDED),
    ((C.SUSPENDED, VALID_UNTIL), True, ON_LAST_DAY, F.SUSPENDED),
    ((C.SUSPENDED, VALID_UNTIL), True, AFTER, F.SUSPENDED),
    ((C.REVOKED, VALID_UNTIL), False, ON_LAST_DAY, F.REVOKED),
    ((C.REVOKED, VALID_UNTIL), True, ON_LAST_DAY, F.REVOKED),
    ((C.REVOKED, VALID_UNTIL), True, AFTER, F.REVOKED),
])
def test_factory_certification_status(
    certificate: tuple[CertificateStatus, date] | None, has_open_application: bool, today: date,
    expected: CertificationStatus,
) -> None:
    assert factory_certification_status(certificate, has_open_application, today) is expected


def test_superseded_certificate_is_refused_as_current() -> None:
    with pytest.raises(ValueError):
        factory_certification_status((C.SUPERSEDED, VALID_UNTIL), False, ON_LAST_DAY)


ALLOWED_CERTIFICATE_CHANGES = {
    (C.ACTIVE, C.SUSPENDED),
    (C.SUSPENDED, C.ACTIVE),
    (C.ACTIVE, C.REVOKED),
    (C.SUSPENDED, C.REVOKED),
}


@pytest.mark.parametrize("change", list(product(C, C)),
                         ids=lambda change: f"{change[0].value}-{change[1].value}")
def test_certificate_status_change_allowed(
    change: tuple[CertificateStatus, CertificateStatus],
) -> None:
    assert certificate_status_change_allowed(*change) is (change in ALLOWED_CERTIFICATE_CHANGES)


@pytest.mark.parametrize(("seq", "number"), [
    (1, "C000001"),
    (1234, "C001234"),
    (999999, "C999999"),
    (1000000, "C1000000"),
])
def test_certificate_number_is_c_and_six_digits(seq: int, number: str) -> None:
    assert certificate_number(seq) == number


def test_certificate_number_refuses_non_positive_sequence() -> None:
    with pytest.raises(ValueError):
        certificate_number(0)
