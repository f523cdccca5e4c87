"""Differential tests: the compiled read path against the resolver path (the reference).

Every viewer of the permission matrix asks every query of the corpus of both paths, over HTTP:
the same `data`, the same multiset of errors (message, path, locations, extensions) and the same
access-log rows. The resolver path answers first on an app built with compiled reads off; the
compiled app must then say (extensions.readPath) that it answered with its plan where the
corpus expects it to.
"""
import dataclasses
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import queries
from starlette.applications import Starlette

from app import create_app
from db.settings import Settings
from resolvers.document import LinkCheck, check_download
from resolvers.ids import decode_as
from tests.api.test_permission_matrix import VIEWERS
from tests.api.world import World, matrix_world
from tests.helpers import Cast, standard_cast, truncate_all

DASHBOARD = (Path(__file__).parents[2] / "bench" / "dashboard.graphql").read_text()

FACTORY_FIELDS = """
  __typename id name country city productCategories listed address workerCount contactEmail
  certificationStatus certifiedUntil viewerAccess { isOwner scopes }
  currentCertificate { id number status issuedOn validUntil }
  certificates { id number status issuedOn validUntil }
  latestAudit { id announcement type status windowStart windowEnd plannedDate conductedOn
                reviewedAt findingsSummary { zeroTolerance critical major minor total }
                findings { id clause category severity description } }
  correctiveActionPlans { id status submittedAt dueOn
                          actions { id action dueDate status agreesWithFinding factoryComment } }
  environmentalAssessments { id periodYear energyKwh waterM3 wasteKg ghgTco2e verified }
"""
# Every other compiled field and relation, nested as clients nest them.
RELATIONS = """
  supplier { id name kind }
  viewerAccess { connection { id status requestedScopes grantedScopes message requestedAt
                              respondedAt expiresAt customer { name } factory { id name } } }
  connections { id status grantedScopes customer { id name kind } }
  certificates { factory { id name } }
  applications { id kind status submittedAt assignedAt auditFirm { name } factory { name }
                 fees { id kind round amount amountDecimal currency status paidAt paymentReference
                        payee { name } }
                 audits { id status }
                 transitions { fromStatus toStatus occurredAt note actor { id name role email
                               organization { name } } actorOrganization { name kind } } }
  latestAudit { factory { name } auditFirm { name } reportDueOn isReportOverdue
                leadAuditor { id name registrationNumber active auditFirm { name } }
                correctiveActionPlan { id status audit { id type } } }
  correctiveActionPlans { isOverdue audit { id status findingsSummary { total } }
                          actions { finding { id severity clause } } }
  environmentalAssessments { factory { id } }
"""

# (name, query, variables, answered by the compiled path; None: only for anonymous viewers)
CORPUS: list[tuple[str, str, dict[str, Any], bool | None]] = [
    ("dashboard", DASHBOARD, {}, True),
    ("directory", """query Directory($after: String) {
        factories(first: 2, after: $after) {
          totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          edges { cursor node { id name country city certificationStatus certifiedUntil } } } }""",
     {}, True),
    ("every compiled field", f"query {{ factories(first: 100) {{ nodes {{ {FACTORY_FIELDS} }} }} }}",
     {}, True),
    ("one factory", f"query One($id: ID!) {{ factory(id: $id) {{ {FACTORY_FIELDS} }} }}",
     {"id": "alpha"}, True),
    ("pages below a factory", """query($after: String) { factory(id: "ALPHA") {
        audits(first: 2, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage
            startCursor endCursor } edges { cursor node { id type findingsSummary { total } } }
            nodes { status } }
        second: audits(first: 3, after: "WzJd") { nodes { id } pageInfo { hasPreviousPage } }
        accessLog(first: 2) { totalCount pageInfo { hasNextPage endCursor }
                              edges { cursor node { viewedAt scope organization { name } } } }
        pending: connections(status: PENDING) { id status }
        accepted: connections(status: ACCEPTED) { id grantedScopes } } }""", {}, True),
    ("relations", f"query {{ factories(first: 100) {{ nodes {{ {RELATIONS} }} }} }}", {}, True),
    ("relations of one factory", f'query {{ factory(id: "ALPHA") {{ {RELATIONS} }} }}', {},
     True),
    ("fragments and aliases", """
        query { a: factory(id: "ALPHA") { ...F ... on Factory { x: name } }
                b: factories(filter: {search: "a", country: "bd"}) { n: totalCount } __typename }
        fragment F on Factory { id currentCertificate { ...C } latestAudit { t: type } }
        fragment C on Certificate { number validUntil }""", {}, True),
    ("filters", """query($s: CertificationStatus) {
        factories(first: 5, filter: {certificationStatus: $s}) { totalCount nodes { name } } }""",
     {"s": "CERTIFIED"}, True),
    ("connected only", """query { factories(filter: {connectedOnly: true}) {
        totalCount nodes { name address environmentalAssessments { periodYear } } } }""",
     {}, True),
    ("an unknown factory", """query { factory(id: "RmFjdG9yeTo5OTk5OTk") { name } }""", {}, True),
    ("documents", """query { factory(id: "ALPHA") {
        latestAudit { report { id filename contentType sizeBytes sha256 downloadUrl } }
        audits(first: 10) { nodes { report { filename downloadUrl } } }
        correctiveActionPlans { actions { evidence { id filename downloadUrl } } }
        environmentalAssessments { report { id sha256 downloadUrl } } } }""", {}, True),
    ("public verification", """query($n: String!) { verifyCertificate(number: $n) {
        __typename number valid status factoryName country validUntil }
        none: verifyCertificate(number: "NOPE") { number }
        verifyAuditor(registrationNumber: " reg-firm_a_lead ") { registrationNumber name auditFirm
        active } auditFirms { id name kind } }""", {"n": "certificate"}, True),
    ("the viewer", """query { viewer { user { id name role email organization { name } }
        organization { id name kind }
        factories(first: 5) { totalCount nodes { id name address
            latestAudit { status } connections { status customer { name } } } }
        connections { id status grantedScopes factory { id name address certificationStatus
            currentCertificate { number } } customer { name } }
        accepted: connections(status: ACCEPTED) { id } } }""", {}, True),
    ("a bad cursor", """query { factories(after: "nope") { totalCount } }""", {}, False),
    ("a bad page size", """query { factories(first: 0) { totalCount } }""", {}, False),
    ("directives", """query { factory(id: "ALPHA") { name @include(if: true) } }""", {}, False),
    ("assignments", """query { viewer { assignments(first: 1) { totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id kind status assignedAt factory { name }
                              fees { kind amount } } } }
        scheduled: assignments(status: AUDIT_SCHEDULED) { nodes { id } } } }""", {}, True),
]


