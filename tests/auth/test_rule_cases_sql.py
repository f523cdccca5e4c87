"""Each field rule's SQL form (Rule.sql, what the compiled read path runs) decides every case of
tests/auth/rule_cases.py as the case says, evaluated by PostgreSQL on literal rows."""
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from auth.viewer import Viewer
from db.engine import Database
from db.enums import ShareScope
from tests.auth.rule_cases import CASES, Case


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class LiteralTerms:
    """auth.permissions.SqlTerms over one literal row and the viewer's access to its factory."""

    viewer: Viewer
    org: str
    scopes: str
    is_owner: str
    is_auditing_firm: str
    held_by: ShareScope | None
    columns: dict[str, str]

    def column(self, name: str) -> str | None:
        return self.columns.get(name)

    @classmethod
    def of(cls, case: Case) -> "LiteralTerms":
        scopes = ", ".join(literal(scope.value) for scope in sorted(case.access.scopes))
        return cls(case.viewer, literal(case.viewer.organization_id),
                   f"ARRAY[{scopes}]::text[]", literal(case.access.is_owner),
                   literal(case.access.is_auditing_firm), case.held_by,
                   {name: literal(value) for name, value in case.row.items()
                    if name != "proven_self"})


@pytest.mark.parametrize("case", [case for case in CASES if not case.python_only],
                         ids=lambda case: case.name)
async def test_the_rules_sql_form_decides_alike(database: Database, case: Case) -> None:
    condition = case.rule.sql(LiteralTerms.of(case))
    assert condition is not None, "every case's row carries the columns its rule reads"
    async with database.read() as conn:
        assert await conn.scalar(text(f"SELECT {condition}")) is case.allowed, condition
