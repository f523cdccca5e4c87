"""Each field rule's own decision (Rule.allows), without the row policies in front of it: see
tests/auth/rule_cases.py."""
import pytest

from tests.auth.rule_cases import CASES, Case, python_verdict


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_rule_decides_alone(case: Case) -> None:
    assert python_verdict(case) is case.allowed
