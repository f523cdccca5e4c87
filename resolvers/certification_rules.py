"""The certification state machine and its date and status rules.

Pure: no I/O, no database. Mutations load rows, ask these functions what may happen, then write.
"""
import calendar
from datetime import date, timedelta
from enum import Enum
from types import MappingProxyType
from typing import NamedTuple

from db.enums import (
    CLOSED_APPLICATION_STATUSES,
    ApplicationStatus,
    AuditStatus,
    CapStatus,
    CertificateStatus,
    CertificationStatus,
    ReviewDecision,
    Severity,
)

# --- Application state machine ------------------------------------------------------------------


class Event(str, Enum):
    """A named move of an application; each mutation that moves one sends exactly one event."""

    ASSIGN_FIRM = "ASSIGN_FIRM"  # registration fee paid, accredited firm assigned
    SCHEDULE_AUDIT = "SCHEDULE_AUDIT"
    SUBMIT_REPORT = "SUBMIT_REPORT"
    APPROVE = "APPROVE"
    REQUIRE_FOLLOW_UP = "REQUIRE_FOLLOW_UP"
    REJECT = "REJECT"
    PAY_SEAL_FEE = "PAY_SEAL_FEE"  # seal fee paid, certificate issued
    WITHDRAW = "WITHDRAW"


class InvalidTransition(Exception):
    """A move the state machine does not allow; resolvers turn it into a userError."""

    code = "INVALID_TRANSITION"

    def __init__(self, current: ApplicationStatus, event: Event) -> None:
        self.current = current
        self.event = event
        super().__init__(f"cannot {event.value} an application that is {current.value}")


_S = ApplicationStatus

OPEN_APPLICATION_STATUSES = frozenset(_S) - frozenset(CLOSED_APPLICATION_STATUSES)

_FORWARD_MOVES = {
    (_S.SUBMITTED, Event.ASSIGN_FIRM): _S.AUDIT_FIRM_ASSIGNED,
    (_S.AUDIT_FIRM_ASSIGNED, Event.SCHEDULE_AUDIT): _S.AUDIT_SCHEDULED,
    (_S.AUDIT_SCHEDULED, Event.SUBMIT_REPORT): _S.UNDER_REVIEW,
    (_S.UNDER_REVIEW, Event.APPROVE): _S.APPROVED,
    (_S.UNDER_REVIEW, Event.REQUIRE_FOLLOW_UP): _S.FOLLOW_UP_REQUIRED,
    (_S.UNDER_REVIEW, Event.REJECT): _S.REJECTED,
    # A follow-up is another audit of the same application, so it goes back to scheduling.
    (_S.FOLLOW_UP_REQUIRED, Event.SCHEDULE_AUDIT): _S.AUDIT_SCHEDULED,
    (_S.APPROVED, Event.PAY_SEAL_FEE): _S.CERTIFIED,
}

TRANSITIONS: MappingProxyType[tuple[ApplicationStatus, Event], ApplicationStatus] = (
    MappingProxyType(
        _FORWARD_MOVES
        | {(status, Event.WITHDRAW): _S.WITHDRAWN for status in OPEN_APPLICATION_STATUSES}
    )
)


def next_status(current: ApplicationStatus, event: Event) -> ApplicationStatus:
    """The status after `event`, or InvalidTransition when the move is not allowed."""
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise InvalidTransition(current, event) from None


def allowed_events(status: ApplicationStatus) -> frozenset[Event]:
    return frozenset(event for (source, event) in TRANSITIONS if source is status)


def is_open(status: ApplicationStatus) -> bool:
    """Open applications block a new one for the same factory and can still be withdrawn."""
    return status in OPEN_APPLICATION_STATUSES


# --- Review -------------------------------------------------------------------------------------


class ReviewOutcome(NamedTuple):
    event: Event
    audit_status: AuditStatus
    cap_status: CapStatus  # applies only when the audit has a CAP (that is, it had findings)


REVIEW_OUTCOMES = MappingProxyType({
    ReviewDecision.APPROVE: ReviewOutcome(Event.APPROVE, AuditStatus.APPROVED, CapStatus.ACCEPTED),
    ReviewDecision.REQUIRE_FOLLOW_UP: ReviewOutcome(
        Event.REQUIRE_FOLLOW_UP, AuditStatus.FOLLOW_UP_REQUIRED, CapStatus.RETURNED
    ),
    ReviewDecision.REJECT: ReviewOutcome(Event.REJECT, AuditStatus.REJECTED, CapStatus.RETURNED),
})


def review_outcome(decision: ReviewDecision) -> ReviewOutcome:
    return REVIEW_OUTCOMES[decision]


ZERO_TOLERANCE_FINDING = "ZERO_TOLERANCE_FINDING"
CAP_NOT_SUBMITTED = "CAP_NOT_SUBMITTED"


def approval_blockers(
    findings_severities: list[Severity], cap_status: CapStatus | None, has_findings: bool
) -> list[str]:
    """Stable codes saying why APPROVE is refused, in this order; empty when it may proceed.

    Only a SUBMITTED CAP counts: a DRAFT is unfinished and a RETURNED one awaits resubmission.
    """
    blockers = []
    if Severity.ZERO_TOLERANCE in findings_severities:
        blockers.append(ZERO_TOLERANCE_FINDING)
    if has_findings and cap_status is not CapStatus.SUBMITTED:
        blockers.append(CAP_NOT_SUBMITTED)
    return blockers


