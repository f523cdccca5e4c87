"""The compiler: a validated query operation and a viewer kind in, one SQL statement out.

The statement returns the whole response's `data` as JSON built by PostgreSQL. Row policies
(auth.policies) and the access computation (auth.access) are rendered into it as they are; each
guarded field's rules say what they decide in SQL (auth.permissions.Rule.sql), so a denied field
is null in the JSON and its object carries a `$d` list naming the denials, from which Python
builds the same errors as the resolver path. A customer's reads are written to the access log by
a data-modifying CTE of the same statement. Anything the compiler does not know raises
Unsupported, and the operation runs on the resolver path.
"""
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from itertools import count
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    SourceLocation,
    get_named_type,
)
from sqlalchemy import column, false, func, literal_column, or_, select, table, text
from sqlalchemy.sql.util import ClauseAdapter

from auth import policies
from auth.access import access_select, is_owner_sql, scopes_sql
from auth.permissions import TRUE, FieldRules, Rule
from auth.viewer import Viewer
from db import Base, Factory
from db.enums import ShareScope
from db.queries import certification_columns, certification_status_of
from resolvers.compiled.objects import (
    NODE_SOURCES,
    OBJECTS,
    OWNED_FACTORIES,
    SAME_FACTORY,
    ObjectSql,
    Relation,
    knows_sql,
    viewer_spec,
)
from resolvers.compiled.pages import page, page_info
from resolvers.compiled.selection import CURSOR, SIGNED, Unsupported, Walk, collect, merged
from resolvers.compiled.sqltext import Params, param, quote, render

MAX_PAIRS = 48  # json_build_object takes at most 100 arguments


@dataclass(frozen=True)
class Denial:
    key: str
    node: FieldNode
    rule: Rule

    @cached_property
    def locations(self) -> list[SourceLocation] | None:
        loc = self.node.loc
        return [loc.source.get_location(loc.start)] if loc and loc.source else None

    @cached_property
    def formatted_locations(self) -> list[dict[str, int]] | None:
        found = self.locations
        return None if found is None else [dict(location.formatted) for location in found]


@dataclass(frozen=True)
class ArgSite:
    """A field whose arguments become parameters `{prefix}_…` (resolvers.compiled.run)."""

    kind: str
    prefix: str
    field_def: Any
    node: FieldNode


@dataclass
class Plan:
    sql: str
    params: list[str]
    sites: list[ArgSite]
    denials: list[Denial]
    walk: Walk


def symbolic_viewer(viewer: Viewer) -> Viewer:
    """The viewer's kind with its ids as parameters: one plan serves every viewer of a kind."""
    if not viewer.is_authenticated:
        return viewer
    return Viewer(user_id=param("uid"), organization_id=param("org"),
                  organization_kind=viewer.organization_kind, role=viewer.role)


def kind_of(viewer: Viewer) -> tuple[Any, ...]:
    return (viewer.is_authenticated, viewer.organization_kind, viewer.role)


def guard_of(field_def: Any) -> FieldRules | None:
    """The rules declared on a field (overrides.guards.Guard holds them as `declared`)."""
    definition = field_def.extensions.get("strawberry-definition")
    for extension in getattr(definition, "extensions", None) or ():
        declared = getattr(extension, "declared", None)
        if isinstance(declared, FieldRules):
            return declared
    return None


# ---------------------------------------------------------------- SQL terms for rules

@dataclass
class Terms:
    """auth.permissions.SqlTerms over the factory access row `p` and an object's columns."""

    viewer: Viewer
    columns: dict[str, str]
    org: str = "«org»"
    scopes: str = "p.scopes"
    is_owner: str = "p.is_owner"
    is_auditing_firm: str = "p.audits_it"
    held_by: ShareScope | None = None

    def column(self, name: str) -> str | None:
        return self.columns.get(name)


# ---------------------------------------------------------------- the compiler

@dataclass(frozen=True)
class Known:
    """What holds below a field: the scopes a customer's read was logged under on the way
    down, and the rule decisions (SQL) already allowed by ancestors, which need no re-check."""

    reads: frozenset[str]
    granted: frozenset[str]
    top: bool = False  # the fields of a root factory, whose reads `factory_reads` logs

    def below(self, reads: frozenset[str] = frozenset(),
              granted: frozenset[str] = frozenset()) -> "Known":
        return Known(self.reads | reads, self.granted | granted)


