"""The domain enums (db.enums) exposed to GraphQL under the contract's names."""
import strawberry

from db import enums

ShareScope = strawberry.enum(enums.ShareScope,
                             description="What a factory can share with a connected customer.")
ConnectionStatus = strawberry.enum(enums.ConnectionStatus)
CertificationStatus = strawberry.enum(enums.CertificationStatus)
OrganizationKind = strawberry.enum(enums.OrganizationKind)
Role = strawberry.enum(enums.Role)
ApplicationKind = strawberry.enum(enums.ApplicationKind)
ApplicationStatus = strawberry.enum(enums.ApplicationStatus)
FeeKind = strawberry.enum(enums.FeeKind)
FeeStatus = strawberry.enum(enums.FeeStatus)
AuditType = strawberry.enum(enums.AuditType)
Announcement = strawberry.enum(enums.Announcement)
AuditStatus = strawberry.enum(enums.AuditStatus)
Severity = strawberry.enum(enums.Severity)
CapStatus = strawberry.enum(enums.CapStatus)
ActionStatus = strawberry.enum(enums.ActionStatus)
CertificateStatus = strawberry.enum(enums.CertificateStatus)
ReviewDecision = strawberry.enum(enums.ReviewDecision)
