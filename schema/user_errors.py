"""Typed userErrors: one code enum per mutation family, each value saying when it happens.

The public contract fixes `UserError.code` as a String, so it stays one; each payload also
answers the same errors with the code typed by its family's enum (`connectionUserErrors:
[ConnectionUserError!]!` beside `userErrors`), as Shopify's API does. A family is the mutations
of one domain; `modules` names the resolver modules whose BusinessRuleErrors its mutations
return, and tests/test_user_error_codes.py holds each enum equal to the codes raised there.
"""
from dataclasses import dataclass
from enum import Enum
from typing import Any

import strawberry

FIELD = ("The path of the input field at fault, from the mutation's argument (e.g. "
         "[\"scopes\"] or [\"input\", \"findings\", \"0\", \"clause\"]); null when the error "
         "concerns the request as a whole.")
MESSAGE = ("What went wrong, in English, for a person to read; may change between releases: "
           "branch on `code`, not on the message.")


@dataclass(frozen=True)
class Family:
    """One mutation family: its code enum, its typed error type, the modules raising its codes."""

    name: str
    code: type[Enum]
    error: type
    modules: tuple[str, ...]

    def field(self) -> Any:
        """The payload field answering its userErrors with typed codes."""
        error, code = self.error, self.code

        def resolve(root: Any) -> list[error]:  # type: ignore[valid-type]
            return [error(field=e.field, message=e.message, code=code(e.code))
                    for e in root.user_errors]

        return strawberry.field(resolver=resolve, description=(
            f"The same errors as `userErrors`, with `code` typed as {code.__name__}. Empty when "
            "the mutation succeeded."))


def family(name: str, what: str, codes: dict[str, str], modules: tuple[str, ...]) -> Family:
    """The `{name}ErrorCode` enum of `codes` (value: when it happens) and `{name}UserError`."""
    members = {code: strawberry.enum_value(code, description=when) for code, when in codes.items()}
    enum = strawberry.enum(Enum(f"{name}ErrorCode", members),  # type: ignore[misc]
                           description=f"Why a mutation of {what} refused its input.")

    @strawberry.type(name=f"{name}UserError", description=(
        f"A business rule that a mutation of {what} refused; nothing was changed."))
    class Typed:
        field: list[str] | None = strawberry.field(description=FIELD)
        message: str = strawberry.field(description=MESSAGE)
        code: enum = strawberry.field(  # type: ignore[valid-type]
            description="Stable, machine-readable reason.")

    return Family(name, enum, Typed, modules)


NOT_FOUND = ("An ID names nothing the viewer may see: absent and invisible look the same, so "
             "nobody learns what exists. `field` names the ID.")

ACCOUNT_ERRORS = family("Account", "accounts (signUp, login, createAuditFirm, createUser, "
                  "registerAuditor)", {
    "VALIDATION": "An input is malformed or not allowed: not an email address, a blank name, "
                  "a role the organization's kind cannot hold, signing up as anything but a "
                  "supplier or customer. `field` names it.",
    "WEAK_PASSWORD": "The password is shorter or longer than the limits; `message` gives them.",
    "EMAIL_TAKEN": "A user with that email address (compared case-insensitively) exists.",
    "DUPLICATE": "An organization of that kind and name, or an auditor with that registration "
                 "number, exists.",
    "INVALID_CREDENTIALS": "login: the email and password do not match an active user. The "
                           "same code for every failure, so it never tells whether the email "
                           "is registered.",
    "NOT_FOUND": NOT_FOUND,
}, ("resolvers.accounts",))

API_KEY_ERRORS = family("ApiKey", "API keys (createApiKey, revokeApiKey)", {
    "VALIDATION": "The name is not 1 to 100 characters, or the expiry is not in the future.",
    "ROLE_ABOVE_CREATOR": "The key's role would be above its creator's: a program ADMIN may "
                          "make ADMIN or REVIEWER keys, everyone else only their own role.",
    "TOO_MANY_KEYS": "The organization already has 50 unrevoked keys; revoke one first.",
    "NOT_FOUND": NOT_FOUND,
}, ("resolvers.api_keys",))