@dataclass(frozen=True)
class At:
    """Where an object sits in the statement: its table alias, its parent's, and the columns
    its rules read there."""

    alias: str
    parent: str
    columns: dict[str, str]
    args: str = ""  # the prefix of the relation's argument parameters
    held_by: ShareScope | None = None  # a document: the scope of the field holding it

    def format(self, template: str) -> str:
        return template.format(t=self.alias, up=self.parent, a=self.args)

    def taking(self, args: str) -> "At":
        return At(self.alias, self.parent, self.columns, args, self.held_by)

    def child(self, alias: str, relation: Relation, spec: ObjectSql) -> "At":
        at = At(alias, self.alias, {})
        columns = {name: at.format(sql) for name, sql in spec.rule_columns.items()}
        for name, sql in relation.columns.items():
            columns[name] = self.columns.get(sql[1:], "NULL") if sql.startswith("^") \
                else at.format(sql)
        return At(alias, self.alias, columns, held_by=relation.held_by)


FACTORY_ROW = At("p", "p", {})


@dataclass
class Compiler:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    viewer: Viewer
    params: Params = field(default_factory=Params)
    denials: list[Denial] = field(default_factory=list)
    ctes: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)  # SQL selecting (id, scope) pairs read
    aliases: Iterator[int] = field(default_factory=count)
    nested_reads: bool = False  # some object carries `$r` reads
    sites: list[ArgSite] = field(default_factory=list)

    def arguments(self, kind: str, field_def: Any, node: FieldNode) -> str:
        """Register a field's arguments; returns the prefix of their parameters."""
        prefix = f"a{len(self.sites)}"
        self.sites.append(ArgSite(kind, prefix, field_def, node))
        return prefix

    def object(self, type_: GraphQLObjectType, selection: SelectionSetNode, known: "Known",
               at: "At", spec: ObjectSql | None = None,
               interfaces: frozenset[str] = frozenset()) -> tuple[str, Walk]:
        """A json_build_object of the selected fields of one object, with its `$d` list."""
        spec = spec or OBJECTS.get(type_.name)
        if spec is None:
            raise Unsupported(f"type {type_.name}")
        terms = Terms(self.viewer, at.columns, held_by=at.held_by)
        pairs, denied, reads, walk = [], [], [], Walk()
        for key, nodes in collect(selection, self.fragments, type_.name,
                                  interfaces=interfaces).items():
            value, denial, child = self.field(type_, spec, key, nodes, terms, known, at, reads)
            pairs.append(f"{quote(key)}, {value}")
            if denial:
                denied.append(denial)
            if child or child is CURSOR:
                walk.children[key] = child
            if nodes[0].name.value in spec.signed:
                walk.children[key] = SIGNED
        walk.denied, walk.reads = bool(denied), bool(reads)
        if denied:
            pairs.append(f"'$d', to_json(NULLIF(array_remove(ARRAY[{', '.join(denied)}]"
                         f"::int[], NULL), '{{}}'))")
        if reads:  # collected by the access-log CTE (see _assemble)
            self.nested_reads = True
            pairs.append(f"'$r', json_build_object('f', p.id, 's', "
                         f"to_json(array_remove(ARRAY[{', '.join(reads)}]::text[], NULL)))")
        if len(pairs) > MAX_PAIRS:
            raise Unsupported("too many fields in one object")
        return f"json_build_object({', '.join(pairs)})", walk

    def field(self, type_: GraphQLObjectType, spec: ObjectSql, key: str, nodes: list[FieldNode],
              terms: Terms, known: "Known", at: "At", reads: list[str]
              ) -> tuple[str, str | None, Walk]:
        name = nodes[0].name.value
        if name == "__typename":
            return quote(type_.name), None, Walk()
        field_def = type_.fields.get(name)
        relation = spec.relations.get(name)
        takes = relation is not None and (relation.page or relation.where
                                          or relation.source == OWNED_FACTORIES)
        if field_def is None or (any(node.arguments for node in nodes) and not takes):
            raise Unsupported(f"{type_.name}.{name} with arguments")
        guard = guard_of(field_def)
        if guard is None:
            value, walk = self.value(type_, spec, name, field_def, nodes, known.below(), at)
            return value, None, walk
        if isinstance(field_def.type, GraphQLNonNull):
            raise Unsupported(f"{type_.name}.{name} is guarded but non-null")
        checks = []
        for rule in guard.rules:
            decision = rule.sql(terms)
            if decision is None:
                raise Unsupported(f"{type_.name}.{name}: {type(rule).__name__} has no SQL form")
            reads.extend(self._nested_read(rule, terms, decision, known))
            if decision in known.granted or decision == TRUE:
                continue  # an ancestor's identical check already allowed it
            self.denials.append(Denial(key, nodes[0], rule.denial(terms)))
            checks.append((f"coalesce({decision}, false)", len(self.denials) - 1, decision))
        inner = known.below(self._scopes_read(guard, terms),
                            frozenset(d for _, _, d in checks))
        value, walk = self.value(type_, spec, name, field_def, nodes, inner, at)
        if not checks:
            return value, None, walk
        allowed = " AND ".join(check for check, _, _ in checks)
        cases = " ".join(f"WHEN NOT {check} THEN {n}" for check, n, _ in checks)
        return f"CASE WHEN {allowed} THEN {value} END", f"CASE {cases} END", walk

    def _scopes_read(self, guard: FieldRules | None, terms: Terms) -> frozenset[str]:
        if guard is None or not self.viewer.is_customer:
            return frozenset()
        scopes = (rule.read_scope(terms) for rule in guard.rules)
        return frozenset(scope.value for scope in scopes if scope is not None)

    def _nested_read(self, rule: Rule, terms: Terms, decision: str, known: Known) -> list[str]:
        """A customer's read that no ancestor logged (a scope other than theirs, below the
        factory's own fields): logged from the object's `$r` when the rule allows it."""
        scope = rule.read_scope(terms)
        if (not self.viewer.is_customer or scope is None or known.top
                or scope.value in known.reads):
            return []
        return [f"CASE WHEN coalesce({decision}, false) THEN {quote(scope.value)} END"]

    def value(self, type_: GraphQLObjectType, spec: ObjectSql, name: str, field_def: Any,
              nodes: list[FieldNode], known: "Known", at: "At") -> tuple[str, Walk]:
        leaf = spec.leaves.get(name)
        if leaf is not None:
            if any(node.selection_set for node in nodes):
                raise Unsupported(f"{type_.name}.{name}")
            return at.format(leaf), Walk()
        relation = spec.relations.get(name)
        if relation is None:
            raise Unsupported(f"{type_.name}.{name}")
        child = get_named_type(field_def.type)
        assert isinstance(child, GraphQLObjectType)
        if relation.source == SAME_FACTORY:
            inner, walk = self.object(child, merged(nodes), known, FACTORY_ROW)
            # factory_by_id reads the factory through the visibility policy
            return (inner if child.name != "Factory" else
                    f"CASE WHEN p.visible THEN {inner} END"), walk
        if relation.source == OWNED_FACTORIES:
            return _factories(self, ArgSite("ownedFactories", self.arguments(
                "ownedFactories", field_def, nodes[0]), field_def, nodes[0]), owned=True)
        if relation.enters:  # another factory's access row: nothing known above holds for it
            known = Known(frozenset(), frozenset())
        if relation.page:
            return page(self, relation, child, nodes, known, at, field_def)
        below = at.child(f"t{next(self.aliases)}", relation, OBJECTS[child.name])
        if relation.where:
            below = below.taking(self.arguments("filter", field_def, nodes[0]))
            self.params.add(f"{below.args}_status", "text")
        inner, walk = self.object(child, merged(nodes), known, below)
        return self.relation(relation, inner, below), walk

    def source(self, relation: Relation, at: "At") -> str:
        """The relation's FROM … WHERE …, with its row policy and argument filter; a relation
        to objects of other factories joins each row's factory access as `p`."""
        source = at.format(relation.source)
        if relation.enters:
            row = self.factory_select([Factory.id == literal_column(at.format(relation.enters))])
            source = source.replace(" WHERE ", f" CROSS JOIN LATERAL ({row}) p WHERE ", 1)
        if relation.policy is not None:
            function, table_name, *alias = relation.policy
            aliased = Base.metadata.tables[table_name].alias(
                at.format(alias[0]) if alias else at.alias)
            policy = getattr(policies, function)(self.viewer)
            # Parenthesized: a policy may be an OR, and AND binds tighter.
            source += f" AND ({render(ClauseAdapter(aliased).traverse(policy))})"
        if relation.where:
            source += f" AND ({at.format(relation.where)})"
        return source

    def relation(self, relation: Relation, inner: str, at: "At") -> str:
        source = self.source(relation, at)
        order = f" ORDER BY {at.format(relation.order)}" if relation.order else ""
        if relation.many:
            return f"(SELECT coalesce(json_agg({inner}{order}), '[]') FROM {source})"
        limit = " LIMIT 1" if relation.order else ""
        return f"(SELECT {inner} FROM {source}{order}{limit})"

    # ------------------------------------------------------------ factories

    def factory_rows(self, prefix: str, where: list[Any], tail: str = "") -> str:
        """A CTE of factories with the viewer's access to each (auth.access, as it is)."""
        self.ctes.append(f"{prefix}_rows AS ({self.factory_select(where, tail)})")
        return f"{prefix}_rows"

    def factory_select(self, where: list[Any], tail: str = "") -> str:
        """Factories with their certification and the viewer's access to each."""
        certificate, certification = certification_columns(Factory.id)
        columns = [Factory.name, Factory.country, Factory.city, Factory.product_categories,
                   Factory.listed, Factory.address, Factory.worker_count, Factory.contact_email,
                   *certification]
        inner = render(access_select(self.viewer, certificate).add_columns(*columns)
                       .where(*where))
        a = table("a", *(column(c) for c in ("supplier_id", "audits_it", "live",
                                             "granted_scopes")))
        scopes = render(scopes_sql(self.viewer, a.c))
        owner = render(is_owner_sql(self.viewer, a.c))
        return f"SELECT a.*, {scopes} AS scopes, {owner} AS is_owner FROM ({inner}{tail}) a"

    def factory_json(self, type_: GraphQLObjectType, nodes: list[FieldNode],
                     interfaces: frozenset[str] = frozenset()) -> tuple[str, Walk]:
        return self.object(type_, merged(nodes), Known(frozenset(), frozenset(), top=True),
                           FACTORY_ROW, interfaces=interfaces)

    def factory_reads(self, rows: str, type_: GraphQLObjectType, nodes: list[FieldNode],
                      interfaces: frozenset[str] = frozenset()) -> None:
        """The scopes a customer reads of each factory shown: those of the factory's guarded
        fields it selects, where the factory grants them (nested fields read no other scope,
        see _check_reads)."""
        if not self.viewer.is_customer:
            return
        read: set[str] = set()
        for child in collect(merged(nodes), self.fragments, type_.name,
                             interfaces=interfaces).values():
            field_def = type_.fields.get(child[0].name.value)
            if field_def is not None:
                read |= self._scopes_read(guard_of(field_def), Terms(self.viewer, {}))
        if read:
            scopes = ", ".join(quote(s) for s in sorted(read))
            self.reads.append(f"SELECT p.id, s FROM {rows} p, unnest(ARRAY[{scopes}]) s "
                              f"WHERE s = ANY(p.scopes)")


