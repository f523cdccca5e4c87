"""What a viewer may see of each factory: one SQL statement for all factories of a response."""
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Text,
    any_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from auth.policies import connection_is_live, factories_audited_by, visible_factories
from auth.viewer import Viewer
from db import CustomerConnection, Factory
from db.enums import ConnectionStatus, ShareScope

ALL_SCOPES = frozenset(ShareScope)
# An audit firm sees the profile of the factories it audits, and (row-filtered) its own audits.
AUDIT_FIRM_SCOPES = frozenset({ShareScope.PROFILE, ShareScope.AUDITS,
                               ShareScope.CORRECTIVE_ACTIONS})


@dataclass(frozen=True)
class FactoryAccess:
    factory_id: int
    visible: bool
    is_owner: bool
    is_program: bool
    is_auditing_firm: bool
    scopes: frozenset[ShareScope]
    connection_id: int | None

    @property
    def sees_private(self) -> bool:
        """Owner-or-program data: connections, access log, fees."""
        return self.is_owner or self.is_program


NO_ACCESS = frozenset[ShareScope]()


class AccessNotLoaded(Exception):
    """A rule needs the viewer's access to a factory that this request has not loaded yet."""

    def __init__(self, factory_id: int) -> None:
        super().__init__(factory_id)
        self.factory_id = factory_id


def access_select(viewer: Viewer, *laterals: Any, among: Any = None) -> Select[Any]:
    """The columns `access_of` reads, for every factory (correlated to `factories`); more
    laterals on the factory may be outer-joined beside the viewer's connection. With `among`
    (a FROM whose column is the viewer's `organization_id`), one statement answers for many
    organizations of one kind: see `load_access_of_viewers`.

    The compiled read path (resolvers.compiled) selects the same columns for a page of
    factories, with `scopes_sql` as the SQL twin of `access_of`'s scopes.
    """
    org = viewer.organization_id if viewer.organization_id is not None else -1
    latest_connection = (
        select(CustomerConnection.id, CustomerConnection.granted_scopes,
               connection_is_live().label("live"))
        .where(CustomerConnection.factory_id == Factory.id, CustomerConnection.customer_id == org)
        # The live connection first, else the most recent one.
        .order_by(CustomerConnection.status.in_([ConnectionStatus.PENDING.value,
                                                 ConnectionStatus.ACCEPTED.value]).desc(),
                  CustomerConnection.requested_at.desc())
        .limit(1)
        .lateral("conn")
    )
    audits_it = factories_audited_by(org) if viewer.is_audit_firm else literal(False)
    joined = Factory.__table__ if among is None else among.join(Factory.__table__, true())
    if viewer.is_customer:  # only a customer's access reads its connection
        joined = joined.outerjoin(latest_connection, true())
        connection = [latest_connection.c.id.label("connection_id"),
                      latest_connection.c.granted_scopes, latest_connection.c.live]
    else:
        connection = [cast(null(), BigInteger).label("connection_id"),
                      cast(null(), ARRAY(Text)).label("granted_scopes"),
                      literal(False).label("live")]
    for lateral in laterals:
        joined = joined.outerjoin(lateral, true())
    return (
        select(Factory.id, Factory.supplier_id, visible_factories(viewer).label("visible"),
               audits_it.label("audits_it"), *connection)
        .select_from(joined)
    )


def _statement(viewer: Viewer, factory_ids: list[int]) -> Select[Any]:
    return (
        access_select(viewer)
        # = ANY(array): one SQL text whatever the number of ids, so asyncpg's prepared
        # statement is reused (an expanding IN makes a new statement per count).
        .where(Factory.id == any_(bindparam("factory_ids", factory_ids,
                                            type_=ARRAY(BigInteger))))
    )


def access_of(viewer: Viewer, row: Any) -> FactoryAccess:
    """The access a row of `_statement`'s shape grants (subscription feeds build such rows too)."""
    is_owner = viewer.is_supplier and row.supplier_id == viewer.organization_id
    if viewer.is_program or is_owner:
        scopes = ALL_SCOPES
    elif viewer.is_audit_firm and row.audits_it:
        scopes = AUDIT_FIRM_SCOPES
    elif viewer.is_customer and row.live:
        scopes = frozenset(ShareScope(s) for s in row.granted_scopes)
    else:
        scopes = NO_ACCESS
    return FactoryAccess(
        factory_id=row.id, visible=bool(row.visible), is_owner=is_owner,
        is_program=viewer.is_program, is_auditing_firm=bool(row.audits_it), scopes=scopes,
        connection_id=row.connection_id if viewer.is_customer else None,
    )


