"""Test helpers: a GraphQL client call, and a cast of organizations, users and factories.

The cast is written straight into the database (it is the "given" of a test); everything a test
then checks goes through the API over HTTP.
"""
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from argon2 import Parameters, PasswordHasher
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette

import db
from auth import passwords
from auth.passwords import hash_password
from auth.tokens import issue_token
from db import Auditor, Factory, Organization, User
from db.engine import Database
from db.enums import OrganizationKind, Role
from db.settings import Settings
from schema.ids import encode_id

PASSWORD = "correct horse battery"


async def gql(client: httpx.AsyncClient, query: str, token: str | None = None,
              **variables: Any) -> dict[str, Any]:
    """POST a GraphQL operation; asserts HTTP 200 and returns the JSON body."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables},
                                 headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def errors_at(body: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The response's errors keyed by path, for asserting denials one field at a time."""
    return {tuple(e.get("path") or ()): e for e in body.get("errors", [])}


@contextmanager
def statements(app: Starlette) -> Iterator[list[str]]:
    """The SQL the app sends while the block runs (a listener on its engine, removed after).
    An executemany (one statement text, many executions) is marked as such."""
    engine = app.state.database.engine.sync_engine
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        seen.append(f"{statement} -- executemany" if executemany else statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def truncate_all(database: Database) -> None:
    """Empty every table (the next test starts from nothing)."""
    tables = ", ".join(t.name for t in db.Base.metadata.sorted_tables)
    for attempt in range(5):
        try:
            async with database.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
        except DBAPIError as exc:
            # A served app's expiry sweep can hold a lock TRUNCATE needs while waiting for one
            # TRUNCATE took: PostgreSQL ends one of them; try again.
            if "deadlock" not in str(exc) or attempt == 4:
                raise


@dataclass
class Person:
    user_id: int
    organization_id: int
    email: str
    token: str


@dataclass
class Cast:
    """Who is who in a test: ids, global ids and tokens."""

    settings: Settings
    people: dict[str, Person] = field(default_factory=dict)
    organizations: dict[str, int] = field(default_factory=dict)
    factories: dict[str, int] = field(default_factory=dict)
    auditors: dict[str, int] = field(default_factory=dict)

    def token(self, who: str) -> str:
        return self.people[who].token

    def factory_gid(self, name: str) -> str:
        return encode_id("Factory", self.factories[name])

    def org_gid(self, name: str) -> str:
        return encode_id("Organization", self.organizations[name])


async def add_organization(database: Database, cast: Cast, key: str,
                           kind: OrganizationKind) -> int:
    async with database.unit_of_work() as session:
        org = Organization(name=f"{key} org", kind=kind.value)
        session.add(org)
        await session.flush()
        cast.organizations[key] = org.id
        return org.id


async def add_person(database: Database, cast: Cast, key: str, organization: str,
                     role: Role) -> Person:
    email = f"{key}@example.test"
    async with database.unit_of_work() as session:
        user = User(email=email, name=key, password_hash=hash_password(PASSWORD),
                    role=role.value, organization_id=cast.organizations[organization])
        session.add(user)
        await session.flush()
        token, _ = issue_token(cast.settings, user_id=user.id, organization_id=user.organization_id,
                               role=role.value)
        cast.people[key] = Person(user.id, user.organization_id, email, token)
        return cast.people[key]


async def add_factory(database: Database, cast: Cast, key: str, supplier: str,
                      listed: bool = True, country: str = "BD") -> int:
    async with database.unit_of_work() as session:
        factory = Factory(supplier_id=cast.organizations[supplier], name=f"{key} factory",
                          country=country, city="Dhaka", address=f"{key} street 1",
                          worker_count=100, contact_email=f"{key}@factory.test", listed=listed,
                          product_categories=["knitwear"])
        session.add(factory)
        await session.flush()
        cast.factories[key] = factory.id
        return factory.id


async def add_auditor(database: Database, cast: Cast, key: str, firm: str) -> int:
    async with database.unit_of_work() as session:
        auditor = Auditor(audit_firm_id=cast.organizations[firm], name=key,
                          registration_number=f"REG-{key}".upper())
        session.add(auditor)
        await session.flush()
        cast.auditors[key] = auditor.id
        return auditor.id


async def standard_cast(database: Database, settings: Settings) -> Cast:
    """The program (admin, reviewer), two audit firms, two suppliers with factories (one of them
    unlisted), and two customers, each with one signed-in user."""
    cast = Cast(settings)
    await add_organization(database, cast, "program", OrganizationKind.PROGRAM)
    await add_person(database, cast, "admin", "program", Role.ADMIN)
    await add_person(database, cast, "reviewer", "program", Role.REVIEWER)
    for firm in ("firm_a", "firm_b"):
        await add_organization(database, cast, firm, OrganizationKind.AUDIT_FIRM)
        await add_person(database, cast, f"{firm}_user", firm, Role.AUDITOR)
        await add_auditor(database, cast, f"{firm}_lead", firm)
    for supplier in ("supplier_a", "supplier_b"):
        await add_organization(database, cast, supplier, OrganizationKind.SUPPLIER)
        await add_person(database, cast, f"{supplier}_user", supplier, Role.SUPPLIER)
    await add_factory(database, cast, "alpha", "supplier_a")
    await add_factory(database, cast, "hidden", "supplier_a", listed=False)
    await add_factory(database, cast, "beta", "supplier_b", country="VN")
    for customer in ("customer_a", "customer_b"):
        await add_organization(database, cast, customer, OrganizationKind.CUSTOMER)
        await add_person(database, cast, f"{customer}_user", customer, Role.CUSTOMER)
    return cast


def timeless(event: dict[str, Any]) -> dict[str, Any]:
    """An event without its `at`, once `at` is checked to be a moment of the last minute."""
    rest = dict(event)
    at = datetime.fromisoformat(rest.pop("at"))
    assert timedelta(0) <= datetime.now(UTC) - at < timedelta(minutes=1), at
    return rest


class WatchedHasher(PasswordHasher):
    """A password hasher that counts its verifications, the most that ran at once and the
    threads they ran on (sign-in runs them on the hash threads)."""

    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        self.verified = self.running = self.most_at_once = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._lock:
            self.verified += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.threads.add(threading.current_thread().name)
        try:
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


@contextmanager
def watched_hashing(profile: Parameters) -> Iterator[WatchedHasher]:
    """auth.passwords hashes and verifies with `profile`, watched, while the block runs (its
    dummy hash too, made again with that profile)."""
    hasher = WatchedHasher.from_parameters(profile)
    original = passwords._hasher
    passwords._hasher = hasher
    passwords._dummy_hash.cache_clear()
    try:
        # argon2 types from_parameters as making a PasswordHasher, though it makes a cls
        yield hasher  # type: ignore[misc]
    finally:
        passwords._hasher = original
        passwords._dummy_hash.cache_clear()
