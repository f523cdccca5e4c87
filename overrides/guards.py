"""Field guards: a Strawberry field extension that runs the field's rules (auth.permissions)
before its resolver, raises the denying rule's error, and logs a customer's read once a rule
allows it.

The rules only decide; this is where fields are executed, so this is where what a read costs
(the access-log row, the awaited access loader) happens. A guard decides synchronously from the
request's access cache whenever it can, so leaf fields stay out of asyncio; only when the
factory's access is not loaded yet does it await the batched loader and decide again.
"""
import inspect
from typing import Any

from graphql import GraphQLSchema
import strawberry
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.extensions import FieldExtension
from strawberry.schema_directive import Location
from strawberry.types import Info

from auth.access import AccessNotLoaded
from auth.permissions import FieldRules, Rule


# Repeatable: an operation for a role says both that it needs sign-in and which role.
@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="requires",
                             repeatable=True,
                             description="The scope or role a viewer needs to see this field.")
class Requires:
    rule: str = strawberry.field(description=(
        "A ShareScope the factory must share with the viewer (PROFILE, AUDITS…), a role or "
        "roles (ADMIN|REVIEWER), or a named rule (OWNER, CONNECTION_PARTY, SIGNED_IN…) that the "
        "field's description explains. Denied: the field is null, with a FORBIDDEN (or "
        "UNAUTHENTICATED) error naming it in extensions.requiredScope."))


def describe_requires_arguments(schema: GraphQLSchema) -> None:
    """Strawberry leaves a schema directive's arguments undescribed: copy the descriptions of
    @requires's fields onto its arguments in the built schema."""
    directive = schema.get_directive("requires")
    if directive is None:
        return
    for field in Requires.__strawberry_directive__.fields:  # type: ignore[attr-defined]
        directive.args[field.name].description = field.description


def denied(rule: Rule) -> StrawberryGraphQLError:
    """The error a denial raises: the field resolves to null with it at its path."""
    return StrawberryGraphQLError(rule.message, extensions=dict(rule.error_extensions))


class Guard(FieldExtension):
    """Runs a field's rules before its resolver; sync for sync fields whenever it can."""

    def __init__(self, rules: list[Rule]) -> None:
        self.declared = FieldRules(rules)

    @property
    def rules(self) -> list[Rule]:
        return self.declared.rules

    def apply(self, field: Any) -> None:
        for rule in self.rules:
            directive = Requires(rule=rule.required)
            if directive not in field.directives:
                field.directives.append(directive)

    def _check(self, source: Any, ctx: Any) -> None:
        viewer = ctx.viewer
        for rule in self.rules:
            verdict = rule.allows(source, viewer, ctx.known_access)
            if verdict is not True:
                raise denied(verdict or rule)
            scope = rule.reads_on(source) if viewer.is_customer else None
            if scope is not None:  # a customer read a shared scope: the access log says so
                ctx.scoped_reads.add((source.factory_id, scope))

    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        try:
            self._check(source, info.context)
        except AccessNotLoaded as missing:
            return self._after_loading(missing.factory_id, next_, source, info, kwargs)
        return next_(source, info, **kwargs)

    async def _after_loading(self, factory_id: int, next_: Any, source: Any, info: Info,
                             kwargs: dict[str, Any]) -> Any:
        await info.context.access(factory_id)
        self._check(source, info.context)
        result = next_(source, info, **kwargs)
        return await result if inspect.isawaitable(result) else result

    async def resolve_async(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        try:
            self._check(source, info.context)
        except AccessNotLoaded as missing:
            await info.context.access(missing.factory_id)
            self._check(source, info.context)
        result = next_(source, info, **kwargs)
        return await result if inspect.isawaitable(result) else result


def guarded(rule: Rule | list[Rule], *, subscription: bool = False, **field_kwargs: Any) -> Any:
    """A Strawberry field (or subscription) guarded by rules; the last rule is shown in the
    field's description."""
    rules = rule if isinstance(rule, list) else [rule]
    description = field_kwargs.pop("description", None)
    shown = rules[-1].description
    text = shown if description is None else f"{description} {shown}"
    make = strawberry.subscription if subscription else strawberry.field
    return make(description=text, extensions=[Guard(rules)], **field_kwargs)
