"""The dashboard benchmark's data set, in a database of its own (`escp_bench`).

    python bench/dataset.py [--rebuild] [--data-dir .escp-bench]

The database lives on DATABASE_URL's server, or on an embedded PostgreSQL under the bench data
dir. It is built by `alembic upgrade head` and filled with COPY from rows generated here with a
seeded random generator: the same spec and build date give the same rows. Dates are relative to
the build date, so "valid", "suspended" and "expired by date" certificates mean what they say.
Rebuilding drops and recreates the database.
"""
import argparse
import asyncio
import os
import random
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from alembic.script import ScriptDirectory

from db.embedded import ensure_database, start_embedded, to_libpq_url
from db.migrate import alembic_config, upgrade_async

BENCH_DATABASE = "escp_bench"
DASHBOARD_USER = "dashboard@bench.example"
ALL_SCOPES = ("PROFILE", "CERTIFICATION", "AUDITS", "CORRECTIVE_ACTIONS", "ENVIRONMENT")
# The customer's accepted connections cycle through these, so every page of the dashboard mixes
# full access with partial access and the response carries FORBIDDEN errors, as real ones do.
SCOPE_GROUPS = (ALL_SCOPES, ("CERTIFICATION", "AUDITS"), ("AUDITS", "CORRECTIVE_ACTIONS"),
                ("PROFILE", "ENVIRONMENT"))

COUNTRIES = {"BD": ["Dhaka", "Gazipur", "Chittagong"], "VN": ["Binh Duong", "Dong Nai", "Hanoi"],
             "TR": ["Denizli", "Bursa", "Istanbul"], "IN": ["Tiruppur", "Bengaluru", "Noida"],
             "CN": ["Dongguan", "Ningbo", "Suzhou"], "KH": ["Phnom Penh", "Kandal"],
             "PK": ["Lahore", "Faisalabad"], "ID": ["Bandung", "Semarang"], "LK": ["Colombo"],
             "MX": ["Puebla", "Tehuacan"]}
NAME_HEADS = ["Apex", "Blue River", "Crescent", "Delta", "Evergreen", "Golden Thread", "Harbor",
              "Indigo", "Jade", "Lotus", "Meridian", "Northstar", "Orchid", "Pioneer",
              "Riverside", "Saffron", "Summit", "Unity", "Victory", "Zenith"]
NAME_TAILS = ["Apparel", "Garments", "Knitwear", "Textiles", "Denim", "Footwear", "Fashions",
              "Mills"]
CATEGORIES = ["Wages", "Working hours", "Health and safety", "Child labour", "Forced labour",
              "Freedom of association", "Environment", "Management systems"]
SEVERITIES = (["ZERO_TOLERANCE"] * 3 + ["CRITICAL"] * 12 + ["MAJOR"] * 35 + ["MINOR"] * 50)


# Bumped when the rows a spec builds change, so existing bench databases are rebuilt.
DATASET_VERSION = 2


@dataclass(frozen=True)
class Spec:
    factories: int = 1000
    suppliers: int = 20
    audit_firms: int = 3
    connected: int = 200  # accepted connections of the dashboard customer
    other_connected: int = 150  # a second customer's, which the dashboard must not show
    seed: int = 7


class Rows:
    """Rows per table, with ids handed out in insertion order (ids are explicit in COPY)."""

    def __init__(self) -> None:
        self.tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}

    def add(self, table: str, **values: Any) -> int:
        columns, rows = self.tables.setdefault(table, (["id", *values], []))
        assert columns[1:] == list(values), f"{table}: columns in another order"
        rows.append((len(rows) + 1, *values.values()))
        return len(rows)


