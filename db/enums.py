"""Domain enumerations: one source for the database checks, the resolvers and the GraphQL schema."""
from enum import Enum


class OrganizationKind(str, Enum):
    PROGRAM = "PROGRAM"
    SUPPLIER = "SUPPLIER"
    CUSTOMER = "CUSTOMER"
    AUDIT_FIRM = "AUDIT_FIRM"


class Role(str, Enum):
    ADMIN = "ADMIN"
    REVIEWER = "REVIEWER"
    SUPPLIER = "SUPPLIER"
    CUSTOMER = "CUSTOMER"
    AUDITOR = "AUDITOR"


class ShareScope(str, Enum):
    PROFILE = "PROFILE"
    CERTIFICATION = "CERTIFICATION"
    AUDITS = "AUDITS"
    CORRECTIVE_ACTIONS = "CORRECTIVE_ACTIONS"
    ENVIRONMENT = "ENVIRONMENT"


class ConnectionStatus(str, Enum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    REVOKED = "REVOKED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class CertificationStatus(str, Enum):
    NOT_CERTIFIED = "NOT_CERTIFIED"
    IN_PROGRESS = "IN_PROGRESS"
    CERTIFIED = "CERTIFIED"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


class ApplicationKind(str, Enum):
    NEW = "NEW"
    RENEWAL = "RENEWAL"


class ApplicationStatus(str, Enum):
    SUBMITTED = "SUBMITTED"
    AUDIT_FIRM_ASSIGNED = "AUDIT_FIRM_ASSIGNED"
    AUDIT_SCHEDULED = "AUDIT_SCHEDULED"
    UNDER_REVIEW = "UNDER_REVIEW"
    FOLLOW_UP_REQUIRED = "FOLLOW_UP_REQUIRED"
    APPROVED = "APPROVED"
    CERTIFIED = "CERTIFIED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"


# An application in one of these states no longer blocks a new one for its factory.
CLOSED_APPLICATION_STATUSES = (
    ApplicationStatus.CERTIFIED,
    ApplicationStatus.REJECTED,
    ApplicationStatus.WITHDRAWN,
)


class FeeKind(str, Enum):
    REGISTRATION = "REGISTRATION"
    AUDIT = "AUDIT"
    SEAL = "SEAL"


class FeeStatus(str, Enum):
    DUE = "DUE"
    PAID = "PAID"
    WAIVED = "WAIVED"


class AuditType(str, Enum):
    INITIAL_CERTIFICATION = "INITIAL_CERTIFICATION"
    ANNUAL = "ANNUAL"
    PROGRESS_VISIT = "PROGRESS_VISIT"
    FOLLOW_UP = "FOLLOW_UP"


class Announcement(str, Enum):
    ANNOUNCED = "ANNOUNCED"
    SEMI_ANNOUNCED = "SEMI_ANNOUNCED"
    UNANNOUNCED = "UNANNOUNCED"


class AuditStatus(str, Enum):
    SCHEDULED = "SCHEDULED"
    REPORT_SUBMITTED = "REPORT_SUBMITTED"
    APPROVED = "APPROVED"
    FOLLOW_UP_REQUIRED = "FOLLOW_UP_REQUIRED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class Severity(str, Enum):
    ZERO_TOLERANCE = "ZERO_TOLERANCE"
    CRITICAL = "CRITICAL"
    MAJOR = "MAJOR"
    MINOR = "MINOR"


class CapStatus(str, Enum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    RETURNED = "RETURNED"


class ActionStatus(str, Enum):
    OPEN = "OPEN"
    DONE = "DONE"
    VERIFIED = "VERIFIED"


class CertificateStatus(str, Enum):
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"
    SUPERSEDED = "SUPERSEDED"


class ReviewDecision(str, Enum):
    APPROVE = "APPROVE"
    REQUIRE_FOLLOW_UP = "REQUIRE_FOLLOW_UP"
    REJECT = "REJECT"
