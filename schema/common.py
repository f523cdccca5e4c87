"""Shared GraphQL types: Node, UserError, PageInfo, and cursor helpers for Relay connections."""
import base64
import json
from collections.abc import Sequence
from typing import Any

import strawberry

from resolvers.errors import BusinessRuleError, InvalidArgument

MAX_PAGE = 100
DEFAULT_PAGE = 20


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


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The keyset values of a cursor we issued; a malformed cursor is a GraphQL error."""
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as exc:
        raise InvalidArgument("`after` is not a valid cursor.") from exc
    if not isinstance(value, list) or len(value) != arity:
        raise InvalidArgument("`after` is not a valid cursor.")
    return value


def page_size(first: int | None) -> int:
    size = DEFAULT_PAGE if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise InvalidArgument(f"`first` must be between 1 and {MAX_PAGE}.")
    return size