@dataclass
class Generator:
    spec: Spec
    today: date
    rows: Rows = field(default_factory=Rows)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.spec.seed)
        self.now = datetime.combine(self.today, time(9), UTC)

    def at(self, day: date, hour: int = 9) -> datetime:
        return datetime.combine(day, time(hour), UTC)

    def organization(self, name: str, kind: str) -> int:
        return self.rows.add("organizations", name=name, kind=kind, active=True)

    def generate(self) -> Rows:
        customer = self.organization("Bench Dashboard Retail", "CUSTOMER")
        other = self.organization("Bench Other Brand", "CUSTOMER")
        self.rows.add("users", email=DASHBOARD_USER, name="Dashboard buyer",
                      password_hash="!bench: no password, tokens are issued directly",
                      role="CUSTOMER", organization_id=customer, active=True)
        self.rows.add("users", email="other@bench.example", name="Other buyer",
                      password_hash="!bench", role="CUSTOMER", organization_id=other,
                      active=True)
        self.firms = {}  # firm id -> its auditors' ids
        for k in range(self.spec.audit_firms):
            firm = self.organization(f"Bench Audit Firm {k + 1}", "AUDIT_FIRM")
            self.firms[firm] = [self.rows.add("auditors", audit_firm_id=firm,
                                              name=f"Auditor {k + 1}.{j + 1}",
                                              registration_number=f"ESCP-B-{k + 1}{j + 1:02d}")
                                for j in range(3)]
        suppliers = [self.organization(f"Bench Supplier {k + 1:02d}", "SUPPLIER")
                     for k in range(self.spec.suppliers)]
        factories = [self.factory(i, suppliers[i % len(suppliers)])
                     for i in range(self.spec.factories)]
        self.connections(customer, other, factories)
        return self.rows

    def factory(self, i: int, supplier: int) -> int:
        rng = self.rng
        country = rng.choice(sorted(COUNTRIES))
        tail = rng.choice(NAME_TAILS)
        factory = self.rows.add(
            "factories", supplier_id=supplier, name=f"{rng.choice(NAME_HEADS)} {tail} {i + 1:04d}",
            country=country, city=rng.choice(COUNTRIES[country]),
            address=f"Plot {rng.randint(1, 400)}, industrial zone",
            product_categories=[tail.lower()], worker_count=rng.randint(150, 5000),
            contact_email=f"compliance@factory{i + 1}.example", listed=rng.random() >= 0.05)
        issued = self.certificates(factory)
        first, second = self.audits(factory, issued)
        application = self.rows.add(
            "applications", factory_id=factory, kind="NEW", status="CERTIFIED",
            submitted_at=self.at(first[0] - timedelta(days=60)), audit_firm_id=first[1],
            assigned_at=self.at(first[0] - timedelta(days=50)))
        self.audit(factory, application, "INITIAL_CERTIFICATION", "APPROVED", *first)
        self.audit(factory, application, rng.choice(["ANNUAL", "PROGRESS_VISIT", "FOLLOW_UP"]),
                   rng.choice(["APPROVED", "REPORT_SUBMITTED", "FOLLOW_UP_REQUIRED"]), *second)
        self.assessments(factory)
        return factory

    def certificates(self, factory: int) -> date:
        """The current certificate (mostly valid; some suspended; some expired by date, half of
        those with an open renewal), and for a quarter of factories a superseded one before it."""
        rng, today = self.rng, self.today
        kind = rng.random()
        if kind < 0.78:
            issued, status, reason = today - timedelta(days=rng.randint(2, 360)), "ACTIVE", None
        elif kind < 0.88:
            issued, status = today - timedelta(days=rng.randint(2, 360)), "SUSPENDED"
            reason = "Zero-tolerance finding under investigation"
        else:
            issued, status, reason = today - timedelta(days=rng.randint(368, 700)), "ACTIVE", None
            if rng.random() < 0.5:
                self.rows.add("applications", factory_id=factory, kind="RENEWAL",
                              status="UNDER_REVIEW", submitted_at=self.now - timedelta(days=30),
                              audit_firm_id=rng.choice(sorted(self.firms)),
                              assigned_at=self.now - timedelta(days=25))
        if rng.random() < 0.25:
            self.certificate(factory, "SUPERSEDED", issued - timedelta(days=365), issued, None)
        self.certificate(factory, status, issued, issued + timedelta(days=365), reason)
        return issued

    def certificate(self, factory: int, status: str, issued: date, until: date,
                    reason: str | None) -> None:
        number = f"C{1001 + len(self.rows.tables.get('certificates', ([], []))[1]):06d}"
        self.rows.add("certificates", number=number, factory_id=factory, status=status,
                      status_reason=reason, issued_on=issued, valid_until=until,
                      created_at=self.at(issued))

    def audits(self, factory: int, issued: date) -> tuple[tuple[date, int], tuple[date, int]]:
        """(conducted on, firm) of the initial audit and of a later one."""
        rng = self.rng
        first = issued - timedelta(days=rng.randint(40, 80))
        second = self.today - timedelta(days=rng.randint(5, 200))
        if second <= first:
            second = first + timedelta(days=20)
        return (first, rng.choice(sorted(self.firms))), (second, rng.choice(sorted(self.firms)))

    def audit(self, factory: int, application: int, type_: str, status: str,
              conducted: date, firm: int) -> None:
        rng = self.rng
        announcement = rng.choice(["ANNOUNCED", "SEMI_ANNOUNCED", "UNANNOUNCED"])
        created = self.at(conducted - timedelta(days=30))
        audit = self.rows.add(
            "audits", application_id=application, factory_id=factory, audit_firm_id=firm,
            lead_auditor_id=rng.choice(self.firms[firm]), type=type_, announcement=announcement,
            status=status, window_start=conducted - timedelta(days=15),
            window_end=conducted + timedelta(days=15),
            planned_date=None if announcement == "UNANNOUNCED" else conducted,
            conducted_on=conducted, report_submitted_at=self.at(conducted + timedelta(days=5)),
            reviewed_at=None if status == "REPORT_SUBMITTED" else self.at(
                conducted + timedelta(days=12)),
            created_at=created)
        initial = type_ == "INITIAL_CERTIFICATION"
        cap_status = "ACCEPTED" if initial else rng.choice(
            ["DRAFT", "SUBMITTED", "ACCEPTED", "RETURNED"])
        plan = self.rows.add(
            "corrective_action_plans", audit_id=audit, factory_id=factory, status=cap_status,
            due_on=conducted + timedelta(days=12),
            submitted_at=(self.at(conducted + timedelta(days=11))
                          if cap_status in ("SUBMITTED", "ACCEPTED") else None),
            created_at=created + timedelta(days=20))
        for _ in range(rng.randint(3, 8)):
            self.finding(audit, plan, conducted, initial)

    def finding(self, audit: int, plan: int, conducted: date, closed: bool) -> None:
        rng = self.rng
        category = rng.choice(CATEGORIES)
        finding = self.rows.add(
            "findings", audit_id=audit, clause=f"{rng.randint(1, 12)}.{rng.randint(1, 9)}",
            category=category, severity=rng.choice(SEVERITIES),
            description=f"{category}: non-conformity observed on site")
        status = rng.choice(["DONE", "VERIFIED", "VERIFIED"] if closed
                            else ["OPEN", "OPEN", "DONE"])
        self.rows.add("corrective_actions", plan_id=plan, finding_id=finding,
                      action=f"Correct the {category.lower()} non-conformity",
                      due_date=conducted + timedelta(days=rng.randint(30, 120)), status=status,
                      agrees_with_finding=rng.random() > 0.1)

    def assessments(self, factory: int) -> None:
        rng = self.rng
        for year in (self.today.year - 2, self.today.year - 1):
            verified = rng.random() < 0.7
            self.rows.add(
                "environmental_assessments", factory_id=factory, period_year=year,
                energy_kwh=round(rng.uniform(1e5, 5e6), 1),
                water_m3=round(rng.uniform(1e3, 1e5), 1),
                waste_kg=round(rng.uniform(1e3, 5e5), 1), ghg_tco2e=round(rng.uniform(50, 5000), 1),
                verified=verified, verified_at=self.now - timedelta(days=40) if verified else None,
                submitted_at=self.now - timedelta(days=60))

    def connections(self, customer: int, other: int, factories: list[int]) -> None:
        """The dashboard customer: `connected` accepted connections in SCOPE_GROUPS, plus some
        that must not show (declined, pending, revoked, accepted but expired); and another
        customer's accepted connections."""
        rng, spec = self.rng, self.spec
        chosen = rng.sample(factories, min(len(factories), spec.connected + 40))
        for k, factory in enumerate(chosen[:spec.connected]):
            scopes = list(SCOPE_GROUPS[k % len(SCOPE_GROUPS)])
            expires = self.now + timedelta(days=200) if k % 5 == 4 else None
            self.connection(factory, customer, "ACCEPTED", scopes, scopes, expires)
        for k, factory in enumerate(chosen[spec.connected:]):
            status = ["DECLINED", "PENDING", "REVOKED", "ACCEPTED"][k % 4]
            granted = ["AUDITS"] if status == "ACCEPTED" else []
            expires = self.now - timedelta(days=3) if status == "ACCEPTED" else None
            self.connection(factory, customer, status, ["AUDITS"], granted, expires)
        for factory in rng.sample(factories, min(len(factories), spec.other_connected)):
            self.connection(factory, other, "ACCEPTED", list(ALL_SCOPES), list(ALL_SCOPES), None)

    def connection(self, factory: int, customer: int, status: str, requested: list[str],
                   granted: list[str], expires: datetime | None) -> None:
        asked = self.now - timedelta(days=self.rng.randint(30, 400))
        self.rows.add("customer_connections", factory_id=factory, customer_id=customer,
                      status=status, requested_scopes=requested, granted_scopes=granted,
                      message="Please share your compliance data", requested_at=asked,
                      responded_at=None if status == "PENDING" else asked + timedelta(days=2),
                      expires_at=expires)


