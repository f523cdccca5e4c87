"""Every place a rule is evaluated reads the same declaration.

- A viewer's access to a factory (visibility, ownership, the firm's link, the connection's
  scopes) comes from auth.access alone: queries (load_access), the compiled read path
  (access_select, scopes_sql) and subscription audiences (load_access_of_viewers) use one
  statement and the row policies of auth.policies; no module restates it in Python.
- A field's rules are one FieldRules object, run by the guard (Python) and compiled by
  resolvers.compiled (SQL).
- Rules only decide: deciding twice changes nothing, and no rule takes the request context.
"""
import ast
import inspect
from pathlib import Path

from sqlalchemy import event, select

from auth import permissions
from auth.access import access_key, load_access, load_access_of_viewers
from auth.viewer import Viewer
from db import Factory, Organization, User
from db.engine import Database
from db.enums import OrganizationKind, Role, ShareScope
from overrides.guards import Guard
from overrides.schema import graphql_schema
from resolvers.compiled.compiler import guard_of
from schema import build_schema
from tests.api.world import matrix_world
from tests.helpers import Cast

ROOT = Path(__file__).resolve().parents[2]
CODE = [p for name in ("app.py", "cli.py", "schema", "resolvers", "web", "overrides", "tasks",
                       "infra", "demo", "auth") for p in
        ((ROOT / name).rglob("*.py") if (ROOT / name).is_dir() else [ROOT / name])]


def calls(path: Path, name: str) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            called = node.func.id if isinstance(node.func, ast.Name) else getattr(
                node.func, "attr", None)
            if called == name:
                return True
    return False


def test_access_is_computed_in_auth_access_only() -> None:
    """FactoryAccess is built, and access rows are read, in auth/access.py only: the
    subscription feeds once rebuilt a factory's visibility in Python beside the SQL policy."""
    for name in ("FactoryAccess", "access_of"):
        found = sorted(str(p.relative_to(ROOT)) for p in CODE if calls(p, name))
        assert found == ["auth/access.py"], name


def test_the_subscription_audience_reads_access_through_auth_access() -> None:
    source = (ROOT / "resolvers" / "subscriptions.py").read_text()
    assert "load_access_of_viewers(" in source


async def viewers(database: Database) -> list[Viewer]:
    async with database.read() as conn:
        rows = (await conn.execute(
            select(User.id, User.role, Organization.id.label("org"), Organization.kind)
            .join(Organization, Organization.id == User.organization_id))).all()
    return [Viewer(row.id, row.org, OrganizationKind(row.kind), Role(row.role)) for row in rows]


async def test_an_audience_gets_the_access_a_query_gets(database: Database, cast: Cast) -> None:
    """For every viewer and factory of the permission matrix's world (owners, the program,
    audit firms assigned or not, customers per scope, pending and revoked connections), the
    subscription audience's access equals the query path's."""
    await matrix_world(database, cast)
    everyone = await viewers(database)
    assert {v.organization_kind for v in everyone} == set(OrganizationKind)
    async with database.read() as conn:
        factory_ids = (await conn.execute(select(Factory.id))).scalars().all()
        for factory_id in factory_ids:
            audience = await load_access_of_viewers(conn, factory_id, everyone)
            for viewer in everyone:
                query = (await load_access(conn, viewer, [factory_id]))[factory_id]
                assert audience[access_key(viewer)] == query, (viewer, factory_id)
    granted = {a.scopes for a in audience.values()}
    assert frozenset() in granted and any(ShareScope.CERTIFICATION in s for s in granted)


def test_the_guard_and_the_compiler_read_one_declaration() -> None:
    core = graphql_schema(build_schema())
    guarded = 0
    for type_ in core.type_map.values():
        for field in getattr(type_, "fields", {}).values() if hasattr(type_, "fields") else ():
            definition = getattr(field, "extensions", {}).get("strawberry-definition")
            guards = [e for e in getattr(definition, "extensions", ()) if isinstance(e, Guard)]
            if guards:
                guarded += 1
                assert guard_of(field) is guards[0].declared
    assert guarded > 50


def test_no_rule_takes_the_request_context() -> None:
    rules = [cls for cls in vars(permissions).values()
             if inspect.isclass(cls) and issubclass(cls, permissions.Rule)]
    assert len(rules) > 10
    for rule in rules:
        assert list(inspect.signature(rule.allows).parameters) == [
            "self", "row", "viewer", "access_to"], rule


async def test_an_audience_costs_one_statement_whatever_the_number_of_organizations(
        database: Database, cast: Cast) -> None:
    """One statement per event, its text the same for 3 listening organizations or 600 of each
    kind: a part per organization (a 1,000-part UNION ALL) cost 1.6 s of CPU per event."""
    await matrix_world(database, cast)
    async with database.read() as conn:
        factory_id = (await conn.execute(select(Factory.id).limit(1))).scalar_one()

    def many(n: int) -> list[Viewer]:
        kinds = [(OrganizationKind.CUSTOMER, Role.CUSTOMER), (OrganizationKind.SUPPLIER,
                 Role.SUPPLIER), (OrganizationKind.AUDIT_FIRM, Role.AUDITOR)]
        return [Viewer(1, 10_000 + 3 * i + k, kind, role) for i in range(n)
                for k, (kind, role) in enumerate(kinds)]

    sent: list[str] = []

    def record(conn: object, cursor: object, statement: str, *rest: object) -> None:
        sent.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with database.read() as conn:
            for n in (1, 200):
                await load_access_of_viewers(conn, factory_id, many(n))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(sent) == 2 and sent[0] == sent[1]