def _factories(c: Compiler, root: ArgSite, owned: bool = False) -> tuple[str, Walk]:
    """Query.factories, or with `owned` Viewer.factories (a supplier's own)."""
    p, v, add = root.prefix, c.viewer, c.params.add
    search, country = add(f"{p}_search", "text"), add(f"{p}_country", "text")
    status, connected = add(f"{p}_status", "text"), add(f"{p}_connected", "boolean")
    first, has_after = add(f"{p}_first", "int"), add(f"{p}_has_after", "boolean")
    after_name, after_id = add(f"{p}_after_name", "text"), add(f"{p}_after_id", "bigint")
    # resolvers.factory's filters, with absent ones as NULL parameters: one plan for all.
    connected_to = policies.factories_connected_to(v.organization_id) if v.is_customer \
        else false()
    where = [
        policies.visible_factories(v),
        text(f"({search} IS NULL OR factories.name ILIKE {search} "
             f"OR factories.city ILIKE {search})"),
        text(f"({country} IS NULL OR factories.country = {country})"),
        or_(text(f"{status} IS NULL"),
            certification_status_of(Factory.id) == literal_column(status)),
        or_(text(f"NOT {connected}"), connected_to),
    ]
    if owned:
        where.append(Factory.supplier_id == v.organization_id if v.is_supplier else false())
    keyset = text(f"({after_name} IS NULL OR (factories.name, factories.id) > "
                  f"({after_name}, {after_id}))")
    # The keyset page first, from cheap columns; access and certification then for its rows
    # only (LATERAL joins over the whole filtered table would run before the LIMIT).
    ids = render(select(Factory.id).where(*where, keyset)
                 .order_by(Factory.name, Factory.id))
    c.ctes.append(f"{p}_ids AS ({ids} LIMIT {first} + 1)")
    rows = c.factory_rows(p, [Factory.id == func.any(
        literal_column(f"ARRAY(SELECT id FROM {p}_ids)"))])
    c.ctes.append(f"{p}_page AS (SELECT * FROM {rows} ORDER BY name, id LIMIT {first})")
    page = f"{p}_page"
    connection = get_named_type(root.field_def.type)
    factory_type = c.schema.get_type("Factory")
    assert isinstance(connection, GraphQLObjectType)
    assert isinstance(factory_type, GraphQLObjectType)
    cursor = "json_build_array(p.name, p.id)"
    pairs, shown, walk = [], [], Walk()
    for key, nodes in collect(merged([root.node]), c.fragments, connection.name).items():
        name = nodes[0].name.value
        if name == "__typename":
            value = quote(connection.name)
        elif name == "totalCount":
            value = f"({render(select(func.count()).select_from(Factory).where(*where))})"
        elif name == "pageInfo":
            value, walk.children[key] = _page_info(c, nodes, rows, page, first, has_after,
                                                   cursor)
        elif name == "nodes":
            shown.extend(nodes)
            node, walk.children[key] = c.factory_json(factory_type, nodes)
            value = f"(SELECT coalesce(json_agg({node} ORDER BY p.name, p.id), '[]') FROM {page} p)"
        elif name == "edges":
            value, walk.children[key] = _edges(c, nodes, page, factory_type, cursor, shown)
        else:
            raise Unsupported(f"{connection.name}.{name}")
        pairs.append(f"{quote(key)}, {value}")
    if shown:
        c.factory_reads(page, factory_type, shown)
    return f"json_build_object({', '.join(pairs)})", walk