def scopes_sql(viewer: Viewer, row: Any) -> ColumnElement[Any]:
    """`access_of`'s scopes in SQL (a text[]), over `access_select`'s columns `row`."""
    def scopes(found: frozenset[ShareScope]) -> ColumnElement[Any]:
        return cast(literal(sorted(s.value for s in found), ARRAY(Text)), ARRAY(Text))

    if viewer.is_program:
        return scopes(ALL_SCOPES)
    if viewer.is_supplier:
        return case((row.supplier_id == viewer.organization_id, scopes(ALL_SCOPES)),
                    else_=scopes(NO_ACCESS))
    if viewer.is_audit_firm:
        return case((row.audits_it, scopes(AUDIT_FIRM_SCOPES)), else_=scopes(NO_ACCESS))
    if viewer.is_customer:
        return case((row.live, row.granted_scopes), else_=scopes(NO_ACCESS))
    return scopes(NO_ACCESS)


def is_owner_sql(viewer: Viewer, row: Any) -> ColumnElement[bool]:
    """`access_of`'s is_owner in SQL."""
    if viewer.is_supplier:
        owner: ColumnElement[bool] = row.supplier_id == viewer.organization_id
        return owner
    return literal(False)


def _anonymous(factory_id: int) -> FactoryAccess:
    return FactoryAccess(factory_id, visible=False, is_owner=False, is_program=False,
                         is_auditing_firm=False, scopes=NO_ACCESS, connection_id=None)


async def load_access_of_viewers(conn: AsyncConnection, factory_id: int,
                                 viewers: Iterable[Viewer]) -> dict[Any, FactoryAccess]:
    """Each viewer's access to one factory, keyed by `access_key(viewer)`: the statement of
    `load_access` for every kind of viewer at once (one round trip), so a subscription's
    audience is decided by the same row policies and connection rule as a query.

    Viewers of one shape (organization kind, program or not) share one `access_select` whose
    organization is a column of an unnested array: the statement's size and SQL text depend on
    the shapes present (a handful), not on the number of organizations listening (thousands).
    """
    kinds = list({access_key(viewer): viewer for viewer in viewers}.items())
    if not kinds:
        return {}
    shapes: dict[tuple[Any, ...], list[int]] = {}
    for n, (_, viewer) in enumerate(kinds):
        shapes.setdefault(_shape(viewer), []).append(n)
    parts = [_access_of_shape(factory_id, [kinds[n][1] for n in ns], ns, i)
             for i, ns in enumerate(shapes.values())]
    statement = parts[0] if len(parts) == 1 else union_all(*parts)
    result = {key: _anonymous(factory_id) for key, _ in kinds}
    for row in (await conn.execute(statement)).all():
        key, viewer = kinds[row.kind_n]
        result[key] = access_of(viewer, row)
    return result


def _shape(viewer: Viewer) -> tuple[Any, ...]:
    """What `access_select`'s SQL depends on besides the organization's id."""
    return (viewer.organization_kind, viewer.is_program, viewer.organization_id is None)


def _access_of_shape(factory_id: int, viewers: list[Viewer], ns: list[int],
                     i: int) -> Select[Any]:
    """`access_select` for viewers of one shape, each row labelled with its viewer's index."""
    if viewers[0].organization_id is None:  # anonymous: one viewer, no organization to vary
        return (access_select(viewers[0]).add_columns(literal(ns[0]).label("kind_n"))
                .where(Factory.id == factory_id))
    who = func.unnest(
        bindparam(f"orgs_{i}", [v.organization_id for v in viewers], type_=ARRAY(BigInteger)),
        bindparam(f"ns_{i}", ns, type_=ARRAY(Integer)),
    ).table_valued(column("org", BigInteger), column("n", Integer)).render_derived(
        name=f"who_{i}")
    # a symbolic viewer: its organization is the column the statement varies over
    template = replace(viewers[0], organization_id=who.c.org)  # type: ignore[arg-type]
    return (access_select(template, among=who).add_columns(who.c.n.label("kind_n"))
            .where(Factory.id == factory_id))


def access_key(viewer: Viewer) -> tuple[Any, ...]:
    """What a viewer's access to a factory depends on: its organization, that one's kind, and
    whether its role is the program's."""
    return (viewer.organization_id, viewer.organization_kind, viewer.is_program)


async def load_access(conn: AsyncConnection, viewer: Viewer,
                      factory_ids: Iterable[int]) -> dict[int, FactoryAccess]:
    """The viewer's access to each factory. Unknown ids map to no access."""
    ids = sorted(set(factory_ids))
    result = {fid: _anonymous(fid) for fid in ids}
    rows = (await conn.execute(_statement(viewer, ids))).all()
    result.update({row.id: access_of(viewer, row) for row in rows})
    return result
