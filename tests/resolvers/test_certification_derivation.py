"""The factory certification status is stated twice: in SQL (db.queries, for reads and filters)
and in Python (certification_rules.factory_certification_status). This holds them together over
every combination of current certificate, expiry and applications."""
from datetime import date, timedelta
from itertools import product

from sqlalchemy import select

from db import Application, Certificate, Factory, Organization
from db.engine import Database
from db.enums import ApplicationStatus, CertificateStatus, CertificationStatus, OrganizationKind
from db.queries import certification_of_factories, certification_status_of
from resolvers.certification_rules import factory_certification_status
from resolvers.loaders import ids_param

# Expiry as days from the day the test runs (not the day it was collected).
CERTIFICATES = [None] + [
    (status, offset)
    for status, offset in product(
        (CertificateStatus.ACTIVE, CertificateStatus.SUSPENDED, CertificateStatus.REVOKED),
        (-400, -1, 0, 1, 200))]
# What the factory's applications look like: none, only closed ones, or an open one.
APPLICATIONS = {
    "none": [],
    "closed": [ApplicationStatus.CERTIFIED, ApplicationStatus.REJECTED],
    "open": [ApplicationStatus.WITHDRAWN, ApplicationStatus.UNDER_REVIEW],
}
CASES = list(product(CERTIFICATES, APPLICATIONS))


async def given_factories(database: Database, today: date) -> dict[int, tuple]:
    """One factory per case, plus a superseded certificate on each to be ignored."""
    cases: dict[int, tuple] = {}
    async with database.unit_of_work() as session:
        supplier = Organization(name="supplier", kind=OrganizationKind.SUPPLIER.value)
        session.add(supplier)
        await session.flush()
        for n, (certificate, applications) in enumerate(CASES):
            factory = Factory(supplier_id=supplier.id, name=f"case {n}", country="BD")
            session.add(factory)
            await session.flush()
            if certificate is not None:
                certificate = (certificate[0], today + timedelta(days=certificate[1]))
            cases[factory.id] = (certificate, applications)
            session.add(Certificate(number=f"C{800000 + n}", factory_id=factory.id,
                                    status=CertificateStatus.SUPERSEDED.value,
                                    issued_on=today - timedelta(days=800),
                                    valid_until=today + timedelta(days=300)))
            if certificate is not None:
                status, valid_until = certificate
                session.add(Certificate(number=f"C{900000 + n}", factory_id=factory.id,
                                        status=status.value,
                                        issued_on=valid_until - timedelta(days=364),
                                        valid_until=valid_until))
            session.add_all(Application(factory_id=factory.id, kind="NEW", status=status.value)
                            for status in APPLICATIONS[applications])
    return cases


async def test_sql_and_python_derive_the_same_status_for_every_case(database: Database) -> None:
    today = date.today()
    cases = await given_factories(database, today)

    async with database.read() as conn:
        rows = (await conn.execute(certification_of_factories(ids_param(list(cases))))).all()
        filtered = {status: set((await conn.execute(select(Factory.id).where(
            certification_status_of(Factory.id) == status.value))).scalars())
            for status in CertificationStatus}

    derived = {row.factory_id: CertificationStatus(row.status) for row in rows}
    expected = {factory_id: factory_certification_status(certificate, applications == "open",
                                                         today)
                for factory_id, (certificate, applications) in cases.items()}
    mismatches = {cases[f]: (derived[f], expected[f]) for f in cases if derived[f] != expected[f]}
    assert mismatches == {}
    for status, factory_ids in filtered.items():
        assert factory_ids == {f for f, s in expected.items() if s is status}, status
    assert set(expected.values()) == set(CertificationStatus)  # the table reaches every status
