"""The SDL shows each protected field's rule: a @requires directive and a description."""
import functools
import re

from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLSchema, build_schema

from overrides.guards import Guard
from schema import build_schema as build_schema_object
from schema import export_sdl

PROTECTED_TYPES = ("Factory", "Application", "Fee", "Audit", "Finding", "CorrectiveActionPlan",
                   "CorrectiveAction", "EnvironmentalAssessment", "Certificate", "Document",
                   "CustomerConnection", "AccessLogEntry", "Organization", "User")
# Public wherever the object itself may be seen; everything else names its rule.
PUBLIC = {
    "Factory": {"id", "name", "country", "city", "productCategories", "listed",
                "certificationStatus", "certifiedUntil", "viewerAccess"},
    # An organization's name and kind are what it is known by where it may be seen at all
    # (row visibility: auth.policies.visible_organizations).
    "Organization": {"id", "name", "kind"},
}


@functools.cache
def exported() -> GraphQLSchema:
    return build_schema(export_sdl())


def rules_of(type_name: str) -> dict[str, tuple[list[str], str]]:
    """Field -> (the rules its @requires directives name, its description)."""
    found = exported().type_map[type_name]
    assert isinstance(found, GraphQLObjectType)
    result = {}
    for name, field in found.fields.items():
        assert field.ast_node is not None
        directives = [d for d in field.ast_node.directives or () if d.name.value == "requires"]
        rules = [str(getattr(arg.value, "value")) for d in directives for arg in d.arguments or ()]
        result[name] = (rules, field.description or "")
    return result


def test_every_protected_field_names_its_rule_in_a_directive_and_its_description() -> None:
    missing = []
    for type_name in PROTECTED_TYPES:
        for field, (rules, description) in rules_of(type_name).items():
            if field in PUBLIC.get(type_name, {"id"}):
                assert not rules, f"{type_name}.{field} is public but declares {rules}"
                continue
            if not rules or not description:
                missing.append(f"{type_name}.{field}")
    assert missing == []


def test_a_scoped_field_says_which_scope_it_needs() -> None:
    rules, description = rules_of("Factory")["address"]
    assert rules == ["PROFILE"] and "PROFILE" in description
    rules, description = rules_of("Audit")["plannedDate"]
    assert rules == ["AUDITOR"] and "never customers" in description


def test_admin_operations_say_they_need_sign_in_and_the_role() -> None:
    sdl = export_sdl()
    # The argument's description may sit between the parentheses.
    assert re.search(r'createAuditFirm\([^)]*input: CreateAuditFirmInput!\s*\): '
                     r'OrganizationPayload! @requires\(rule: "SIGNED_IN"\) '
                     r'@requires\(rule: "ADMIN"\)', sdl)


# Root operations the public contract declares non-null (guarded by roles()): a denied one nulls
# `data`, which for a mutation or subscription root is the whole answer anyway. Any other guarded
# field, roots outside the contract included, is nullable.
CONTRACT_NON_NULL_ROOTS = {
    "Mutation": {"assignAuditFirm", "createAuditFirm", "createFactory", "createUser",
                 "endConnection", "recordPayment", "registerAuditor", "requestConnection",
                 "respondToConnectionRequest", "reviewAudit", "scheduleAudit",
                 "setCertificateStatus", "submitApplication", "submitAuditReport",
                 "submitCorrectiveActionPlan", "submitEnvironmentalAssessment",
                 "updateConnectionScopes", "updateFactory"},
    "Subscription": {"certificationStatusChanged", "connectionChanged"},
}


def guarded_non_null_fields(schema: GraphQLSchema) -> list[str]:
    """Every field carrying a Guard (declared with `guarded(...)` or otherwise) whose type is
    non-null, but for the contract-fixed roots."""
    found = []
    for type_name, named in schema.type_map.items():
        if not isinstance(named, GraphQLObjectType):
            continue
        for name, field in named.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            guards = [e for e in getattr(definition, "extensions", ()) if isinstance(e, Guard)]
            exempt = name in CONTRACT_NON_NULL_ROOTS.get(type_name, ())
            if guards and isinstance(field.type, GraphQLNonNull) and not exempt:
                found.append(f"{type_name}.{name}")
    return found


def test_every_guarded_field_is_nullable_so_a_denial_never_nulls_its_parent() -> None:
    assert guarded_non_null_fields(build_schema_object()._schema) == []
