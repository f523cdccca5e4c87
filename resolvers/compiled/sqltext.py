"""SQL text for compiled plans: parameters, SQLAlchemy fragments rendered once, JSON values.

A plan is built once per (document, operation, viewer kind) and run many times, so its SQL is
text with named parameters `«name»`; `Params.finish` numbers them `$1, $2, …` with their types
for asyncpg, which prepares the statement once per connection and reuses it.
"""
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, literal_column
from sqlalchemy.dialects import postgresql

_MARK = re.compile(r"«(\w+)»")
_DIALECT = postgresql.dialect()


def param(name: str, type_: Any = BigInteger) -> Any:
    """A parameter inside a SQLAlchemy expression (the viewer's organization, say)."""
    return literal_column(f"«{name}»", type_)


def render(clause: Any) -> str:
    """A SQLAlchemy expression or select as SQL text; constants are inlined, parameters stay
    `«name»`. Run once per plan, never per request."""
    return str(clause.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))


@dataclass
class Params:
    """The parameters of one plan, by name, with the PostgreSQL type each is cast to."""

    types: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, pg_type: str) -> str:
        self.types[name] = pg_type
        return f"«{name}»"

    def finish(self, sql: str) -> tuple[str, list[str]]:
        """`«name»` → `$n::type`; returns the text and the names in order."""
        order: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in order:
                order.append(name)
            return f"${order.index(name) + 1}::{self.types[name]}"
        return _MARK.sub(number, sql), order


def b64url(expression: str) -> str:
    """base64url without padding, as schema.ids and schema.common encode."""
    return (f"rtrim(translate(encode(convert_to({expression}, 'UTF8'), 'base64'), "
            f"E'+/\\n', '-_'), '=')")


def global_id(type_name: str, pk: str) -> str:
    return b64url(f"'{type_name}:' || {pk}")


def iso_datetime(expression: str) -> str:
    """A timestamptz as Python's isoformat() writes an aware UTC datetime (what Strawberry's
    DateTime sends): microseconds only when not zero, `+00:00`."""
    utc = f"({expression} AT TIME ZONE 'UTC')"
    return (f"CASE WHEN {expression} IS NULL THEN NULL ELSE "
            f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
            f"CASE WHEN extract(microseconds FROM {utc})::bigint % 1000000 = 0 THEN '' "
            f"ELSE to_char({utc}, '.US') END || '+00:00' END")


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
