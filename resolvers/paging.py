"""Relay-style pages: keyset cursors and page sizes, shared by the resolver and compiled paths."""
import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from resolvers.errors import InvalidArgument

MAX_PAGE = 100
DEFAULT_PAGE = 20


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int,
                  kinds: Sequence[Callable[[Any], Any]] = ()) -> list[Any] | None:
    """The keyset values of a cursor we issued; a malformed cursor is a GraphQL error.

    `kinds` check each value (cursor_text, cursor_int, cursor_moment), so a forged cursor is
    BAD_USER_INPUT rather than a failure deep in the resolver or the database.
    """
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(value, list) or len(value) != arity:
            raise ValueError("wrong shape")
        for kind, item in zip(kinds, value, strict=False):
            kind(item)
    except (ValueError, TypeError) as exc:
        raise InvalidArgument("`after` is not a valid cursor.") from exc
    return value


def cursor_text(value: Any) -> None:
    if not isinstance(value, str):
        raise ValueError("not text")


def cursor_int(value: Any) -> None:
    """A non-negative integer that fits a BIGINT column."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValueError("not a key")


def cursor_moment(value: Any) -> None:
    cursor_text(value)
    datetime.fromisoformat(value)


def page_size(first: int | None) -> int:
    size = DEFAULT_PAGE if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise InvalidArgument(f"`first` must be between 1 and {MAX_PAGE}.")
    return size