@dataclasses.dataclass
class Answer:
    data: Any
    errors: list[str]
    reads: list[tuple[int, int, str]]
    extensions: dict[str, Any]


def _prepared(query: str, variables: dict[str, Any], world: World) -> tuple[str, dict]:
    alpha = world.cast.factory_gid("alpha")
    return (query.replace('"ALPHA"', json.dumps(alpha)),
            {k: alpha if v == "alpha" else v for k, v in variables.items()})


def assert_alike(found: Answer, expected: Answer, where: str) -> None:
    """The two paths' answers: the same data, error multiset and access-log rows."""
    assert found.data == expected.data, f"{where}\ndata differs"
    assert found.errors == expected.errors, f"{where}\nerrors differ"
    assert found.reads == expected.reads, f"{where}\naccess-log rows differ"


async def _ask(app: Starlette, query: str, variables: dict[str, Any],
               token: str | None) -> Answer:
    database = app.state.database
    async with database.engine.connect() as conn:
        mark = (await conn.execute(text("SELECT coalesce(max(id), 0) FROM access_log"))).scalar()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escp.test") as client:
        response = await client.post("/graphql", headers=headers, json={
            "query": query, "variables": variables, "extensions": {"readPath": True}})
    body = response.json()
    async with database.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT factory_id, organization_id, scope FROM access_log WHERE id > :mark "
            "ORDER BY 1, 2, 3"), {"mark": mark})).all()
    errors = sorted(json.dumps(e, sort_keys=True) for e in body.get("errors") or [])
    return Answer(_signed_links_checked(app, body.get("data")), errors,
                  [tuple(r) for r in rows], body.get("extensions") or {})


_LINK = re.compile(r"/documents/(\w+)\?expires=(\d+)&signature=(\w+)")


def _signed_links_checked(app: Starlette, data: Any) -> Any:
    """Download links carry an expiry rounded to the minute, so two requests a minute apart
    differ: each link's signature is checked valid, then the expiry and signature left out."""
    if data is None:
        return None
    text_ = json.dumps(data)
    for gid, expires, signature in _LINK.findall(text_):
        check = check_download(app.state.settings, decode_as(gid, "Document") or 0, expires,
                               signature)
        assert check is LinkCheck.VALID, f"{gid}: {check}"
    return json.loads(_LINK.sub(r"/documents/\1?signed", text_))


@pytest.fixture(scope="module")
async def worlds(app: Starlette, settings: Settings) -> AsyncIterator[tuple[Starlette, World]]:
    """The matrix world, and a reference app on the same database with compiled reads off."""
    database = app.state.database
    cast: Cast = await standard_cast(database, settings)
    world = await matrix_world(database, cast)
    reference = create_app(settings.model_copy(update=dict(compiled_reads=False)),
                           send_outbox=False)
    async with reference.router.lifespan_context(reference):
        yield reference, world
    await truncate_all(database)


CASES = [(viewer, name) for name, *_ in CORPUS for viewer in VIEWERS]


@pytest.mark.parametrize(("viewer", "name"), CASES,
                         ids=[f"{VIEWERS[v][0]}-{n}" for v, n in CASES])
