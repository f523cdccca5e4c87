"""The limits of a request, checked in one walk of its document before it is validated or
executed: the document's shape (depth, aliases, cost) and its string inputs.

The depth, alias and token limits bound a document's shape, not its work: fragments spread
twice at each level double the fields per level, and a list multiplies everything below it. The
cost counts field nodes after fragment expansion, each multiplied by the size of the lists
above it (GitHub's and Shopify's model):

- every field costs 1, plus its children times its multiplier;
- a field with a `first` argument (a connection) multiplies its children by `first`
  (DEFAULT_PAGE_SIZE when omitted, as the resolvers do), and the `nodes` / `edges` lists of
  a connection are sized by that `first`, not again;
- any other field returning a list of objects multiplies its children by LIST_SIZE. Those
  lists are a factory's certificates, an audit's findings, a plan's actions: short by nature
  (long ones are connections). Counting each as a full page would put a customer dashboard
  of 50 factories with plans, actions and evidence near a million.

A document's figures are those of all its operations (validation walks them all). Fragments are
measured once and memoized by name (a fragment's type condition fixes its figures), so the walk
is linear in the document, however often fragments are spread. Strawberry's depth and alias
limiters expanded every spread again, which made validating 1 KB take tens of seconds.

String inputs (every String and ID argument and input field, literal, variable or a variable's
default) are bounded in length and refused with control characters before any resolver (or
PostgreSQL, which refuses NUL) sees them.
"""
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from strawberry.extensions import SchemaExtension

from overrides.schema import graphql_schema

MAX_DEPTH = 12
MAX_ALIASES = 30
DEFAULT_PAGE_SIZE = 20  # what `first` defaults to
LIST_SIZE = 10  # what a list without `first` counts as
SATURATION = 10**15  # a bigger cost is reported as this (JSON-safe, and the sums stay small)


class Measure(NamedTuple):
    cost: int = 0
    depth: int = 0  # levels of fields below the root fields; a leaf adds none
    aliases: int = 0


NOTHING = Measure()
LEAF = (Measure(1, 0, 0), Measure(1, 0, 1))  # a field without a selection, unaliased or not


