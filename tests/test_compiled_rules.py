"""One source of truth for who sees what: every guarded field reachable from Query says what its
rules decide in SQL too (auth.permissions.Rule.sql), for every kind of viewer, or is listed as
answered by the resolver path (resolvers.compiled.objects.RESOLVER_ONLY) with its reason."""
from graphql import GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema, get_named_type

from auth.viewer import Viewer
from db.enums import OrganizationKind, Role
from resolvers.certification_rules import REPORT_WORKING_DAYS as RULES_REPORT_DAYS
from resolvers.compiled.compiler import At, Terms, guard_of, symbolic_viewer
from resolvers.compiled.objects import OBJECTS, REPORT_WORKING_DAYS, RESOLVER_ONLY
from schema import build_schema

VIEWERS = [Viewer()] + [
    symbolic_viewer(Viewer(1, 1, kind, role)) for kind, role in (
        (OrganizationKind.CUSTOMER, Role.CUSTOMER), (OrganizationKind.SUPPLIER, Role.SUPPLIER),
        (OrganizationKind.AUDIT_FIRM, Role.AUDITOR), (OrganizationKind.PROGRAM, Role.REVIEWER),
        (OrganizationKind.PROGRAM, Role.ADMIN))]


def reachable_types(schema: GraphQLSchema) -> list[GraphQLObjectType]:
    seen: dict[str, GraphQLObjectType] = {}
    todo: list = [schema.query_type]
    while todo:
        found = todo.pop()
        if found.name in seen:
            continue
        if isinstance(found, GraphQLInterfaceType):
            todo.extend(schema.get_implementations(found).objects)
            continue
        seen[found.name] = found
        for field in found.fields.values():
            named = get_named_type(field.type)
            if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
                todo.append(named)
    return list(seen.values())


def _resolver_only(type_name: str, field_name: str) -> bool:
    return f"{type_name}.{field_name}" in RESOLVER_ONLY or f"{type_name}.*" in RESOLVER_ONLY


def test_every_guarded_field_reachable_from_query_has_a_sql_form_or_is_marked() -> None:
    schema = build_schema()._schema
    missing = []
    for type_ in reachable_types(schema):
        spec = OBJECTS.get(type_.name)
        for name, field in type_.fields.items():
            guard = guard_of(field)
            if guard is None or _resolver_only(type_.name, name):
                continue
            if spec is None or (name not in spec.leaves and name not in spec.relations):
                missing.append(f"{type_.name}.{name}: not compiled")
                continue
            at = At("t0", "p", {k: v.format(t="t0", up="p") for k, v in spec.rule_columns.items()})
            for viewer in VIEWERS:
                for rule in guard.rules:
                    if rule.sql(Terms(viewer, at.columns)) is None:
                        missing.append(f"{type_.name}.{name}: {type(rule).__name__} for "
                                       f"{viewer.organization_kind}")
    assert not missing, "\n".join(missing)


def test_resolver_only_names_only_fields_that_exist() -> None:
    schema = build_schema()._schema
    for entry, reason in RESOLVER_ONLY.items():
        type_name, _, field_name = entry.partition(".")
        type_ = schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType), entry
        assert field_name == "*" or field_name in type_.fields, entry
        assert reason, entry


def test_the_compiled_report_due_date_counts_the_rules_working_days() -> None:
    assert REPORT_WORKING_DAYS == RULES_REPORT_DAYS
