"""The domain enums (db.enums) exposed to GraphQL under the contract's names, each value
described (the domain enums stay plain: the database and the resolvers use them)."""
from enum import Enum
from typing import Any

import strawberry

from db import enums


def described(domain: type[Enum], description: str, values: dict[str, str]) -> Any:
    """`domain` as a GraphQL enum whose values carry `values`' descriptions (every one)."""
    assert set(values) == set(domain.__members__), f"describe every {domain.__name__} value"
    exposed = strawberry.enum(domain, description=description)
    for value in exposed.__strawberry_definition__.values:
        value.description = values[value.name]
    return exposed


ShareScope = described(enums.ShareScope, (
    "What a factory can share with a connected customer. Public directory fields need no "
    "scope; the factory's own organization and the program hold every scope."), {
    "PROFILE": "The site's address, contacts, workforce and the supplier organization.",
    "CERTIFICATION": "Certificates, applications and their progress.",
    "AUDITS": "Audits, their findings and audit report documents.",
    "CORRECTIVE_ACTIONS": "Corrective action plans, their actions and evidence documents.",
    "ENVIRONMENT": "Environmental assessments and their reports.",
})
ConnectionStatus = described(enums.ConnectionStatus, "Where a customer connection stands.", {
    "PENDING": "Requested by the customer; the factory has not answered.",
    "ACCEPTED": "The factory shares grantedScopes with the customer.",
    "DECLINED": "The factory declined the request.",
    "REVOKED": "The factory ended an accepted connection.",
    "CANCELLED": "The customer withdrew its request or ended the connection.",
    "EXPIRED": "The factory's end date (expiresAt) has passed; nothing is shared any more.",
})
CertificationStatus = described(enums.CertificationStatus, (
    "A factory's certification as the public directory shows it, derived from its "
    "certificates and applications."), {
    "NOT_CERTIFIED": "No certificate and no application in progress.",
    "IN_PROGRESS": "An application is in progress and no certificate is valid.",
    "CERTIFIED": "The factory holds an ACTIVE certificate valid today.",
    "SUSPENDED": "The program suspended the factory's certificate.",
    "EXPIRED": "The current certificate's validUntil has passed and no application is open.",
    "REVOKED": "The program revoked the factory's certificate.",
})
OrganizationKind = described(enums.OrganizationKind, "What an organization is to the program.", {
    "PROGRAM": "The Ethical Supply Chain Program itself: its staff certify factories.",
    "SUPPLIER": "Owns factories and shares their data.",
    "CUSTOMER": "A brand or retailer that connects to factories to see their data.",
    "AUDIT_FIRM": "An accredited third-party firm that audits factories.",
})
Role = described(enums.Role, "A user's role, which follows from their organization's kind.", {
    "ADMIN": "Program staff who also manage accounts, audit firms and auditors.",
    "REVIEWER": "Program staff who review audits and manage certificates.",
    "SUPPLIER": "A member of a supplier organization.",
    "CUSTOMER": "A member of a customer organization.",
    "AUDITOR": "A user of an audit firm.",
})
ApplicationKind = described(enums.ApplicationKind, "Why a factory applies for certification.", {
    "NEW": "A first certification, or one after the last certificate lapsed.",
    "RENEWAL": "Renewing an active certificate, from 90 days before it expires.",
})
ApplicationStatus = described(enums.ApplicationStatus, (
    "The step an application is at in the five-step certification workflow."), {
    "SUBMITTED": "Step 1: applied online; the REGISTRATION fee is due to the program.",
    "AUDIT_FIRM_ASSIGNED": "Step 2 done: the registration fee is paid and an accredited firm "
                           "assigned; the AUDIT fee is due to the firm.",
    "AUDIT_SCHEDULED": "Step 3: the firm set the audit window (ending at most two months after "
                       "assignment).",
    "UNDER_REVIEW": "Step 4: the report is submitted; the program reviews it with the "
                    "corrective action plan.",
    "FOLLOW_UP_REQUIRED": "The review asked for a progress visit or follow-up audit, scheduled "
                          "as a new round.",
    "APPROVED": "Step 5: standards are met; the SEAL fee is due.",
    "CERTIFIED": "The seal fee is paid and the certificate issued. Closed.",
    "REJECTED": "The review rejected the audit. Closed.",
    "WITHDRAWN": "The factory withdrew the application. Closed.",
})
FeeKind = described(enums.FeeKind, "What a fee pays for.", {
    "REGISTRATION": "To the program, due on applying.",
    "AUDIT": "To the assigned audit firm, one per audit round; the firm sets the amount when "
             "scheduling.",
    "SEAL": "To the program, due on approval; paying it issues the certificate.",
})
FeeStatus = described(enums.FeeStatus, "Whether a fee is settled.", {
    "DUE": "Not paid yet.",
    "PAID": "The payee recorded the payment (paidAt).",
    "WAIVED": "Nothing is to be paid.",
})
AuditType = described(enums.AuditType, "Why an audit is performed.", {
    "INITIAL_CERTIFICATION": "The first audit of a NEW application.",
    "ANNUAL": "The audit of a RENEWAL application.",
    "PROGRESS_VISIT": "A follow-up round checking progress on corrective actions.",
    "FOLLOW_UP": "A full follow-up audit after a review required one.",
})
Announcement = described(enums.Announcement, (
    "How much the factory is told in advance; unannounced audits stay unannounced until "
    "conducted."), {
    "ANNOUNCED": "The factory sees the window and the planned date.",
    "SEMI_ANNOUNCED": "The factory sees the window, not the planned date.",
    "UNANNOUNCED": "The factory sees neither the window nor the date.",
})
AuditStatus = described(enums.AuditStatus, "Where an audit stands.", {
    "SCHEDULED": "Planned by the firm; not yet reported.",
    "REPORT_SUBMITTED": "The firm submitted the report and findings; awaiting review.",
    "APPROVED": "The program approved the audit.",
    "FOLLOW_UP_REQUIRED": "The program asked for a follow-up round.",
    "REJECTED": "The program rejected the audit (e.g. a zero-tolerance finding).",
    "CANCELLED": "The visit will not take place.",
})
Severity = described(enums.Severity, "How grave a finding is, gravest first.", {
    "ZERO_TOLERANCE": "A breach the program never accepts; it blocks approval.",
    "CRITICAL": "A serious breach to correct at once.",
    "MAJOR": "A significant breach to correct within the plan's deadlines.",
    "MINOR": "A small or isolated lapse.",
})
CapStatus = described(enums.CapStatus, "Where a corrective action plan stands.", {
    "DRAFT": "Opened with the audit report; the factory has not submitted it.",
    "SUBMITTED": "Submitted by the factory; awaiting the program's review.",
    "ACCEPTED": "Accepted by the program with the audit's approval.",
    "RETURNED": "Returned by the program for changes; the factory submits it again.",
})
ActionStatus = described(enums.ActionStatus, "Where one corrective action stands.", {
    "OPEN": "Not done yet.",
    "DONE": "The factory reports it done.",
    "VERIFIED": "Verified as done.",
})
CertificateStatus = described(enums.CertificateStatus, (
    "A certificate's status as readers see it today (EXPIRED follows from validUntil)."), {
    "ACTIVE": "Valid: issued and not expired, suspended or revoked.",
    "EXPIRED": "Past validUntil.",
    "SUSPENDED": "Suspended by the program; it may be reinstated.",
    "REVOKED": "Revoked by the program; final.",
    "SUPERSEDED": "Replaced by a later certificate of the same factory (a renewal).",
})
ReviewDecision = described(enums.ReviewDecision, "The program's decision on a submitted audit.", {
    "APPROVE": "Standards are met: the application is APPROVED and the SEAL fee due.",
    "REQUIRE_FOLLOW_UP": "A progress visit or follow-up audit is needed: a new round.",
    "REJECT": "The application is REJECTED.",
})