def _page_info(c: Compiler, nodes: list[FieldNode], rows: str, page: str, first: str,
               has_after: str, cursor: str) -> tuple[str, Walk]:
    return page_info(c, nodes, {
        "hasNextPage": f"(SELECT count(*) FROM {rows.replace('_rows', '_ids')}) > {first}",
        "hasPreviousPage": has_after,
        "startCursor": f"(SELECT {cursor} FROM {page} p ORDER BY p.name, p.id LIMIT 1)",
        "endCursor": f"(SELECT {cursor} FROM {page} p ORDER BY p.name DESC, p.id DESC LIMIT 1)",
        "__typename": "'PageInfo'",
    })


def _edges(c: Compiler, nodes: list[FieldNode], page: str, factory_type: GraphQLObjectType,
           cursor: str, shown: list[FieldNode]) -> tuple[str, Walk]:
    pairs, walk = [], Walk()
    for key, fields in collect(merged(nodes), c.fragments, "FactoryEdge").items():
        name = fields[0].name.value
        if name == "cursor":
            value, walk.children[key] = cursor, CURSOR
        elif name == "node":
            shown.extend(fields)
            value, walk.children[key] = c.factory_json(factory_type, fields)
        elif name == "__typename":
            value = "'FactoryEdge'"
        else:
            raise Unsupported(f"FactoryEdge.{name}")
        pairs.append(f"{quote(key)}, {value}")
    return (f"(SELECT coalesce(json_agg(json_build_object({', '.join(pairs)}) "
            f"ORDER BY p.name, p.id), '[]') FROM {page} p)"), walk


