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
