"""The practical limit: each benchmark query's JSON from ONE hand-written SQL statement (bench
only): `POST /dashboard` (bench/dashboard.graphql) and `POST /directory` (bench/directory.graphql,
anonymous; see `directory` below).

    uvicorn bench.single_sql:create_app --factory   (DATABASE_URL, ESCP_JWT_SECRET as for the app)

`POST /dashboard` takes the same body and bearer token as `POST /graphql` with the dashboard query
(bench/dashboard.graphql; the query text is not read, only `variables.after`) and answers the
same JSON for the same signed-in viewer: data, and a FORBIDDEN error (message, locations, path,
extensions) for every field whose scope the viewer lacks. PostgreSQL builds the whole response
text (json_build_object / json_agg); Python checks the token and passes the bytes through.

What our API does per request, this does too, inside the one statement:
- reads the viewer fresh (active user, organization kind), as auth.backend.viewer_for_token does;
- applies the same visibility (a customer's live connections), keyset order (name, id), derived
  certification status and certificate expiry, newest-first orders, and the viewer's scopes from
  its latest connection, as auth.access does;
- writes the access log (one row per factory and scope read) with a data-modifying CTE, as
  resolvers.access_log.record_reads does after the response resolved. Writing it keeps the
  comparison fair: the limit pays for the same INSERT our API pays for.
Only a signed-in viewer is served (a missing, bad or stale token is refused with 401), and the
cursor must be one of ours; names are assumed ASCII (json.dumps escapes other characters in
cursors, PostgreSQL does not), which holds for the bench data set.
"""
import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth.tokens import InvalidToken, verify_token
from db.embedded import to_libpq_url
from db.settings import Settings

QUERY_FILE = Path(__file__).with_name("dashboard.graphql")
PAGE_SIZE = 50  # `first: 50` in the dashboard query
# (response field, scope it needs), in the order the query selects them.
SCOPED_FIELDS = (("currentCertificate", "CERTIFICATION"), ("latestAudit", "AUDITS"),
                 ("correctiveActionPlans", "CORRECTIVE_ACTIONS"),
                 ("environmentalAssessments", "ENVIRONMENT"))
SCOPE_ORDER = "ARRAY['PROFILE','CERTIFICATION','AUDITS','CORRECTIVE_ACTIONS','ENVIRONMENT']"


def field_location(query: str, name: str) -> tuple[int, int]:
    """1-based (line, column) of a field in the query text, as GraphQL errors report it."""
    for number, line in enumerate(query.splitlines(), start=1):
        column = line.find(name)
        if column >= 0:
            return number, column + 1
    raise ValueError(f"{name} is not in the dashboard query")


def _denied_fields(query: str) -> str:
    rows = []
    for n, (name, scope) in enumerate(SCOPED_FIELDS):
        line, column = field_location(query, name)
        rows.append(f"({n}, '{name}', '{scope}', {line}, {column})")
    return "VALUES " + ", ".join(rows)


def _b64url(expression: str) -> str:
    """base64url without padding or line breaks, as schema.ids and schema.common encode."""
    return (f"rtrim(translate(encode(convert_to({expression}, 'UTF8'), 'base64'), "
            f"E'+/\\n', '-_'), '=')")


LIVE = "c.status = 'ACCEPTED' AND (c.expires_at IS NULL OR c.expires_at > now())"

# Shared by both statements, over a page row `p` and its current certificate `cert`:
# db.queries' derived status and certified-until, and the current certificate itself.
CURRENT_CERTIFICATE = """
    SELECT * FROM certificates c WHERE c.factory_id = p.id AND c.status <> 'SUPERSEDED' LIMIT 1"""
CERTIFICATION_STATUS = """CASE
            WHEN cert.status = 'REVOKED' THEN 'REVOKED'
            WHEN cert.status = 'SUSPENDED' THEN 'SUSPENDED'
            WHEN cert.status = 'ACTIVE' AND cert.valid_until >= current_date THEN 'CERTIFIED'
            WHEN EXISTS (SELECT 1 FROM applications a WHERE a.factory_id = p.id
                         AND a.status NOT IN ('CERTIFIED', 'REJECTED', 'WITHDRAWN'))
                THEN 'IN_PROGRESS'
            WHEN cert.status = 'ACTIVE' THEN 'EXPIRED'
            ELSE 'NOT_CERTIFIED' END"""