# --- Dates --------------------------------------------------------------------------------------

REPORT_WORKING_DAYS = 7
CAP_WORKING_DAYS = 5
AUDIT_WINDOW_MONTHS = 2
CERTIFICATE_MONTHS = 12
RENEWAL_LEAD = timedelta(days=90)


def add_working_days(start: date, n: int) -> date:
    """The n-th Monday-to-Friday day after `start` (`start` itself never counts).

    There is no holiday calendar: public holidays count as working days. A weekend start
    behaves like the Friday before it; n == 0 returns `start` unchanged.
    """
    if n < 0:
        raise ValueError(f"working days must not be negative, got {n}")
    day = start
    while n:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (Dec 31 + 2 -> Feb 28/29)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return start.replace(year=year, month=month,
                         day=min(start.day, calendar.monthrange(year, month)[1]))


def report_due_on(conducted_on: date) -> date:
    return add_working_days(conducted_on, REPORT_WORKING_DAYS)


def cap_due_on(report_submitted_on: date) -> date:
    return add_working_days(report_submitted_on, CAP_WORKING_DAYS)


def audit_window_limit(assigned_on: date) -> date:
    """The last day the audit window may reach: two calendar months after assignment."""
    return add_months(assigned_on, AUDIT_WINDOW_MONTHS)


def certificate_validity(issued_on: date) -> date:
    """The last day (inclusive) a certificate is valid: the day before its 12-month anniversary.

    A certificate issued on Feb 29 has no anniversary in the next year; it is valid through
    Feb 28, the day before that missing anniversary, rather than losing a day to Feb 27.
    """
    anniversary = add_months(issued_on, CERTIFICATE_MONTHS)
    if anniversary.day != issued_on.day:  # clamped: only Feb 29 -> Feb 28
        return anniversary
    return anniversary - timedelta(days=1)


def renewal_opens_on(valid_until: date) -> date:
    """The first day a RENEWAL application may be submitted."""
    return valid_until - RENEWAL_LEAD


def is_overdue(due_on: date, done: bool, today: date) -> bool:
    """Overdue from the day after `due_on`; something done is never overdue."""
    return not done and today > due_on


# --- Certificates and factory status ------------------------------------------------------------


def certificate_status(
    stored: CertificateStatus, valid_until: date, today: date
) -> CertificateStatus:
    """The status a reader sees: an ACTIVE certificate reads EXPIRED after `valid_until`.

    Expiry is derived, never stored, so it is right without a job. Other statuses are final or
    a program decision and read as stored, even past `valid_until`.
    """
    if stored is CertificateStatus.ACTIVE and today > valid_until:
        return CertificateStatus.EXPIRED
    return stored


_CERTIFICATE_TO_FACTORY = MappingProxyType({
    CertificateStatus.ACTIVE: CertificationStatus.CERTIFIED,
    CertificateStatus.SUSPENDED: CertificationStatus.SUSPENDED,
    CertificateStatus.REVOKED: CertificationStatus.REVOKED,
    CertificateStatus.EXPIRED: CertificationStatus.EXPIRED,
})


def factory_certification_status(
    current_certificate: tuple[CertificateStatus, date] | None,
    has_open_application: bool,
    today: date,
) -> CertificationStatus:
    """A factory's status from its current certificate (stored status, valid_until).

    An open application shows as IN_PROGRESS only where nothing stronger is to be said: with no
    certificate or an expired one. CERTIFIED stays CERTIFIED during a renewal, and SUSPENDED or
    REVOKED are sanctions customers must see until a new certificate replaces them.
    """
    if current_certificate is None:
        if has_open_application:
            return CertificationStatus.IN_PROGRESS
        return CertificationStatus.NOT_CERTIFIED
    stored, valid_until = current_certificate
    if stored is CertificateStatus.SUPERSEDED:
        raise ValueError("a superseded certificate is never a factory's current certificate")
    status = _CERTIFICATE_TO_FACTORY[certificate_status(stored, valid_until, today)]
    if status is CertificationStatus.EXPIRED and has_open_application:
        return CertificationStatus.IN_PROGRESS
    return status


def certificate_number(seq: int) -> str:
    """The letter C and the sequence number zero-padded to 6 digits; past 999999 it grows."""
    if seq < 1:
        raise ValueError(f"certificate sequence numbers start at 1, got {seq}")
    return f"C{seq:06d}"


_CERTIFICATE_CHANGES = frozenset({
    (CertificateStatus.ACTIVE, CertificateStatus.SUSPENDED),
    (CertificateStatus.SUSPENDED, CertificateStatus.ACTIVE),  # reinstate
    (CertificateStatus.ACTIVE, CertificateStatus.REVOKED),
    (CertificateStatus.SUSPENDED, CertificateStatus.REVOKED),
})


def certificate_status_change_allowed(
    current: CertificateStatus, target: CertificateStatus
) -> bool:
    """Whether the program may move a certificate from `current` to `target`.

    Pass the derived status (certificate_status), so an expired certificate cannot be suspended
    or revoked. REVOKED, EXPIRED and SUPERSEDED are final; a no-op move is refused.
    """
    return (current, target) in _CERTIFICATE_CHANGES
