"""Differential tests over every query the tests and the benchmarks send: each read-only
document found in tests/ and bench/ (string constants that parse as query operations), asked by
every viewer of the permission matrix on both paths against the matrix world. Required variables
are filled from the world by type and name; documents needing input objects are left out.
"""
import ast
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    EnumTypeDefinitionNode,
    GraphQLEnumType,
    ListTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from starlette.applications import Starlette

from tests.api.test_compiled_reads import (  # noqa: F401  (worlds: the fixture)
    VIEWERS,
    _ask,
    assert_alike,
    worlds,
)
from tests.api.world import World

ROOT = Path(__file__).resolve().parents[2]
SCALARS = {"Int": 5, "Float": 1.5, "Boolean": True, "String": "x", "Date": "2026-01-01",
           "DateTime": "2026-01-01T00:00:00+00:00"}


def corpus() -> dict[str, str]:
    """Query documents by text, with the file each was found in."""
    found: dict[str, str] = {}
    files = sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "bench").glob("*.graphql"))
    for path in files:
        if path.name == Path(__file__).name:
            continue
        source = path.read_text()
        texts = [source] if path.suffix == ".graphql" else [
            node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]
        for text in texts:
            if _is_query(text):
                found.setdefault(text, str(path.relative_to(ROOT)))
    return found


def _is_query(text: str) -> bool:
    if "{" not in text:
        return False
    try:
        document = parse(text)
    except Exception:  # not GraphQL (or a template): not a query of the corpus
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and len(operations) == 1 and all(
        o.operation is OperationType.QUERY for o in operations) and not any(
        isinstance(d, EnumTypeDefinitionNode) for d in document.definitions)


CORPUS = corpus()
ANSWERED: dict[str, int] = {"compiled": 0, "resolver": 0}


def variables_for(text: str, world: World) -> dict[str, Any] | None:
    """Values for the required variables, or None when one cannot be made up."""
    from schema import build_schema

    schema = build_schema()._schema
    [operation] = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        if not isinstance(definition.type, NonNullTypeNode) or definition.default_value:
            continue
        inner = definition.type.type
        if isinstance(inner, ListTypeNode):
            return None
        name, type_name = definition.variable.name.value, inner.name.value
        if type_name == "ID":
            values[name] = _id_for(name, world)
        elif type_name in SCALARS:
            values[name] = SCALARS[type_name]
        elif isinstance(found := schema.get_type(type_name), GraphQLEnumType):
            values[name] = next(iter(found.values))
        else:
            return None
    return values


def _id_for(name: str, world: World) -> str:
    lowered = name.lower()
    for key in ("application", "certificate", "finding", "action", "assessment", "audit",
                "cap", "connection_profile", "fee_audit"):
        if key.split("_")[0] in lowered:
            return world.gids[key]
    return world.cast.factory_gid("alpha")


@pytest.mark.parametrize("text", list(CORPUS), ids=[f"{CORPUS[t]}#{n}" for n, t in
                                                    enumerate(CORPUS)])
async def test_every_query_of_the_tests_answers_alike_on_both_paths(
        app: Starlette, worlds: tuple, text: str) -> None:  # noqa: F811 - the fixture imported
    reference, world = worlds
    variables = variables_for(text, world)
    if variables is None:
        pytest.skip("needs an input object or a list variable to be made up")
    for label, who in VIEWERS.values():
        token = world.cast.token(who) if who else None
        expected = await _ask(reference, text, variables, token)
        found = await _ask(app, text, variables, token)
        assert_alike(found, expected, f"{CORPUS[text]} as {label}:\n{text}")
        compiled = found.extensions.get("readPath", {}).get("compiled")
        ANSWERED["compiled" if compiled else "resolver"] += 1


def test_most_of_the_corpus_was_answered_by_the_compiled_path() -> None:
    """Run after the corpus (file order): refusals before execution (limits, validation) and
    invalid arguments are the resolver path's, the rest is compiled."""
    total = sum(ANSWERED.values())
    assert total and ANSWERED["compiled"] >= 0.6 * total, ANSWERED
