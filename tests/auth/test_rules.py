"""Rules decide from typed inputs and nothing else; the guard running them logs a customer's
read after a rule allows it (overrides.guards), never before and never on a denial."""
from dataclasses import dataclass, field
from typing import Any

import pytest

from auth.access import AccessNotLoaded, FactoryAccess
from auth.permissions import HeldDocument, OwnerOrProgram, Scope, SignedIn
from auth.viewer import Viewer
from db.enums import OrganizationKind, Role, ShareScope
from overrides.guards import Guard

CUSTOMER = Viewer(1, 10, OrganizationKind.CUSTOMER, Role.CUSTOMER)
FIRM = Viewer(2, 20, OrganizationKind.AUDIT_FIRM, Role.AUDITOR)


def access(*scopes: ShareScope, firm: bool = False) -> FactoryAccess:
    return FactoryAccess(factory_id=7, visible=True, is_owner=False, is_program=False,
                         is_auditing_firm=firm, scopes=frozenset(scopes), connection_id=None)


@dataclass
class Row:
    factory_id: int = 7
    audit_firm_id: int | None = None
    held_by: ShareScope | None = None
    organization_id: int | None = None


@dataclass
class Context:
    viewer: Viewer
    loaded: dict[int, FactoryAccess]
    scoped_reads: set[Any] = field(default_factory=set)

    def known_access(self, factory_id: int) -> FactoryAccess:
        if factory_id not in self.loaded:
            raise AccessNotLoaded(factory_id)
        return self.loaded[factory_id]


def test_a_rule_is_a_pure_decision() -> None:
    granted = access(ShareScope.AUDITS)
    rule = Scope(ShareScope.AUDITS)
    assert rule.allows(Row(), CUSTOMER, {7: granted}.__getitem__) is True
    assert rule.allows(Row(), CUSTOMER, {7: access()}.__getitem__) is False
    # Another firm's audit data is denied to a firm holding the scope.
    assert rule.allows(Row(audit_firm_id=99), FIRM, {7: access(ShareScope.AUDITS,
                                                               firm=True)}.__getitem__) is False
    assert SignedIn().allows(Row(), CUSTOMER, {}.__getitem__) is True


def test_a_rule_that_needs_unloaded_access_says_so() -> None:
    def nothing_loaded(factory_id: int) -> FactoryAccess:
        raise AccessNotLoaded(factory_id)

    with pytest.raises(AccessNotLoaded):
        Scope(ShareScope.PROFILE).allows(Row(), CUSTOMER, nothing_loaded)


def test_the_guard_logs_a_customers_read_after_an_allowing_verdict() -> None:
    ctx = Context(CUSTOMER, {7: access(ShareScope.AUDITS)})
    Guard([SignedIn(), Scope(ShareScope.AUDITS)])._check(Row(), ctx)
    assert ctx.scoped_reads == {(7, ShareScope.AUDITS)}


def test_the_guard_logs_nothing_on_a_denial() -> None:
    ctx = Context(CUSTOMER, {7: access(ShareScope.PROFILE)})
    with pytest.raises(Exception, match="AUDITS"):
        Guard([Scope(ShareScope.AUDITS)])._check(Row(), ctx)
    assert ctx.scoped_reads == set()


def test_only_a_customers_reads_are_logged() -> None:
    ctx = Context(FIRM, {7: access(ShareScope.AUDITS, firm=True)})
    Guard([Scope(ShareScope.AUDITS)])._check(Row(audit_firm_id=20), ctx)
    assert ctx.scoped_reads == set()


def test_a_document_is_logged_under_its_holding_fields_scope() -> None:
    ctx = Context(CUSTOMER, {7: access(ShareScope.CORRECTIVE_ACTIONS)})
    Guard([HeldDocument()])._check(Row(held_by=ShareScope.CORRECTIVE_ACTIONS), ctx)
    assert ctx.scoped_reads == {(7, ShareScope.CORRECTIVE_ACTIONS)}


def test_rules_without_a_scope_log_nothing() -> None:
    program = Viewer(3, 30, OrganizationKind.PROGRAM, Role.ADMIN)
    ctx = Context(program, {7: FactoryAccess(7, True, False, True, False, frozenset(), None)})
    Guard([OwnerOrProgram()])._check(Row(), ctx)
    assert ctx.scoped_reads == set()
