"""Exports: a customer's connected factories as CSV and XLSX, exactly what its dashboard shows
(denied values empty, its scopes in a column), logged in the access log; a supplier's own."""
import csv
import io

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from db import AccessLogEntry
from db.engine import Database
from db.enums import ConnectionStatus, ShareScope
from tests.api import world as w
from tests.helpers import Cast

HEADER = ["id", "name", "country", "city", "certificationStatus", "certifiedUntil", "address",
          "workerCount", "contactEmail", "scopes"]


async def given_customer_a_connected(database: Database, cast: Cast) -> None:
    """alpha with PROFILE and CERTIFICATION, beta with CERTIFICATION only."""
    async with database.unit_of_work() as session:
        await w.connection(session, cast.organizations["customer_a"], cast.factories["alpha"],
                           ConnectionStatus.ACCEPTED,
                           [ShareScope.PROFILE, ShareScope.CERTIFICATION])
        await w.connection(session, cast.organizations["customer_a"], cast.factories["beta"],
                           ConnectionStatus.ACCEPTED, [ShareScope.CERTIFICATION])


async def export(client: httpx.AsyncClient, token: str | None, kind: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.get(f"/exports/factories.{kind}", headers=headers)


def by_name(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    assert rows[0] == HEADER
    return {row[1].removesuffix(" factory"): dict(zip(HEADER, row, strict=True))
            for row in rows[1:]}


async def test_a_customer_exports_what_its_dashboard_shows_as_csv_and_xlsx(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    await given_customer_a_connected(database, cast)
    response = await export(client, cast.token("customer_a_user"), "csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = by_name(list(csv.reader(io.StringIO(response.text))))
    assert set(rows) == {"alpha", "beta"}  # connected only
    assert rows["alpha"]["address"] and rows["alpha"]["scopes"] == "PROFILE CERTIFICATION"
    assert rows["beta"]["address"] == "" and rows["beta"]["workerCount"] == ""  # denied: empty
    assert rows["beta"]["scopes"] == "CERTIFICATION"
    async with database.read() as conn:
        logged = (await conn.execute(select(AccessLogEntry.factory_id, AccessLogEntry.scope)
                                     )).all()
    assert (cast.factories["alpha"], "PROFILE") in logged
    assert (cast.factories["beta"], "PROFILE") not in logged

    response = await export(client, cast.token("customer_a_user"), "xlsx")
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content), read_only=True)["Factories"]
    cells = [["" if v is None else str(v) for v in row]
             for row in sheet.iter_rows(values_only=True)]
    assert by_name(cells) == rows


async def test_a_supplier_exports_its_own_factories(client: httpx.AsyncClient, cast: Cast,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("web.exports.PAGE", 1)  # every factory on a page of its own
    response = await export(client, cast.token("supplier_a_user"), "csv")
    assert response.status_code == 200, response.text
    rows = by_name(list(csv.reader(io.StringIO(response.text))))
    assert set(rows) == {"alpha", "hidden"}  # its own, unlisted too; not supplier_b's beta
    assert all(row["address"] for row in rows.values())


async def test_an_export_needs_a_signed_in_customer_or_supplier(client: httpx.AsyncClient,
                                                                cast: Cast) -> None:
    assert (await export(client, None, "csv")).status_code == 401
    assert (await export(client, cast.token("reviewer"), "csv")).status_code == 403
    assert (await export(client, cast.token("customer_a_user"), "pdf")).status_code == 404
