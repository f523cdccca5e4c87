"""A clear message for every error code a page can meet (userErrors and top-level errors).

The API's own message is shown beside it (it often names the detail: a date, a field's
limit); this is what the code means to the person at the keyboard.
"""
MESSAGES = {
    # accounts
    "VALIDATION": "Some of what you entered is not valid:",
    "WEAK_PASSWORD": "Choose a longer password (the message says how long).",
    "EMAIL_TAKEN": "An account with this email exists already; sign in instead.",
    "DUPLICATE": "That exists already.",
    "INVALID_CREDENTIALS": "The email or password is not right.",
    "TOO_MANY_ATTEMPTS": "Too many sign-in attempts. Wait a while, then try again.",
    "UNAUTHENTICATED": "Your session has ended; sign in again.",
    "FORBIDDEN": "You may not do that with your account.",
    "NOT_FOUND": "We could not find that; it may have been removed, or you may not see it.",
    "ROLE_ABOVE_CREATOR": "A key cannot have a role above your own.",
    "TOO_MANY_KEYS": "Your organization has the most API keys allowed; revoke one first.",
    # connections
    "UNLISTED_FACTORY": "This factory is not listed in the directory, so it cannot be asked.",
    "DUPLICATE_CONNECTION": "You have a pending or active connection with this factory already.",
    "NOT_OWNER": "Only the factory's own supplier can do that.",
    "INVALID_STATE": "The connection has changed meanwhile; reload the page to see its state.",
    # certification
    "APPLICATION_OPEN": "This factory has an application in progress already.",
    "ALREADY_CERTIFIED": "This factory is certified; apply to renew when renewal opens.",
    "CERTIFICATE_SUSPENDED": "The certificate is suspended; the program must reinstate it first.",
    "NO_CERTIFICATE_TO_RENEW": "There is no certificate to renew; apply for a new one.",
    "RENEWAL_NOT_OPEN": "Renewal opens 90 days before the certificate expires.",
    "INVALID_TRANSITION": "That step is not possible at this stage of the process.",
    "NOT_PAYEE": "Only the fee's payee records its payment.",
    "ALREADY_PAID": "This fee is paid already.",
    "FEE_WAIVED": "This fee was waived; nothing is due.",
    "REGISTRATION_FEE_UNPAID": "The registration fee must be paid first.",
    "AUDIT_FIRM_INACTIVE": "That audit firm is not active.",
    "NO_ACTIVE_AUDIT_FIRM": "No audit firm is active at the moment.",
    "INVALID_AUDIT_TYPE": "That type of audit does not fit this round.",
    "WINDOW_TOO_LATE": "The audit window ends too late.",
    "PLANNED_OUTSIDE_WINDOW": "The planned date is outside the audit window.",
    "AUDITOR_INACTIVE": "That auditor is not active.",
    "AUDIT_FEE_PAID": "The audit fee is paid already.",
    "CONDUCTED_IN_FUTURE": "An audit cannot be reported as conducted in the future.",
    "CONDUCTED_BEFORE_WINDOW": "The audit date is before its window.",
    "ZERO_TOLERANCE_FINDING": "A zero-tolerance finding prevents approval.",
    "CAP_NOT_SUBMITTED": "The corrective action plan has not been submitted yet.",
    "ALREADY_VERIFIED": "This assessment is verified and final; it cannot be replaced.",
    # webhooks
    "INVALID_WEBHOOK_URL": "The address must be https:// to a public host.",
    "ENDPOINT_DISABLED": "That endpoint is disabled; register a new one.",
    # request checks and uploads
    "BAD_USER_INPUT": "Some of what you entered is too long or has characters we cannot take.",
    "QUERY_TOO_COMPLEX": "That page asks for too much at once; narrow it down.",
    "SERVICE_UNAVAILABLE": "The service is briefly unavailable; try again in a moment.",
    "CSRF_FAILED": "This form expired or came from another site; reload the page and try again.",
    "DOCUMENT_TOO_LARGE": "The file is too large (at most 25 MB).",
    "UNSUPPORTED_TYPE": "Upload a PDF, PNG, JPEG, XLSX or CSV file whose contents match its type.",
    "INVALID_UPLOAD": "The upload did not arrive whole; try again.",
    "MISSING_FILE": "Choose a file first.",
}
FALLBACK = "Something went wrong; please try again."


def message_for(code: str | None) -> str:
    return MESSAGES.get(code or "", FALLBACK)