CERTIFIED_UNTIL = "CASE WHEN cert.status = 'REVOKED' THEN NULL ELSE cert.valid_until END"
FACTORY_GID = _b64url("'Factory:' || p.id")
CURSOR = _b64url("json_build_array(name, id)::text")

STATEMENT_TEMPLATE = """
WITH viewer AS (
    SELECT u.organization_id AS org_id, o.kind AS org_kind
    FROM users u JOIN organizations o ON o.id = u.organization_id
    WHERE u.id = $1 AND u.active
), connected AS (
    -- connectedOnly: a customer's factories with a live connection (visible to it by policy)
    SELECT f.id, f.name, f.country, f.city
    FROM viewer v JOIN factories f ON v.org_kind = 'CUSTOMER'
    WHERE EXISTS (SELECT 1 FROM customer_connections c
                  WHERE c.factory_id = f.id AND c.customer_id = v.org_id AND {live})
), slice AS (
    SELECT * FROM connected
    WHERE $2::text IS NULL OR (name, id) > ($2::text, $3::bigint)
    ORDER BY name, id LIMIT $4::int + 1
), page AS (
    SELECT s.*, (row_number() OVER (ORDER BY s.name, s.id) - 1)::int AS idx,
           coalesce(latest.scopes, '{{}}') AS scopes
    FROM (SELECT * FROM slice ORDER BY name, id LIMIT $4::int) s CROSS JOIN viewer v
    LEFT JOIN LATERAL (
        -- auth.access: the live connection first, else the most recent one
        SELECT CASE WHEN {live} THEN c.granted_scopes ELSE '{{}}' END AS scopes
        FROM customer_connections c WHERE c.factory_id = s.id AND c.customer_id = v.org_id
        ORDER BY c.status IN ('PENDING', 'ACCEPTED') DESC, c.requested_at DESC LIMIT 1
    ) latest ON true
), logged AS (
    INSERT INTO access_log (factory_id, organization_id, scope)
    SELECT p.id, v.org_id, f.scope
    -- the scopes the dashboard reads are those of its scoped fields, where granted
    FROM page p CROSS JOIN viewer v CROSS JOIN ({denied}) f(n, field, scope, line, col)
    WHERE f.scope = ANY (p.scopes)
), nodes AS (
    SELECT p.idx, json_build_object(
        'id', {factory_gid},
        'name', p.name, 'country', p.country, 'city', p.city,
        'certificationStatus', {certification_status},
        'certifiedUntil', {certified_until},
        'viewerAccess', json_build_object('scopes', to_json(ARRAY(
            SELECT s FROM unnest({scope_order}) WITH ORDINALITY o(s, n)
            WHERE s = ANY (p.scopes) ORDER BY n))),
        'currentCertificate', CASE WHEN 'CERTIFICATION' = ANY (p.scopes) AND cert.id IS NOT NULL
            THEN json_build_object(
                'number', cert.number,
                'status', CASE WHEN cert.status = 'ACTIVE' AND current_date > cert.valid_until
                               THEN 'EXPIRED' ELSE cert.status END,
                'issuedOn', cert.issued_on, 'validUntil', cert.valid_until) END,
        'latestAudit', CASE WHEN 'AUDITS' = ANY (p.scopes) THEN (
            SELECT json_build_object(
                'type', a.type, 'conductedOn', a.conducted_on, 'status', a.status,
                'findingsSummary', (
                    SELECT json_build_object(
                        'zeroTolerance', count(*) FILTER (WHERE fi.severity = 'ZERO_TOLERANCE'),
                        'critical', count(*) FILTER (WHERE fi.severity = 'CRITICAL'),
                        'major', count(*) FILTER (WHERE fi.severity = 'MAJOR'),
                        'minor', count(*) FILTER (WHERE fi.severity = 'MINOR'),
                        'total', count(*))
                    FROM findings fi WHERE fi.audit_id = a.id))
            FROM audits a WHERE a.factory_id = p.id
            ORDER BY a.created_at DESC, a.id DESC LIMIT 1) END,
        'correctiveActionPlans', CASE WHEN 'CORRECTIVE_ACTIONS' = ANY (p.scopes) THEN (
            SELECT coalesce(json_agg(json_build_object(
                'status', cap.status,
                'actions', (SELECT coalesce(json_agg(json_build_object(
                                'status', ca.status, 'dueDate', ca.due_date) ORDER BY ca.id),
                                '[]')
                            FROM corrective_actions ca WHERE ca.plan_id = cap.id))
                ORDER BY cap.created_at DESC, cap.id DESC), '[]')
            FROM corrective_action_plans cap JOIN audits a ON a.id = cap.audit_id
            WHERE cap.factory_id = p.id) END,
        'environmentalAssessments', CASE WHEN 'ENVIRONMENT' = ANY (p.scopes) THEN (
            SELECT coalesce(json_agg(json_build_object(
                'periodYear', ea.period_year, 'ghgTco2e', ea.ghg_tco2e,
                'verified', ea.verified) ORDER BY ea.period_year DESC), '[]')
            FROM environmental_assessments ea WHERE ea.factory_id = p.id) END
    ) AS node
    FROM page p
    LEFT JOIN LATERAL ({current_certificate}) cert ON true
), errors AS (
    SELECT json_agg(json_build_object(
        'message', 'You need ' || f.scope || ' to see this field.',
        'locations', json_build_array(json_build_object('line', f.line, 'column', f.col)),
        'path', json_build_array('factories', 'nodes', p.idx, f.field),
        'extensions', json_build_object('code', 'FORBIDDEN', 'requiredScope', f.scope))
        ORDER BY p.idx, f.n) AS list
    FROM page p CROSS JOIN ({denied}) f(n, field, scope, line, col)
    WHERE NOT f.scope = ANY (p.scopes)
), data AS (
    SELECT json_build_object('factories', json_build_object(
        'totalCount', (SELECT count(*) FROM connected),
        'pageInfo', json_build_object(
            'hasNextPage', (SELECT count(*) FROM slice) > $4::int,
            'endCursor', (SELECT {cursor} FROM page ORDER BY idx DESC LIMIT 1)),
        'nodes', coalesce((SELECT json_agg(node ORDER BY idx) FROM nodes), '[]'))) AS body
)
SELECT CASE WHEN errors.list IS NULL THEN json_build_object('data', data.body)
            ELSE json_build_object('data', data.body, 'errors', errors.list) END::text
FROM viewer, data, errors
"""


