"""Lean resolvers for guarded attribute fields (a certificate's number, an action's due date…).

Such a field has no resolver of its own: Strawberry would still run its full extension chain
for it (Info object, argument conversion, the extension wrapper), which on a dashboard page is
most of the cost of about two thousand leaf fields. Here the same Guard (same rules, same
errors, same directive in the SDL) runs directly in graphql-core's resolver, then the
attribute is read. Fields with resolvers or other extensions keep Strawberry's chain.
"""
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo

from auth.access import AccessNotLoaded
from auth.permissions import Guard

BACKREF = "strawberry-definition"


def _lean(guard: Guard, attribute: str) -> Any:
    def resolve(source: Any, info: GraphQLResolveInfo, **_: Any) -> Any:
        try:
            guard._check(source, info.context)
        except AccessNotLoaded as missing:
            return _after_loading(guard, attribute, source, info.context, missing.factory_id)
        return getattr(source, attribute)
    return resolve


async def _after_loading(guard: Guard, attribute: str, source: Any, ctx: Any,
                         factory_id: int) -> Any:
    await ctx.access(factory_id)
    guard._check(source, ctx)
    return getattr(source, attribute)


def install_lean_resolvers(graphql_schema: Any) -> int:
    """Replace the resolver of every guarded attribute field; returns how many."""
    replaced = 0
    for named_type in graphql_schema.type_map.values():
        if not isinstance(named_type, GraphQLObjectType):
            continue
        for gql_field in named_type.fields.values():
            field = (gql_field.extensions or {}).get(BACKREF)
            if field is None or field.base_resolver is not None or field.is_subscription:
                continue
            guards = [e for e in field.extensions if isinstance(e, Guard)]
            if len(guards) == 1 and len(field.extensions) == 1 and not field.arguments:
                gql_field.resolve = _lean(guards[0], field.python_name)
                replaced += 1
    return replaced