def _factory(c: Compiler, root: ArgSite,
             interfaces: frozenset[str] = frozenset()) -> tuple[str, Walk]:
    pk = c.params.add(f"{root.prefix}_id", "bigint")
    where = [Factory.id == literal_column(pk), policies.visible_factories(c.viewer)]
    rows = c.factory_rows(root.prefix, where)
    factory_type = c.schema.get_type("Factory")
    assert isinstance(factory_type, GraphQLObjectType)
    c.factory_reads(rows, factory_type, [root.node], interfaces)
    node, walk = c.factory_json(factory_type, [root.node], interfaces)
    return f"(SELECT {node} FROM {rows} p)", walk


def _flat(c: Compiler, type_name: str, node: FieldNode, leaves: dict[str, str]) -> str:
    """A json_build_object of an object whose fields are all plain SQL values."""
    pairs = []
    for key, fields in collect(merged([node]), c.fragments, type_name).items():
        name = fields[0].name.value
        value = quote(type_name) if name == "__typename" else leaves.get(name)
        if value is None:
            raise Unsupported(f"{type_name}.{name}")
        pairs.append(f"{quote(key)}, {value}")
    return f"json_build_object({', '.join(pairs)})"


_SEEN_STATUS = ("CASE WHEN c.status = 'ACTIVE' AND current_date > c.valid_until THEN 'EXPIRED' "
                "ELSE c.status END")


