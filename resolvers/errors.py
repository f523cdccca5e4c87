"""Errors resolvers raise. Business-rule failures become `userErrors` with a stable code (the
mutation changes nothing); authentication and authorization failures become top-level errors."""
from graphql import GraphQLError


class BusinessRuleError(Exception):
    """A rule the input broke: returned as a UserError, and the unit of work rolls back."""

    def __init__(self, code: str, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


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
