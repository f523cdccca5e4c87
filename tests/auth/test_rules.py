"""Each field rule's own decision (Rule.allows), without the row policies in front of it: see
tests/auth/rule_cases.py."""
from types import SimpleNamespace

import pytest

from auth.permissions import Scope
from db.enums import ShareScope
from tests.auth.rule_cases import (
    AUDIT_FIRM,
    AUDITING,
    CASES,
    CONNECTED,
    CUSTOMER,
    FACTORY,
    OTHER_FIRM,
    Case,
    Ctx,
    python_verdict,
)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_rule_decides_alone(case: Case) -> None:
    assert python_verdict(case) is case.allowed


def test_a_customers_allowed_read_is_recorded_for_the_access_log_and_nobody_elses() -> None:
    source = SimpleNamespace(factory_id=FACTORY, audit_firm_id=OTHER_FIRM)
    customer, firm = Ctx(CUSTOMER, CONNECTED), Ctx(AUDIT_FIRM, AUDITING)
    assert Scope(ShareScope.AUDITS).allows(source, customer) is True
    assert Scope(ShareScope.ENVIRONMENT).allows(SimpleNamespace(factory_id=FACTORY), firm) is False
    assert Scope(ShareScope.PROFILE).allows(SimpleNamespace(factory_id=FACTORY), firm) is True
    assert customer.scoped_reads == {(FACTORY, ShareScope.AUDITS)}
    assert firm.scoped_reads == set()