def _verify_certificate(c: Compiler, root: ArgSite) -> tuple[str, Walk]:
    """resolvers.verification.certificate."""
    number = c.params.add(f"{root.prefix}_number", "text")
    answer = _flat(c, "CertificateVerification", root.node, {
        "number": "c.number", "valid": f"({_SEEN_STATUS}) = 'ACTIVE'", "status": _SEEN_STATUS,
        "factoryName": "f.name", "country": "f.country", "validUntil": "c.valid_until"})
    return (f"(SELECT {answer} FROM certificates c JOIN factories f ON f.id = c.factory_id "
            f"WHERE c.number = {number} LIMIT 1)"), Walk()


def _verify_auditor(c: Compiler, root: ArgSite) -> tuple[str, Walk]:
    """resolvers.verification.auditor."""
    number = c.params.add(f"{root.prefix}_number", "text")
    answer = _flat(c, "AuditorVerification", root.node, {
        "registrationNumber": "a.registration_number", "name": "a.name", "auditFirm": "o.name",
        "active": "(a.active AND o.active)"})
    return (f"(SELECT {answer} FROM auditors a JOIN organizations o ON o.id = a.audit_firm_id "
            f"WHERE upper(a.registration_number) = {number} LIMIT 1)"), Walk()


def _audit_firms(c: Compiler, root: ArgSite) -> tuple[str, Walk]:
    """resolvers.verification.audit_firms: public."""
    organization = c.schema.get_type("Organization")
    assert isinstance(organization, GraphQLObjectType)
    at = At(f"t{next(c.aliases)}", "p", {})
    inner, walk = c.object(organization, merged([root.node]), Known(frozenset(), frozenset()),
                           at)
    return (f"(SELECT coalesce(json_agg({inner} ORDER BY {at.alias}.name), '[]') "
            f"FROM organizations {at.alias} WHERE {at.alias}.kind = 'AUDIT_FIRM' "
            f"AND {at.alias}.active)"), walk


def _viewer(c: Compiler, root: ArgSite) -> tuple[str, Walk]:
    """Query.viewer: null when not signed in; the viewer's own user, organization, factories
    (suppliers) and connections (customers and suppliers)."""
    if not c.viewer.is_authenticated:
        return "NULL::json", Walk()
    viewer_type = get_named_type(root.field_def.type)
    assert isinstance(viewer_type, GraphQLObjectType)
    c.params.add("uid", "bigint")
    spec = viewer_spec(c.viewer)
    return c.object(viewer_type, merged([root.node]), Known(frozenset(), frozenset()),
                    At("v", "v", {}), spec)


