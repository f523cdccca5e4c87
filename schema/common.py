"""Shared GraphQL types: Node, UserError, PageInfo, and cursor helpers for Relay connections."""
from typing import Annotated, Any

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


@strawberry.interface(description="An object with a global ID, refetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description=(
        "Opaque global ID: pass it back as it is (to `node`, or to the inputs that take this "
        "object's ID); never parse it. Stable for the object's lifetime."))


@strawberry.type(description="A business rule the mutation's input broke (an invalid "
                             "transition, a validation); the mutation changed nothing.")
class UserError:
    field: list[str] | None = strawberry.field(description=(
        "The path of the input field at fault, from the mutation's argument; null when the "
        "error concerns the request as a whole."))
    message: str = strawberry.field(description=(
        "What went wrong, in English, for a person to read; branch on `code`, not on this."))
    code: str = strawberry.field(description=(
        "Stable, machine-readable reason, e.g. INVALID_TRANSITION, NOT_FOUND, VALIDATION. A "
        "String by contract: each payload's typed list beside `userErrors` (e.g. "
        "`connectionUserErrors`) answers the same errors with the code as its family's enum "
        "(e.g. ConnectionErrorCode), whose values say when each happens."))

    @classmethod
    def of(cls, error: BusinessRuleError) -> "UserError":
        return cls(field=error.field, message=error.message, code=error.code)


@strawberry.type(description="Where a page of a Relay connection lies in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description=(
        "More items follow: ask again with `after: endCursor`."))
    has_previous_page: bool = strawberry.field(description=(
        "Items precede this page."))
    start_cursor: str | None = strawberry.field(description=(
        "The cursor of the page's first item; null for an empty page."))
    end_cursor: str | None = strawberry.field(description=(
        "The cursor of the page's last item, to pass as `after`; null for an empty page."))


USER_ERRORS = ("Business-rule failures; empty when the mutation succeeded. When not empty, "
               "nothing was changed.")


def user_errors() -> Any:
    """The described `userErrors` field every payload declares."""
    return strawberry.field(description=USER_ERRORS)


# Relay connections: the same words on every list, so each reads the same way.
EDGE_CURSOR = ("This item's position, opaque: pass it as `after` to read the items after it. "
               "Valid for the same list and arguments only.")
EDGE_NODE = "The item."
EDGES = "The page's items, each with its cursor."
NODES = "The page's items without their cursors, for clients that need none."
PAGE_INFO = "Whether more items follow, and the cursors to page on."
TOTAL_COUNT = "How many items the whole list holds, over all pages, as the viewer may see them."

First = Annotated[int | None, strawberry.argument(
    description=f"Page size, 1 to {MAX_PAGE}; omitted: {DEFAULT_PAGE}.")]
After = Annotated[str | None, strawberry.argument(
    description="Start after this cursor (an edge's `cursor` or `pageInfo.endCursor`); "
                "omitted: from the beginning.")]