def dashboard_statement(query: str) -> str:
    return STATEMENT_TEMPLATE.format(
        live=LIVE, denied=_denied_fields(query), scope_order=SCOPE_ORDER, factory_gid=FACTORY_GID,
        cursor=CURSOR, certification_status=CERTIFICATION_STATUS,
        certified_until=CERTIFIED_UNTIL, current_certificate=CURRENT_CERTIFICATE)


STATEMENT = dashboard_statement(QUERY_FILE.read_text())

DIRECTORY_PAGE_SIZE = 100  # `first: 100` in bench/directory.graphql
# The anonymous directory (bench/directory.graphql): listed factories in (name, id) keyset
# order with their public fields, as auth.policies.visible_factories shows them to anonymous
# viewers. It reads no scoped data, so it writes no access log (neither does our API).
DIRECTORY_STATEMENT = f"""
WITH listed AS (
    SELECT id, name, country, city, product_categories FROM factories WHERE listed
), slice AS (
    SELECT * FROM listed
    WHERE $1::text IS NULL OR (name, id) > ($1::text, $2::bigint)
    ORDER BY name, id LIMIT $3::int + 1
), page AS (
    SELECT s.*, (row_number() OVER (ORDER BY s.name, s.id) - 1)::int AS idx
    FROM (SELECT * FROM slice ORDER BY name, id LIMIT $3::int) s
), nodes AS (
    SELECT p.idx, json_build_object(
        'id', {FACTORY_GID},
        'name', p.name, 'country', p.country, 'city', p.city,
        'productCategories', to_json(p.product_categories),
        'certificationStatus', {CERTIFICATION_STATUS},
        'certifiedUntil', {CERTIFIED_UNTIL}) AS node
    FROM page p LEFT JOIN LATERAL ({CURRENT_CERTIFICATE}) cert ON true
)
SELECT json_build_object('data', json_build_object('factories', json_build_object(
    'totalCount', (SELECT count(*) FROM listed),
    'pageInfo', json_build_object(
        'hasNextPage', (SELECT count(*) FROM slice) > $3::int,
        'endCursor', (SELECT {CURSOR} FROM page ORDER BY idx DESC LIMIT 1)),
    'nodes', coalesce((SELECT json_agg(node ORDER BY idx) FROM nodes), '[]'))))::text
"""