class Walk:
    """A document's measure; fragments measured once each, those they spread first."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode,
                 variables: dict[str, Any] | None) -> None:
        self.schema = schema
        self.variables = variables if isinstance(variables, dict) else {}
        self.memo: dict[str, Measure] = {}
        # Every argument given, with its type: what check_inputs reads.
        self.arguments: list[tuple[str, GraphQLInputType, ValueNode]] = []
        fragments = {d.name.value: d for d in document.definitions
                     if isinstance(d, FragmentDefinitionNode)}
        for name in dependencies_first(fragments):
            fragment = fragments[name]
            on = schema.get_type(fragment.type_condition.name.value)
            self.memo[name] = self.selections(fragment.selection_set, on)

    def document(self, document: DocumentNode) -> Measure:
        cost = depth = aliases = 0
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                root = self.schema.get_root_type(definition.operation)
                found = self.selections(definition.selection_set, root)
                cost, aliases = cost + found.cost, aliases + found.aliases
                depth = max(depth, found.depth)
        return Measure(min(cost, SATURATION), depth, aliases)

    def selections(self, selection_set: SelectionSetNode,
                   parent: GraphQLNamedType | None) -> Measure:
        """Side by side: costs and aliases add up, the deepest counts. A plain loop: fewer
        frames per level of nesting than the parser, so no document it accepts is too deep."""
        cost = depth = aliases = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found = self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                found = self.selections(selection.selection_set, on)
            elif isinstance(selection, FragmentSpreadNode):
                # Unknown, or in a cycle: nothing here (validation refuses both).
                found = self.memo.get(selection.name.value, NOTHING)
            cost, aliases = cost + found.cost, aliases + found.aliases
            depth = max(depth, found.depth)
        return Measure(min(cost, SATURATION), depth, aliases)

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Measure:
        alias = int(node.alias is not None)
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if node.arguments and definition is not None:
            self.arguments.extend((a.name.value, definition.args[a.name.value].type, a.value)
                                  for a in node.arguments if a.name.value in definition.args)
        if node.selection_set is None:
            return LEAF[alias]
        child = get_named_type(definition.type) if definition else None
        below = self.selections(node.selection_set, child)
        cost = min(1 + self.multiplier(node, definition, parent) * below.cost, SATURATION)
        # Introspection fields do not count for depth, as with Strawberry's depth limiter.
        depth = 0 if node.name.value.startswith("__") else below.depth + 1
        return Measure(cost, depth, below.aliases + alias)

    def multiplier(self, node: FieldNode, definition: GraphQLField | None,
                   parent: GraphQLNamedType | None) -> int:
        if definition is None:
            return 1
        if "first" in definition.args:
            first = self.first(node)
            # At least 1: `first: 0` must not hide a costly selection from the count.
            return max(first, 1) if first is not None else DEFAULT_PAGE_SIZE
        if is_list_type(get_nullable_type(definition.type)):  # type: ignore[arg-type]
            in_connection = parent is not None and parent.name.endswith("Connection")
            return 1 if in_connection else LIST_SIZE
        return 1

    def first(self, node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                # Digits beyond 15 saturate anyway (and int() refuses more than 4300).
                return int(value.value) if len(value.value) <= 15 else SATURATION
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                if isinstance(given, int) and not isinstance(given, bool):
                    return min(given, SATURATION)
        return None


def spreads_in(fragment: FragmentDefinitionNode) -> set[str]:
    found: set[str] = set()
    stack = [fragment.selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                found.add(selection.name.value)
            elif selection.selection_set is not None:
                stack.append(selection.selection_set)
    return found


def dependencies_first(fragments: dict[str, FragmentDefinitionNode]) -> list[str]:
    """Fragment names, each after those it spreads (a depth-first post-order, iterative: a
    chain of a thousand fragments must not exhaust Python's stack); cycles are cut."""
    order: list[str] = []
    seen: set[str] = set()
    for start in fragments:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(spreads_in(fragments[start])))]
        while stack:
            name, pending = stack[-1]
            following = next((n for n in pending if n in fragments and n not in seen), None)
            if following is None:
                order.append(name)
                stack.pop()
            else:
                seen.add(following)
                stack.append((following, iter(spreads_in(fragments[following]))))
    return order


def measure(schema: GraphQLSchema, document: DocumentNode,
            variables: dict[str, Any] | None = None) -> Measure:
    return Walk(schema, document, variables).document(document)


# ------------------------------------------------------------------ string inputs

