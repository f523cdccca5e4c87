"""Each mutation family's code enum (schema.user_errors) is exactly the set of codes its resolver
modules raise: collected from the source (every BusinessRuleError(...) and not_found(...)), so a
new code fails here until its enum documents it, and a code nobody raises any more goes."""
import ast
import importlib
import inspect
import pkgutil
from functools import cache

import pytest

import resolvers
from resolvers import audit, certification_rules
from schema.user_errors import FAMILIES, Family

# Codes passed as an expression the source alone does not name: (module, expression) -> codes.
DYNAMIC = {
    ("resolvers.workflow", "refused.code"): {certification_rules.InvalidTransition.code},
    ("resolvers.audit", "code"): set(audit.BLOCKER_MESSAGES),
}


def _constants(tree: ast.Module) -> dict[str, str]:
    return {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for target in node.targets if isinstance(target, ast.Name)}


def _called(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


@cache
def raised_codes(module_name: str) -> frozenset[str]:
    """Every code the module's source raises as a BusinessRuleError."""
    tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    constants, codes = _constants(tree), set()
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name = _called(call)
        if name == "not_found":
            codes.add("NOT_FOUND")
        elif name == "BusinessRuleError" and call.args:
            first = call.args[0]
            if isinstance(first, ast.Constant):
                codes.add(first.value)
            elif isinstance(first, ast.Name) and first.id in constants:
                codes.add(constants[first.id])
            else:
                found = DYNAMIC.get((module_name, ast.unparse(first)))
                assert found, (f"{module_name}: BusinessRuleError({ast.unparse(first)}, ...) "
                               "names its code in a way this test cannot read: add it to DYNAMIC")
                codes |= found
    return frozenset(codes)


def family_codes(family: Family) -> set[str]:
    return set().union(*(raised_codes(m) for m in family.modules))


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_every_code_a_family_raises_is_in_its_enum_and_no_other(family: Family) -> None:
    documented = {member.name for member in family.code}
    assert family_codes(family) - documented == set(), "raised but not in the enum"
    assert documented - family_codes(family) == set(), "in the enum but raised nowhere"


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_every_code_says_when_it_happens(family: Family) -> None:
    definition = family.code.__strawberry_definition__  # type: ignore[attr-defined]
    assert all(len(value.description or "") > 20 for value in definition.values)


def test_every_module_raising_codes_belongs_to_a_family() -> None:
    claimed = {module for family in FAMILIES for module in family.modules}
    raising = set()
    for info in pkgutil.walk_packages(resolvers.__path__, "resolvers."):
        source = inspect.getsource(importlib.import_module(info.name))
        if "BusinessRuleError(" in source and info.name != "resolvers.errors":
            raising.add(info.name)
    assert raising - claimed == set()


def test_the_collector_reads_the_ways_codes_are_written() -> None:
    """Literal codes, module constants, not_found() and the declared dynamic ones."""
    assert "INVALID_CREDENTIALS" in raised_codes("resolvers.accounts")  # a constant
    assert "NOT_FOUND" in raised_codes("resolvers.api_keys")  # not_found()
    assert {"ZERO_TOLERANCE_FINDING", "CAP_NOT_SUBMITTED"} <= raised_codes("resolvers.audit")
    assert "INVALID_TRANSITION" in raised_codes("resolvers.workflow")
