"""Which subscribers of a certification event may share one answer, derived from the selection.

By default an answer is shared by the users of one organization with one role (overrides.sharing:
every field rule and row policy decides by organization, kind and role). Across organizations
it is shared only when the selection reads nothing that tells organizations apart, which is
derived, per operation and viewer kind, from what the compiled-read path knows of each field:

- the event's own fields that have no resolver hold the event's data (the same for everyone);
- `factory` and `certificate` show the event's factory and certificate (EVENT_ROWS), rows the
  feed read once for everyone; below them a field is shared only if the compiler knows it as a
  leaf (resolvers.compiled.objects: a column expression of the row, reading no parameter);
- every field rule met on the way must have a SQL form that reads no viewer id (no `«org»` or
  other parameter): its decision then follows from the viewer's kind and role and the viewer's
  access to the factory (scopes, owner, program, auditing firm, visible), which the profile holds.

Anything else (a relation, `viewerAccess`, a directive, a rule with no SQL form or reading the
organization) keeps the per-organization grouping. Reads for the access log follow from the
same decisions, so every member is logged with the group's reads under its own organization.
"""
from collections.abc import Callable
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema, OperationDefinitionNode, get_named_type

from auth.viewer import Viewer
from resolvers.compiled.compiler import Terms, guard_of, symbolic_viewer
from resolvers.compiled.objects import OBJECTS
from resolvers.compiled.selection import Unsupported, collect, merged

# The event fields whose resolvers show a row the feed primed for every listener of the event.
EVENT_ROWS = {"factory": "Factory", "certificate": "Certificate"}
ROOT_FIELD = "certificationStatusChanged"

Profile = tuple[Any, ...]


def organization_and_role(delivery: Any) -> Profile:
    viewer = delivery.viewer
    return ("organization", viewer.organization_id, viewer.organization_kind, viewer.role)


def access_profile(delivery: Any) -> Profile:
    """Everything a shareable selection's answer and reads may depend on."""
    viewer, access = delivery.viewer, delivery.access
    return ("access", viewer.organization_kind, viewer.role, access.visible, access.is_owner,
            access.is_program, access.is_auditing_firm, access.scopes)


def profile_for(schema: GraphQLSchema, operation: OperationDefinitionNode,
                fragments: dict[str, Any]) -> Callable[[Any], Profile]:
    """The grouping of an operation's deliveries: by access where the selection allows it,
    else by organization and role. Decided once per viewer kind and role (a role can change
    between events)."""
    shareable: dict[tuple[Any, ...], bool] = {}

    def profile(delivery: Any) -> Profile:
        viewer = delivery.viewer
        kind = (viewer.organization_kind, viewer.role)
        if kind not in shareable:
            shareable[kind] = delivery.access is not None and _shareable(
                schema, operation, fragments, viewer)
        return access_profile(delivery) if shareable[kind] else organization_and_role(delivery)

    return profile


def _shareable(schema: GraphQLSchema, operation: OperationDefinitionNode,
               fragments: dict[str, Any], viewer: Viewer) -> bool:
    try:
        root = collect(operation.selection_set, fragments, "Subscription")
        if set(root) != {ROOT_FIELD} or len(root[ROOT_FIELD]) != 1:
            return False
        event_field = schema.subscription_type.fields[ROOT_FIELD]  # type: ignore[union-attr]
        event_type = get_named_type(event_field.type)
        assert isinstance(event_type, GraphQLObjectType)
        return _event_fields(schema, event_type, merged(root[ROOT_FIELD]), fragments,
                             symbolic_viewer(viewer))
    except Unsupported:
        return False


def _event_fields(schema: GraphQLSchema, type_: GraphQLObjectType, selection: Any,
                  fragments: dict[str, Any], viewer: Viewer) -> bool:
    for nodes in collect(selection, fragments, type_.name).values():
        name = nodes[0].name.value
        if name == "__typename":
            continue
        field_def = type_.fields[name]
        if any(node.arguments for node in nodes) or guard_of(field_def) is not None:
            return False
        if name in EVENT_ROWS:
            if not _row_fields(schema, EVENT_ROWS[name], merged(nodes), fragments, viewer):
                return False
            continue
        definition = field_def.extensions.get("strawberry-definition")
        if getattr(definition, "base_resolver", True) is not None or any(
                node.selection_set for node in nodes):
            return False  # a resolver of its own may read anything
    return True


def _row_fields(schema: GraphQLSchema, type_name: str, selection: Any,
                fragments: dict[str, Any], viewer: Viewer) -> bool:
    spec = OBJECTS.get(type_name)
    type_ = schema.type_map.get(type_name)
    if spec is None or not isinstance(type_, GraphQLObjectType):
        return False
    terms = Terms(viewer, dict(spec.rule_columns))
    for nodes in collect(selection, fragments, type_name).values():
        name = nodes[0].name.value
        if name == "__typename":
            continue
        leaf = spec.leaves.get(name)
        if leaf is None or "«" in leaf or any(n.arguments or n.selection_set for n in nodes):
            return False
        guard = guard_of(type_.fields[name])
        for rule in guard.rules if guard is not None else ():
            decision = rule.sql(terms)
            if decision is None or "«" in decision:
                return False
    return True

