"""Running compiled plans: the plan cache, arguments as parameters, and the errors of denied
fields built from the `$d` lists the statement returns."""
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.utilities import get_operation_ast

from auth.viewer import Viewer
from resolvers.compiled.compiler import ArgSite, Denial, Plan, compile_operation, kind_of
from resolvers.compiled.selection import CURSOR, SIGNED, Unsupported, Walk
from resolvers.document import download_path
from resolvers.factory import escape_like
from resolvers.ids import decode_as, decode_id
from resolvers.paging import (
    cursor_int,
    cursor_moment,
    cursor_text,
    decode_cursor,
    encode_cursor,
    page_size,
)

MAX_PLANS = 512


class Fallback(Exception):
    """This request runs on the resolver path; `reason` says why (shown when asked)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def _get(value: Any, name: str) -> Any:
    if value is None:
        return None
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _factories_params(args: dict[str, Any]) -> dict[str, Any]:
    first = page_size(args.get("first"))
    after = decode_cursor(args.get("after"), 2, (cursor_text, cursor_int))
    f = args.get("filter")
    search = _get(f, "search")
    country = _get(f, "country")
    status = _get(f, "certificationStatus") or _get(f, "certification_status")
    connected = _get(f, "connectedOnly") or _get(f, "connected_only")
    return {
        "search": f"%{escape_like(search.strip())}%" if search else None,
        "country": country.upper() if country else None,
        "status": _plain(status) if status else None,
        "connected": bool(connected), "first": first, "has_after": after is not None,
        "after_name": str(after[0]) if after else None,
        "after_id": int(after[1]) if after else None,
    }


def _factory_params(args: dict[str, Any]) -> dict[str, Any]:
    return {"id": decode_as(args["id"], "Factory")}


def _node_params(args: dict[str, Any]) -> dict[str, Any]:
    decoded = decode_id(args["id"])
    return {"id": decoded[1] if decoded else None}


def _offset_page(args: dict[str, Any]) -> dict[str, Any]:
    start = decode_cursor(args.get("after"), 1, (cursor_int,))
    return {"first": page_size(args.get("first")), "offset": int(start[0]) if start else 0}


def _moment_page(args: dict[str, Any]) -> dict[str, Any]:
    start = decode_cursor(args.get("after"), 2, (cursor_moment, cursor_int))
    return {"first": page_size(args.get("first")), "has_after": start is not None,
            "after_at": datetime.fromisoformat(start[0]) if start else None,
            "after_id": int(start[1]) if start else None}


def _assignments(args: dict[str, Any]) -> dict[str, Any]:
    return {**_moment_page(args), **_status_filter(args)}


def _status_filter(args: dict[str, Any]) -> dict[str, Any]:
    status = args.get("status")
    return {"status": _plain(status) if status else None}


def _number(name: str) -> Any:
    return lambda args: {"number": args[name].strip().upper()}


# What each kind of field with arguments turns them into (validated as the resolvers validate).
ARGUMENTS = {"factories": _factories_params, "factory": _factory_params,
             "offset": _offset_page, "moment": _moment_page, "filter": _status_filter,
             "assignments": _assignments,
             "ownedFactories": _factories_params, "node": _node_params, "viewer": lambda args: {},
             "verifyCertificate": _number("number"),
             "verifyAuditor": _number("registrationNumber"), "auditFirms": lambda args: {}}


@dataclass
class CompiledReads:
    """One per schema: plans by (document, operation name, viewer kind). How requests were
    answered (compiled, or the reason they were not) is counted in infra.metrics.READS."""

    schema: GraphQLSchema
    plans: "OrderedDict[tuple[Any, ...], Plan | Unsupported]" = field(default_factory=OrderedDict)

    def plan(self, query: str, document: DocumentNode, operation_name: str | None,
             viewer: Viewer, variables: dict[str, Any] | None = None) -> Plan:
        node_types = self._node_types(document, operation_name, variables)
        key = (query, operation_name, kind_of(viewer), tuple(sorted(node_types.items())))
        found = self.plans.get(key)
        if found is None:
            found = self._build(document, operation_name, viewer, node_types)
            self.plans[key] = found
            if len(self.plans) > MAX_PLANS:
                self.plans.popitem(last=False)
        if isinstance(found, Unsupported):
            raise Fallback(found.reason)
        return found

    def _node_types(self, document: DocumentNode, operation_name: str | None,
                    variables: dict[str, Any] | None) -> dict[str, str | None]:
        """The type each root node(id:) field's id decodes to, by response key."""
        operation = get_operation_ast(document, operation_name)
        if operation is None or self.schema.query_type is None:
            return {}
        roots = [s for s in operation.selection_set.selections
                 if isinstance(s, FieldNode) and s.name.value == "node"]
        if not roots:
            return {}
        coerced = self._coerced(operation, variables)
        found = {}
        for root in roots:
            args = get_argument_values(self.schema.query_type.fields["node"], root, coerced)
            decoded = decode_id(args["id"])
            found[root.alias.value if root.alias else "node"] = decoded[0] if decoded else None
        return found

    def _coerced(self, operation: OperationDefinitionNode,
                 variables: dict[str, Any] | None) -> dict[str, Any]:
        coerced = get_variable_values(self.schema, operation.variable_definitions or (),
                                      variables or {})
        if isinstance(coerced, list):
            raise Fallback("variables that do not coerce")
        return coerced

    def _build(self, document: DocumentNode, operation_name: str | None,
               viewer: Viewer, node_types: dict[str, str | None]) -> Plan | Unsupported:
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return Unsupported("no such operation")
        fragments = {d.name.value: d for d in document.definitions
                     if not isinstance(d, OperationDefinitionNode)}
        try:
            return compile_operation(self.schema, operation, fragments,  # type: ignore[arg-type]
                                     viewer, node_types)
        except Unsupported as unsupported:
            return unsupported

    def parameters(self, plan: Plan, document: DocumentNode, operation_name: str | None,
                   variables: dict[str, Any] | None, viewer: Viewer) -> list[Any]:
        operation = get_operation_ast(document, operation_name)
        assert operation is not None
        coerced = self._coerced(operation, variables)
        values: dict[str, Any] = {"uid": viewer.user_id, "org": viewer.organization_id,
                                  "key": viewer.api_key_id}
        for site in plan.sites:
            args = get_argument_values(site.field_def, site.node, coerced)
            try:
                given = ARGUMENTS[site.kind](args)
            except GraphQLError as invalid:  # the resolver path reports it, at its path
                raise Fallback(f"invalid arguments of {site.node.name.value}") from invalid
            values.update({f"{site.prefix}_{name}": value for name, value in given.items()})
        return [values[name] for name in plan.params]