async def test_compiled_and_resolver_paths_answer_alike(app: Starlette, worlds: tuple,
                                                        viewer: str, name: str) -> None:
    reference, world = worlds
    _, query, variables, compiled = next(c for c in CORPUS if c[0] == name)
    query, variables = _prepared(query, variables, world)
    if variables.get("n") == "certificate":
        async with app.state.database.engine.connect() as conn:
            variables["n"] = (await conn.execute(text(
                "SELECT lower(number) FROM certificates ORDER BY id LIMIT 1"))).scalar()
    who = VIEWERS[viewer][1]
    token = world.cast.token(who) if who else None
    expected = await _ask(reference, query, variables, token)
    found = await _ask(app, query, variables, token)
    where = f"query {name!r} as {VIEWERS[viewer][0]}"
    assert_alike(found, expected, where)
    if compiled is None:
        compiled = who is None
    assert found.extensions.get("readPath", {}).get("compiled") is compiled, (
        f"{where}: {found.extensions}")


# Queries generated over the schema from Query's read fields: a bounded number in CI; for a long
# run, ESCP_DIFFERENTIAL_EXAMPLES=5000 python -m pytest tests/api/test_compiled_reads.py -k generated
EXAMPLES = int(os.environ.get("ESCP_DIFFERENTIAL_EXAMPLES", "80"))
GENERATED_ROOTS = ["factories", "factory", "node", "viewer", "auditFirms", "verifyCertificate",
                   "verifyAuditor"]


def generated_queries(count: int) -> list[str]:
    """`count` queries drawn by hypothesis-graphql, the same ones on every run."""
    from schema import build_schema

    found: list[str] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(queries(build_schema()._schema, fields=GENERATED_ROOTS, allow_x00=False))
    def draw(query: str) -> None:
        found.append(query)

    draw()
    return found


async def test_generated_queries_answer_alike_on_both_paths(app: Starlette,
                                                            worlds: tuple) -> None:
    reference, world = worlds
    alpha = world.cast.factory_gid("alpha")
    viewers = list(VIEWERS.values())
    compiled = 0
    for n, query in enumerate(generated_queries(EXAMPLES)):
        who = viewers[n % len(viewers)][1]
        token = world.cast.token(who) if who else None
        # Generated ids find nothing: point every factory(id:) at a real factory.
        query = _with_real_ids(query, alpha)
        expected = await _ask(reference, query, {}, token)
        found = await _ask(app, query, {}, token)
        label = viewers[n % len(viewers)][0]
        assert_alike(found, expected, f"generated query as {label}:\n{query}")
        compiled += found.extensions.get("readPath", {}).get("compiled") is True
    assert compiled >= EXAMPLES // 4, f"only {compiled} of {EXAMPLES} generated queries compiled"


def _with_real_ids(query: str, factory_gid: str) -> str:
    import re

    return re.sub(r'factory\(id: "[^"]*"\)', f'factory(id: "{factory_gid}")', query)


NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Factory { name address latestAudit { status } }
  ... on Certificate { number certificateStatus: status factory { name } }
  ... on Application { applicationKind: kind applicationStatus: status
                       fees { kind amount } auditFirm { name } }
  ... on Fee { feeKind: kind amount feeStatus: status payee { name } }
  ... on Audit { type auditStatus: status plannedDate windowStart findings { severity }
                 correctiveActionPlan { status } }
  ... on Finding { clause severity }
  ... on CorrectiveActionPlan { planStatus: status actions { action } audit { type } }
  ... on CorrectiveAction { action actionStatus: status finding { severity } }
  ... on EnvironmentalAssessment { periodYear verified factory { name } }
  ... on CustomerConnection { connectionStatus: status grantedScopes customer { name }
                              factory { name } }
  ... on Organization { organizationKind: kind }
  ... on User { email role organization { name } }
  ... on Auditor { name registrationNumber }
  ... on Document { filename sha256 downloadUrl } } }"""
NODE_KEYS = ["alpha", "certificate", "application", "fee_registration", "fee_audit", "audit",
             "audit_unannounced_planned", "finding", "cap", "action", "assessment",
             "connection_profile", "connection_pending", "org_supplier_a", "org_firm_a",
             "user_supplier_a", "audit_report", "evidence", "assessment_report", "missing Audit", "missing Factory", "not an id"]


@pytest.mark.parametrize("viewer", list(VIEWERS), ids=[VIEWERS[v][0] for v in VIEWERS])
async def test_node_answers_alike_on_both_paths(app: Starlette, worlds: tuple,
                                                viewer: str) -> None:
    from resolvers.ids import encode_id

    reference, world = worlds
    who = VIEWERS[viewer][1]
    token = world.cast.token(who) if who else None
    for key in NODE_KEYS:
        if key.startswith("missing "):
            gid = encode_id(key.split()[1], 999_999)
        else:
            gid = world.gids.get(key, "bm90IGFuIGlk")
        expected = await _ask(reference, NODE, {"id": gid}, token)
        found = await _ask(app, NODE, {"id": gid}, token)
        where = f"node {key!r} as {VIEWERS[viewer][0]}"
        assert_alike(found, expected, where)
        assert found.extensions.get("readPath", {}).get("compiled") is True, (
            f"{where}: {found.extensions}")
