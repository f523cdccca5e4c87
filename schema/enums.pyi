"""What mypy reads for schema/enums.py: each GraphQL enum is its domain enum, as
strawberry.enum registers the class it is given and returns it. Assigned from a call, the names
would be variables to mypy, which cannot stand for types in annotations."""
from db.enums import (
    ActionStatus,
    Announcement,
    ApplicationKind,
    ApplicationStatus,
    AuditStatus,
    AuditType,
    CapStatus,
    CertificateStatus,
    CertificationStatus,
    ConnectionStatus,
    FeeKind,
    FeeStatus,
    OrganizationKind,
    ReviewDecision,
    Role,
    Severity,
    ShareScope,
)

__all__ = [
    "ShareScope", "ConnectionStatus", "CertificationStatus", "OrganizationKind", "Role",
    "ApplicationKind", "ApplicationStatus", "FeeKind", "FeeStatus", "AuditType", "Announcement",
    "AuditStatus", "Severity", "CapStatus", "ActionStatus", "CertificateStatus", "ReviewDecision",
]
