"""Errors resolvers raise. Business-rule failures become `userErrors` with a stable code (the
mutation changes nothing); authentication and authorization failures become top-level errors."""
import logging
import uuid

from graphql import GraphQLError

from db.engine import is_unavailable

log = logging.getLogger("escp.graphql")

UNAVAILABLE_MESSAGE = "The database is unavailable; try again."


def mask_internal(error: GraphQLError) -> GraphQLError:
    """An error we did not raise on purpose as 'Internal server error' with an id that is also
    in the log, beside the stack trace; the database going away as SERVICE_UNAVAILABLE (the app
    answers 503: send it again). Used by schema.extensions.MaskInternalErrors and for every
    subscription event answered by group (overrides.fanout)."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error
    if is_unavailable(original):
        log.warning("database unavailable at %s: %s", error.path,
                    str(original).splitlines()[0] if str(original) else type(original))
        return GraphQLError(UNAVAILABLE_MESSAGE, nodes=error.nodes, path=error.path,
                            extensions={"code": "SERVICE_UNAVAILABLE"})
    error_id = uuid.uuid4().hex
    log.error("internal error %s at %s", error_id, error.path, exc_info=original)
    return GraphQLError("Internal server error.", nodes=error.nodes, path=error.path,
                        extensions={"code": "INTERNAL_SERVER_ERROR", "errorId": error_id})


class BusinessRuleError(Exception):
    """A rule the input broke: returned as a UserError, and the unit of work rolls back."""

    def __init__(self, code: str, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def all(self) -> list["BusinessRuleError"]:
        """Each broken rule, for one userError apiece."""
        return [self]


class BusinessRuleErrors(BusinessRuleError):
    """Several rules broken at once (e.g. every reason an approval is refused)."""

    def __init__(self, errors: list[BusinessRuleError]) -> None:
        if not errors:
            raise ValueError("BusinessRuleErrors needs at least one error")
        first = errors[0]
        super().__init__(first.code, first.message, first.field)
        self.errors = list(errors)

    def all(self) -> list[BusinessRuleError]:
        return list(self.errors)


def not_found(what: str, field: list[str] | None = None) -> BusinessRuleError:
    """Absent and invisible look the same, so nobody learns what exists."""
    return BusinessRuleError("NOT_FOUND", f"No {what} with that id.", field)


class Unauthenticated(GraphQLError):
    def __init__(self, message: str = "Sign in first.") -> None:
        super().__init__(message, extensions={"code": "UNAUTHENTICATED"})


class Forbidden(GraphQLError):
    def __init__(self, message: str, required: str) -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN", "requiredScope": required})


class InvalidArgument(GraphQLError):
    """A query argument out of range or malformed (first, after, …)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})