ID_LENGTH = 100
SHORT_TEXT_LENGTH = 300  # names, cities, numbers, search...: any String not listed below
LENGTHS = {
    "email": 320, "contactEmail": 320,  # as the sign-up rule: 64 + "@" + 255
    "password": 1024,
    "after": 2048,  # cursors we issued: a name and an id, JSON in base64
    # multi-line free text
    **dict.fromkeys(("address", "message", "notes", "reason", "description", "action",
                     "comment"), 10_000),
}
# Control characters other than tab, newline and CR (each field's own rules decide those, e.g.
# a one-line payment reference refuses a newline with a VALIDATION userError), and surrogates,
# which no UTF-8 text (nor PostgreSQL) can hold.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class BadInput(Exception):
    def __init__(self, path: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.path, self.details = path, details

    def as_error(self) -> GraphQLError:
        return GraphQLError(f"`{self.path}` {self}", extensions={
            "code": "BAD_USER_INPUT", "argument": self.path, **self.details})


def plain(value: ValueNode, variables: dict[str, Any]) -> Any:
    """A literal as Python values, variables filled in; only strings and their containers
    matter here (an Int literal of 5000 digits must not reach int())."""
    if isinstance(value, VariableNode):
        return variables.get(value.name.value)
    if isinstance(value, StringValueNode):
        return value.value
    if isinstance(value, ListValueNode):
        return [plain(item, variables) for item in value.values]
    if isinstance(value, ObjectValueNode):
        return {field.name.value: plain(field.value, variables) for field in value.fields}
    return None


def check_value(value: Any, type_: GraphQLInputType, name: str, path: str) -> None:
    """Every String and ID in `value`, as its type places it; other shapes are left to
    coercion, which refuses them with its own clear error."""
    type_ = get_nullable_type(type_)  # type: ignore[assignment]
    if isinstance(type_, GraphQLList):
        items = value if isinstance(value, list) else [value]  # one value coerces to a list
        for index, item in enumerate(items):
            check_value(item, type_.of_type, name, f"{path}[{index}]")
    elif isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
        for field_name, field in type_.fields.items():
            if field_name in value:
                check_value(value[field_name], field.type, field_name, f"{path}.{field_name}")
    elif isinstance(value, str) and getattr(type_, "name", None) in ("String", "ID"):
        check_string(value, ID_LENGTH if type_.name == "ID" else  # type: ignore[union-attr]
                     LENGTHS.get(name, SHORT_TEXT_LENGTH), path)


def check_string(value: str, limit: int, path: str) -> None:
    if len(value) > limit:
        raise BadInput(path, f"may have at most {limit} characters.", reason="TOO_LONG",
                       maxLength=limit)
    if (found := FORBIDDEN.search(value)) is not None:
        raise BadInput(path, f"holds a control character or an unpaired surrogate "
                             f"(U+{ord(found.group()):04X} at {found.start()}).",
                       reason="CONTROL_CHARACTER")


def check_inputs(walk: Walk, document: DocumentNode) -> None:
    """Every string argument and input field of the document, literal or variable (or a
    variable's default), before anything runs: raises BadInput."""
    defaults = {definition.variable.name.value: plain(definition.default_value, {})
                for operation in document.definitions
                if isinstance(operation, OperationDefinitionNode)
                for definition in operation.variable_definitions or ()
                if definition.default_value is not None}
    variables = {**defaults, **walk.variables}
    for name, type_, value in walk.arguments:
        check_value(plain(value, variables), type_, name, name)


class RequestLimits(SchemaExtension):
    """Refuses, before the document is validated or anything runs (one linear walk): a
    document deeper than MAX_DEPTH, with more than MAX_ALIASES aliases, or costing more than
    `max_cost` (QUERY_TOO_COMPLEX, the cost in `extensions`); then a string argument or input
    field, literal or variable, too long or holding control characters (BAD_USER_INPUT).
    Reports the cost when the request's `extensions` ask for it (`{"cost": true}`).

    Listed before overrides.validation.ValidatedAfterLimits: its on_validate runs first, and a
    refusal set here is what that cache then leaves alone. Over HTTP and WebSocket alike: both run on_validate."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost
        self.cost: int | None = None

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            walk = Walk(graphql_schema(context.schema), document, context.variables)
            found = walk.document(document)
            self.cost = found.cost
            refusal = self.refusal(found, context.operation_name)
            if refusal is None:
                try:
                    check_inputs(walk, document)
                except BadInput as bad:
                    refusal = bad.as_error()
            if refusal is not None:
                context.pre_execution_errors = [refusal]
        yield

    def refusal(self, found: Measure, operation_name: str | None) -> GraphQLError | None:
        if found.depth > MAX_DEPTH:
            return GraphQLError(f"'{operation_name or 'anonymous'}' exceeds maximum operation "
                                f"depth of {MAX_DEPTH}", extensions={"code": "QUERY_TOO_DEEP"})
        if found.aliases > MAX_ALIASES:
            return GraphQLError(f"{found.aliases} aliases found. Allowed: {MAX_ALIASES}",
                                extensions={"code": "TOO_MANY_ALIASES"})
        if found.cost > self.max_cost:
            return GraphQLError(
                f"The query costs {found.cost}, more than the limit of {self.max_cost}: ask "
                "for smaller pages (`first`) or fewer nested lists.",
                extensions={"code": "QUERY_TOO_COMPLEX", "cost": found.cost,
                            "maxCost": self.max_cost})
        return None

    def get_results(self) -> dict[str, Any]:
        asked = self.execution_context.operation_extensions
        if isinstance(asked, dict) and asked.get("cost") is True and self.cost is not None:
            return {"cost": self.cost, "maxCost": self.max_cost}
        return {}
