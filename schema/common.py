"""Shared GraphQL types: Node, UserError, PageInfo, and cursor helpers for Relay connections."""
import strawberry

from resolvers.errors import BusinessRuleError
from resolvers.paging import (  # noqa: F401  (re-exported: the schema's page helpers)
    DEFAULT_PAGE,
    MAX_PAGE,
    cursor_int,
    cursor_moment,
    cursor_text,
    decode_cursor,
    encode_cursor,
    page_size,
)


@strawberry.interface(description="An object with an opaque global ID.")
class Node:
    id: strawberry.ID


@strawberry.type
class UserError:
    field: list[str] | None
    message: str
    code: str

    @classmethod
    def of(cls, error: BusinessRuleError) -> "UserError":
        return cls(field=error.field, message=error.message, code=error.code)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None