def _unauthenticated(reason: str) -> JSONResponse:
    body = {"data": None, "errors": [{"message": f"Invalid token: {reason}",
                                      "extensions": {"code": "UNAUTHENTICATED"}}]}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def _after(body: Any) -> tuple[str | None, int | None]:
    """The keyset of `variables.after`: a cursor as schema.common.encode_cursor writes it."""
    after = ((body.get("variables") or {}) if isinstance(body, dict) else {}).get("after")
    if after is None:
        return None, None
    name, pk = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
    return str(name), int(pk)


BAD_CURSOR = {"data": None, "errors": [{"message": "`after` is not a valid cursor.",
                                        "extensions": {"code": "BAD_USER_INPUT"}}]}


async def dashboard(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return _unauthenticated("missing")
    try:
        claims = verify_token(settings, token.strip())
    except InvalidToken as exc:
        return _unauthenticated(exc.reason)
    try:
        after_name, after_id = _after(json.loads(await request.body()))
    except (ValueError, TypeError):
        return JSONResponse(BAD_CURSOR)
    async with request.app.state.pool.acquire() as conn:
        text = await conn.fetchval(STATEMENT, claims.user_id, after_name, after_id, PAGE_SIZE)
    if text is None:  # no such active user: the API refuses the token the same way
        return _unauthenticated("user inactive")
    return Response(text, media_type="application/json")


async def directory(request: Request) -> Response:
    """`POST /directory`: the same body as `POST /graphql` with bench/directory.graphql (only
    `variables.after` is read), for anonymous viewers only: what a signed-in viewer sees
    differs (unlisted factories it is entitled to), and this yardstick does not build that."""
    if request.headers.get("authorization"):
        return JSONResponse({"data": None, "errors": [{
            "message": "The single-SQL directory serves anonymous viewers only.",
            "extensions": {"code": "BAD_REQUEST"}}]}, status_code=400)
    try:
        after_name, after_id = _after(json.loads(await request.body()))
    except (ValueError, TypeError):
        return JSONResponse(BAD_CURSOR)
    async with request.app.state.pool.acquire() as conn:
        text = await conn.fetchval(DIRECTORY_STATEMENT, after_name, after_id,
                                   DIRECTORY_PAGE_SIZE)
    return Response(text, media_type="application/json")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The statement leaves no session state behind (no SET, LISTEN, cursor or open
    transaction), so a connection goes back to the pool without asyncpg's reset query: one
    round trip per request, not two."""


def create_app(settings: Settings | None = None,
               query_logger: Callable[[Any], None] | None = None) -> Starlette:
    """`query_logger` (bench/measure.py) sees every statement the pool's connections run."""
    settings = settings or Settings()
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set")
    url = to_libpq_url(settings.database_url)

    async def init(conn: asyncpg.Connection) -> None:
        if query_logger is not None:
            conn.add_query_logger(query_logger)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        # 10 connections: one statement per request needs no more (the API's pool keeps 30
        # because one of its requests holds up to four at once; see bench/README.md).
        app.state.pool = await asyncpg.create_pool(
            url, min_size=1, max_size=10, init=init,
            reset=_keep_session)
        try:
            yield
        finally:
            await app.state.pool.close()

    routes = [Route("/dashboard", dashboard, methods=["POST"]),
              Route("/directory", directory, methods=["POST"]), Route("/healthz", healthz)]
    return Starlette(routes=routes, lifespan=lifespan)