def _node(c: Compiler, root: ArgSite, type_name: str | None) -> tuple[str, Walk]:
    """Query.node for an id of `type_name` (the plan is made per decoded type): the object
    through its loader's row policy, and only where schema.node says the viewer may know it."""
    if type_name == "Factory":
        return _factory(c, root, interfaces=frozenset({"Node"}))
    found = NODE_SOURCES.get(type_name or "")
    if found is None:  # not one of our ids: null, as an id that does not exist
        return "NULL::json", Walk()
    pk = c.params.add(f"{root.prefix}_id", "bigint")
    type_ = c.schema.get_type(found.type_name)
    assert isinstance(type_, GraphQLObjectType)
    at = FACTORY_ROW.child(f"t{next(c.aliases)}", found, OBJECTS[found.type_name])
    source = c.source(found, at).replace("«id»", pk)
    if found.enters:  # schema.node: who may know an object of a factory by its id
        source += f" AND ({knows_sql(type_name or '', c.viewer)})"
    elif type_name == "Document":  # by id: the uploading organization and the program
        source += (" AND TRUE" if c.viewer.is_program else " AND FALSE"
                   if c.viewer.organization_id is None else f" AND {at.alias}.organization_id = «org»")
    inner, walk = c.object(type_, merged([root.node]), Known(frozenset(), frozenset()), at,
                           interfaces=frozenset({"Node"}))
    return f"(SELECT {inner} FROM {source} LIMIT 1)", walk


ROOTS = {"viewer": _viewer, "factories": _factories, "factory": _factory, "verifyCertificate": _verify_certificate,
         "verifyAuditor": _verify_auditor, "auditFirms": _audit_firms}


def compile_operation(schema: GraphQLSchema, operation: OperationDefinitionNode,
                      fragments: dict[str, FragmentDefinitionNode], viewer: Viewer,
                      node_types: dict[str, str | None] | None = None) -> Plan:
    """The plan of a query operation; `node_types` gives, by response key, the type each
    node(id:) root field's id decodes to (plans are made per decoded type)."""
    if operation.operation is not OperationType.QUERY:
        raise Unsupported(f"{operation.operation.value} operations")
    compiler = Compiler(schema, fragments, symbolic_viewer(viewer))
    query_type = schema.query_type
    assert query_type is not None
    pairs, walk = [], Walk()
    for n, (key, nodes) in enumerate(collect(operation.selection_set, fragments,
                                             query_type.name).items()):
        name = nodes[0].name.value
        if name == "__typename":
            pairs.append(f"{quote(key)}, 'Query'")
            continue
        build = ROOTS.get(name)
        if name == "node" and node_types is not None and key in node_types:
            def build(c: Compiler, r: ArgSite, t: str | None = node_types[key]) -> Any:
                return _node(c, r, t)
        if build is None or len(nodes) > 1:
            raise Unsupported(f"Query.{name}")
        root = ArgSite(name, compiler.arguments(name, query_type.fields[name], nodes[0]),
                       query_type.fields[name], nodes[0])
        value, child = build(compiler, root)
        if child or child is CURSOR:
            walk.children[key] = child
        pairs.append(f"{quote(key)}, {value}")
    return _assemble(compiler, pairs, walk)


def _assemble(c: Compiler, pairs: list[str], walk: Walk) -> Plan:
    ctes = list(c.ctes)
    answer = f"json_build_object({', '.join(pairs)})"
    reads = list(c.reads)
    if c.nested_reads:
        # Reads below other scopes sit in the answer as `$r` objects: collected from it.
        ctes.append(f"answer AS (SELECT {answer} AS body)")
        answer = "(SELECT body FROM answer)"
        reads.append("SELECT (r->>'f')::bigint, s FROM answer, "
                     "jsonb_path_query(answer.body::jsonb, 'strict $.**.\"$r\"') r, "
                     "jsonb_array_elements_text(r->'s') s")
    if reads:
        org, key = c.params.add("org", "bigint"), c.params.add("key", "bigint")
        ctes.append(f"logged AS (INSERT INTO access_log (factory_id, organization_id, scope, "
                    f"api_key_id) SELECT DISTINCT r.id, {org}, r.s, {key} "
                    f"FROM ({' UNION '.join(reads)}) r(id, s))")
    with_ = f"WITH {', '.join(ctes)} " if ctes else ""
    body = f"{with_}SELECT {answer}::text"
    c.params.types.setdefault("org", "bigint")
    c.params.types.setdefault("uid", "bigint")
    sql, names = c.params.finish(body)
    return Plan(sql, names, c.sites, c.denials, walk)