def generate(spec: Spec, today: date) -> Rows:
    return Generator(spec, today).generate()


# Parents before children, so COPY never meets a missing foreign key.
TABLE_ORDER = ("organizations", "users", "auditors", "factories", "applications", "certificates",
               "audits", "corrective_action_plans", "findings", "corrective_actions",
               "environmental_assessments", "customer_connections")


async def populate(conn: asyncpg.Connection, spec: Spec = Spec(),
                   today: date | None = None) -> dict[str, int]:
    """COPY the generated rows into a migrated, empty database; return row counts per table."""
    rows = generate(spec, today or date.today())
    counts = {}
    async with conn.transaction():
        for table in TABLE_ORDER:
            columns, records = rows.tables[table]
            await conn.copy_records_to_table(table, records=records, columns=columns)
            # Ids were explicit: move each identity past them so later inserts do not collide.
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))")
            counts[table] = len(records)
        await conn.execute("SELECT setval('certificate_number_seq', $1)",
                           1000 + counts["certificates"])
        # What expired before the build is old news, as after a deploy (the migration that
        # added the markers does the same): the app's expiry sweep must not announce it, and
        # write events and notices, in the middle of a measured run.
        await conn.execute("UPDATE certificates SET expiry_announced_on = current_date "
                           "WHERE status = 'ACTIVE' AND valid_until < current_date")
        await conn.execute("UPDATE customer_connections SET expiry_announced_at = now() "
                           "WHERE status = 'ACCEPTED' AND expires_at <= now()")
    return counts