FACTORY_ERRORS = family("Factory", "factories (createFactory, updateFactory)", {
    "VALIDATION": "A field is out of bounds: a blank or too long name or text, a country that "
                  "is not an ISO 3166-1 alpha-2 code, a negative worker count, too many or blank "
                  "product categories. `field` names it.",
    "FORBIDDEN": "updateFactory: the factory belongs to another supplier organization.",
    "NOT_FOUND": NOT_FOUND,
}, ("resolvers.factory",))

APPLICATION_ERRORS = family("Application", "certification applications and their fees "
                      "(submitApplication, recordPayment, assignAuditFirm)", {
    "NOT_FOUND": NOT_FOUND,
    "NOT_OWNER": "submitApplication: only the supplier owning the factory applies.",
    "APPLICATION_OPEN": "The factory already has an application in progress (not yet "
                        "CERTIFIED, REJECTED or WITHDRAWN).",
    "ALREADY_CERTIFIED": "A NEW application for a factory holding an active certificate: apply "
                         "for a RENEWAL.",
    "CERTIFICATE_SUSPENDED": "The factory's certificate is suspended: the program reinstates or "
                             "revokes it before a new application.",
    "NO_CERTIFICATE_TO_RENEW": "A RENEWAL without an active certificate: apply as NEW.",
    "RENEWAL_NOT_OPEN": "A RENEWAL more than 90 days before the certificate expires; `message` "
                        "gives the first day it is accepted.",
    "NOT_PAYEE": "recordPayment by someone other than the payee: the audit firm records its "
                 "AUDIT fee, program staff the REGISTRATION and SEAL fees.",
    "ALREADY_PAID": "recordPayment of a fee that is already PAID.",
    "FEE_WAIVED": "recordPayment of a WAIVED fee: nothing is due.",
    "VALIDATION": "An input is malformed: a payment reference that is not one line of at most "
                  "200 characters, or an amount that is not a positive decimal with at most two "
                  "decimals.",
    "REGISTRATION_FEE_UNPAID": "assignAuditFirm before the REGISTRATION fee is paid.",
    "NO_ACTIVE_AUDIT_FIRM": "assignAuditFirm without a firm named, and no accredited firm is "
                            "active.",
    "AUDIT_FIRM_INACTIVE": "assignAuditFirm names a firm that is no longer active.",
    "INVALID_TRANSITION": "The application's status does not allow this step (e.g. assigning a "
                          "firm twice); `message` names the status.",
}, ("resolvers.application", "resolvers.workflow"))

AUDIT_ERRORS = family("Audit", "audits (scheduleAudit, submitAuditReport, reviewAudit)", {
    "NOT_FOUND": NOT_FOUND,
    "INVALID_TRANSITION": "The audit or its application is not at this step: scheduling an "
                          "audit not awaiting one, reporting twice, reviewing without a "
                          "submitted report.",
    "INVALID_AUDIT_TYPE": "The audit type does not fit the round: INITIAL_CERTIFICATION or "
                          "ANNUAL first, FOLLOW_UP or PROGRESS_VISIT for a follow-up round.",
    "VALIDATION": "An input is malformed: a window ending before it starts or starting before "
                  "the round was assigned, a finding without clause, category or description, "
                  "notes too long, a fee amount that is not a positive decimal. `field` names "
                  "it.",
    "WINDOW_TOO_LATE": "The audit window ends more than two months after the firm was assigned "
                       "(or after the review that asked for a follow-up).",
    "PLANNED_OUTSIDE_WINDOW": "The planned date is outside the audit window.",
    "AUDITOR_INACTIVE": "The lead auditor is no longer active.",
    "AUDIT_FEE_PAID": "auditFeeAmount changes the AUDIT fee of a round whose fee is already "
                      "paid or waived.",
    "CONDUCTED_IN_FUTURE": "submitAuditReport with conductedOn after today.",
    "CONDUCTED_BEFORE_WINDOW": "submitAuditReport with conductedOn before the audit window "
                               "opened.",
    "ZERO_TOLERANCE_FINDING": "reviewAudit APPROVE of an audit with a ZERO_TOLERANCE finding.",
    "CAP_NOT_SUBMITTED": "reviewAudit APPROVE while the factory's corrective action plan is not "
                         "submitted. Returned together with ZERO_TOLERANCE_FINDING when both "
                         "hold.",
}, ("resolvers.audit", "resolvers.workflow"))