async def run(conn: Any, plan: Plan, values: list[Any],
              settings: Any) -> tuple[dict[str, Any], list[GraphQLError]]:
    """Execute the plan on a SQLAlchemy connection; the data and the denied fields' errors."""
    # Through SQLAlchemy's driver-level API (asyncpg's `$n` parameters as they are): its
    # prepared-statement cache and its events, so the statement is counted like any other.
    text = (await conn.exec_driver_sql(plan.sql, tuple(values))).scalar_one()
    data = orjson.loads(text)
    errors: list[GraphQLError] = []
    _walk(data, plan.walk, [], plan, errors, settings)
    return data, errors


def _walk(value: Any, walk: Walk, path: list[Any], plan: Plan, errors: list[GraphQLError],
          settings: Any) -> None:
    """Only where the plan's Walk says: `$d` lists become errors at their paths, cursor keys
    become cursors and document ids signed download paths, in place."""
    if value is None or not walk:
        return
    if type(value) is list:
        for index, element in enumerate(value):
            _walk(element, walk, [*path, index], plan, errors, settings)
        return
    if walk.reads:
        del value["$r"]
    if walk.denied:
        for n in value.pop("$d", None) or ():
            errors.append(_denied(plan.denials[n], [*path, plan.denials[n].key]))
    for key, child in walk.children.items():
        if child is CURSOR or child == SIGNED:
            found = value.get(key)
            if found is not None:
                value[key] = (encode_cursor(found) if child is CURSOR
                              else download_path(settings, found))
        else:
            _walk(value.get(key), child, [*path, key], plan, errors, settings)


class DeniedField(GraphQLError):
    """The error the field's rule raises on the resolver path, made cheaply: a page of 50
    factories can carry ninety of them, and GraphQLError finds each location in the source
    again. The plan computed the location once; `formatted` is what the resolver path sends."""

    def __init__(self, denial: Denial, path: list[Any]) -> None:  # noqa: D107  (no super call)
        rule = denial.rule
        self.message, self.path, self.nodes = rule.message, path, [denial.node]
        self.locations, self.extensions = denial.locations, dict(rule.error_extensions)
        self.source = self.positions = self.original_error = None
        self.cause = None
        self._formatted_locations = denial.formatted_locations

    @property
    def formatted(self) -> Any:
        found = {"message": self.message, "path": self.path, "extensions": self.extensions}
        if self._formatted_locations is not None:
            found["locations"] = self._formatted_locations
        return found


def _denied(denial: Denial, path: list[Any]) -> GraphQLError:
    return DeniedField(denial, path)


__all__ = ["ArgSite", "CompiledReads", "Fallback", "run"]