def server_url(data_dir: Path) -> str:
    """DATABASE_URL's server, or the embedded PostgreSQL under the bench data dir (started)."""
    return os.environ.get("DATABASE_URL") or start_embedded(data_dir.resolve())


def database_url(server: str, name: str) -> str:
    """The server's URL pointing at database `name` (query string kept)."""
    base, _, query = to_libpq_url(server).partition("?")
    return f"{base.rpartition('/')[0]}/{name}" + (f"?{query}" if query else "")


def _marker(spec: Spec) -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    return f"escp-bench v{DATASET_VERSION} {head} {sorted(asdict(spec).items())}"


async def is_ready(server: str, spec: Spec = Spec()) -> bool:
    """The bench database exists and was built for this spec at the newest migration."""
    conn = await asyncpg.connect(database_url(server, "postgres"))
    try:
        comment = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            BENCH_DATABASE)
    finally:
        await conn.close()
    return bool(comment) and comment.startswith(_marker(spec))


async def build(server: str, spec: Spec = Spec()) -> str:
    """Drop and recreate `escp_bench`, migrate it, fill it; return its URL."""
    url = await ensure_database(server, BENCH_DATABASE, drop_first=True)
    await upgrade_async(url)
    conn = await asyncpg.connect(to_libpq_url(url))
    try:
        counts = await populate(conn, spec)
        await conn.execute("ANALYZE")
        built = f"{_marker(spec)} built {date.today().isoformat()}".replace("'", "''")
        await conn.execute(f"COMMENT ON DATABASE {BENCH_DATABASE} IS '{built}'")
    finally:
        await conn.close()
    print(f"built {BENCH_DATABASE}:", ", ".join(f"{t} {n}" for t, n in counts.items()))
    return url


async def ensure(server: str, rebuild: bool = False, spec: Spec = Spec()) -> str:
    """The URL of the bench database, built first if it is missing, stale or `rebuild`."""
    if rebuild or not await is_ready(server, spec):
        return await build(server, spec)
    return database_url(server, BENCH_DATABASE)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rebuild", action="store_true", help="drop and rebuild even if present")
    p.add_argument("--data-dir", type=Path, default=Path(".escp-bench"),
                   help="embedded PostgreSQL's home when DATABASE_URL is unset")
    args = p.parse_args(argv)
    url = asyncio.run(ensure(server_url(args.data_dir), rebuild=args.rebuild))
    print(url)


if __name__ == "__main__":
    main()