CERTIFICATE_ERRORS = family("Certificate", "certificates (setCertificateStatus)", {
    "NOT_FOUND": NOT_FOUND,
    "INVALID_TRANSITION": "The certificate cannot take that status from the one readers see, "
                          "e.g. an EXPIRED or REVOKED certificate can no longer change.",
    "VALIDATION": "The reason is blank or longer than its limit.",
}, ("resolvers.certificate", "resolvers.workflow"))

CONNECTION_ERRORS = family("Connection", "customer connections (requestConnection, "
                     "respondToConnectionRequest, updateConnectionScopes, endConnection)", {
    "VALIDATION": "An input is not allowed: no scope named, a message over 2000 characters, an "
                  "expiresAt without UTC offset or not in the future, scopes or expiresAt when "
                  "declining. `field` names it.",
    "NOT_FOUND": NOT_FOUND,
    "NOT_OWNER": "The viewer is not the side that may take this step: only the factory's owner "
                 "responds or changes scopes, only the two parties end a connection, and a "
                 "viewer of no organization takes none.",
    "INVALID_STATE": "The connection's status does not allow the step, e.g. responding to one "
                     "that is no longer PENDING; `message` names the status.",
    "UNLISTED_FACTORY": "requestConnection to a factory that is not listed in the directory.",
    "DUPLICATE_CONNECTION": "The customer already has a PENDING or ACCEPTED connection to the "
                            "factory.",
}, ("resolvers.connection",))

CORRECTIVE_ACTION_ERRORS = family("CorrectiveAction", "corrective action plans "
                            "(submitCorrectiveActionPlan)", {
    "NOT_FOUND": NOT_FOUND,
    "VALIDATION": "The actions do not fit the audit: a finding of another audit, a finding "
                  "answered twice or not at all, a blank action, a text too long, a due date in "
                  "the past, evidence not uploaded by the organization. `field` names it.",
    "INVALID_TRANSITION": "The plan is SUBMITTED or ACCEPTED: it is submitted only while DRAFT "
                          "or RETURNED.",
}, ("resolvers.corrective_action",))

ENVIRONMENT_ERRORS = family("Environment", "environmental assessments "
                     "(submitEnvironmentalAssessment, verifyEnvironmentalAssessment)", {
    "NOT_FOUND": NOT_FOUND,
    "VALIDATION": "The period year is outside 1990 to next year, or a figure is negative or not "
                  "finite. `field` names it.",
    "ALREADY_VERIFIED": "The assessment (of that year) is verified: it is final.",
}, ("resolvers.environment",))

WEBHOOK_ERRORS = family("Webhook", "webhook endpoints (registerWebhookEndpoint, "
                  "deleteWebhookEndpoint, replayWebhookDelivery)", {
    "VALIDATION": "registerWebhookEndpoint names no event type.",
    "INVALID_WEBHOOK_URL": "The URL is malformed, too long, not https://, carries credentials "
                           "or a fragment, does not resolve, or reaches a loopback or private "
                           "address; `message` says which.",
    "NOT_FOUND": NOT_FOUND,
    "ENDPOINT_DISABLED": "replayWebhookDelivery to an endpoint disabled after repeated "
                         "failures.",
}, ("resolvers.webhooks",))

FAMILIES = (ACCOUNT_ERRORS, API_KEY_ERRORS, FACTORY_ERRORS, APPLICATION_ERRORS, AUDIT_ERRORS,
            CERTIFICATE_ERRORS, CONNECTION_ERRORS, CORRECTIVE_ACTION_ERRORS, ENVIRONMENT_ERRORS,
            WEBHOOK_ERRORS)
