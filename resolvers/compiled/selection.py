"""What the compiler reads of a selection, and where Python must look in its answer."""
from dataclasses import dataclass, field

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)


class Unsupported(Exception):
    """The operation uses something the compiler does not answer; `reason` says what."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Walk:
    """Where Python must look in the statement's JSON: objects that carry a `$d` list, and the
    keys below which such objects or cursors (CURSOR) sit. Everything else is left untouched."""

    denied: bool = False
    reads: bool = False  # carries a `$r` object, read by the statement itself
    children: dict[str, "Walk | str | None"] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.denied or self.reads or bool(self.children)



CURSOR = None  # a Walk child that is a cursor's key array, encoded by resolvers.paging
SIGNED = "signed"  # a Walk child that is a document id, to become its signed download path


def collect(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode],
            type_name: str, found: dict[str, list[FieldNode]] | None = None,
            interfaces: frozenset[str] = frozenset()) -> dict[str, list[FieldNode]]:
    """The fields of a selection by response key, fragments expanded (graphql-core's rules).

    Below an interface (`interfaces` holds its names, `type_name` the object's runtime type),
    fragments on other types do not apply; elsewhere they are not supported."""
    found = {} if found is None else found
    applies = {type_name} | interfaces
    for child in selection_set.selections if selection_set else ():
        if child.directives:
            raise Unsupported("directives (@skip/@include)")
        if isinstance(child, FieldNode):
            key = child.alias.value if child.alias else child.name.value
            found.setdefault(key, []).append(child)
        elif isinstance(child, FragmentSpreadNode):
            fragment = fragments[child.name.value]
            if _applies(fragment.type_condition.name.value, applies, interfaces):
                collect(fragment.selection_set, fragments, type_name, found, interfaces)
        elif isinstance(child, InlineFragmentNode):
            condition = child.type_condition
            if condition is None or _applies(condition.name.value, applies, interfaces):
                collect(child.selection_set, fragments, type_name, found, interfaces)
    return found


def _applies(condition: str, applies: set[str], interfaces: frozenset[str]) -> bool:
    if condition in applies:
        return True
    if not interfaces:
        raise Unsupported("a fragment on another type")
    return False


def merged(nodes: list[FieldNode]) -> SelectionSetNode:
    selections = [s for node in nodes if node.selection_set for s in node.selection_set.selections]
    return SelectionSetNode(selections=tuple(selections))
