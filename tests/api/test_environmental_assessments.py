"""submitEnvironmentalAssessment (owning supplier) and verifyEnvironmentalAssessment (program)."""
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select

from db import EnvironmentalAssessment
from db.engine import Database
from schema.ids import encode_id
from tests.given import CSV, connect, uploaded
from tests.helpers import Cast, errors_at, gql

SUBMIT = """
mutation($input: SubmitEnvironmentalAssessmentInput!) {
  submitEnvironmentalAssessment(input: $input) {
    environmentalAssessment { id periodYear energyKwh waterM3 wasteKg ghgTco2e verified
                              factory { id } report { filename downloadUrl } }
    userErrors { field message code }
  }
}
"""
VERIFY = """
mutation($input: VerifyEnvironmentalAssessmentInput!) {
  verifyEnvironmentalAssessment(input: $input) {
    environmentalAssessment { id verified }
    userErrors { field message code }
  }
}
"""
ASSESSMENTS = """
query($id: ID!) { factory(id: $id) { environmentalAssessments { periodYear energyKwh verified
                                                                report { downloadUrl } } } }
"""
YEAR = date.today().year - 1
FIGURES = {"energyKwh": 125000.5, "waterM3": 3400.0, "wasteKg": 0.0, "ghgTco2e": 61.25}


async def submit(client: httpx.AsyncClient, token: str | None, cast: Cast,
                 factory: str = "alpha", **fields: Any) -> dict[str, Any]:
    values = {"factoryId": cast.factory_gid(factory), "periodYear": YEAR, **FIGURES, **fields}
    return await gql(client, SUBMIT, token, input=values)


async def verify(client: httpx.AsyncClient, token: str | None, assessment: str
                 ) -> dict[str, Any]:
    return await gql(client, VERIFY, token, input={"assessmentId": assessment})


def payload(body: dict[str, Any], name: str = "submitEnvironmentalAssessment"
            ) -> dict[str, Any]:
    return body["data"][name]


def user_error(body: dict[str, Any], name: str = "submitEnvironmentalAssessment"
               ) -> dict[str, Any]:
    result = payload(body, name)
    assert result["environmentalAssessment"] is None
    [error] = result["userErrors"]
    return error


async def assessments(database: Database) -> list[Any]:
    """Every assessment row, to compare before and after a refusal."""
    async with database.read() as conn:
        return list((await conn.execute(select(*EnvironmentalAssessment.__table__.c)
                                        .order_by(EnvironmentalAssessment.id))).all())


async def submitted(client: httpx.AsyncClient, cast: Cast, **fields: Any) -> str:
    body = await submit(client, cast.token("supplier_a_user"), cast, **fields)
    assert payload(body)["userErrors"] == []
    return payload(body)["environmentalAssessment"]["id"]


async def test_owning_supplier_submits_a_years_figures_with_a_report(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    report = await uploaded(client, cast.token("supplier_a_user"), CSV, "energy.csv", "text/csv")

    body = await submit(client, cast.token("supplier_a_user"), cast, reportDocumentId=report)

    result = payload(body)
    assert result["userErrors"] == []
    assessment = result["environmentalAssessment"]
    assert {k: assessment[k] for k in FIGURES} == FIGURES
    assert (assessment["periodYear"], assessment["verified"], assessment["factory"]["id"]) == (
        YEAR, False, cast.factory_gid("alpha"))
    assert assessment["report"]["filename"] == "energy.csv"
    downloaded = await client.get(assessment["report"]["downloadUrl"])
    assert downloaded.content == CSV


async def test_a_connected_customer_with_environment_reads_it(client: httpx.AsyncClient,
                                                              cast: Cast,
                                                              database: Database) -> None:
    await submitted(client, cast)
    await connect(database, cast, "customer_a", "alpha", ["ENVIRONMENT"])
    body = await gql(client, ASSESSMENTS, cast.token("customer_a_user"),
                     id=cast.factory_gid("alpha"))
    assert body["data"]["factory"]["environmentalAssessments"] == [
        {"periodYear": YEAR, "energyKwh": FIGURES["energyKwh"], "verified": False,
         "report": None}]


async def test_resubmitting_an_unverified_year_replaces_its_figures(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    first = await submitted(client, cast)

    second = await submitted(client, cast, energyKwh=99.5, waterM3=None)

    assert second == first
    [row] = await assessments(database)
    assert (row.energy_kwh, row.water_m3, row.waste_kg) == (99.5, None, 0.0)


async def test_the_supplier_submits_for_its_unlisted_factory_and_next_year(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    body = await submit(client, cast.token("supplier_a_user"), cast, factory="hidden",
                        periodYear=date.today().year + 1)
    assert payload(body)["userErrors"] == []


async def test_a_supplier_not_owning_the_factory_gets_not_found(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    for factory_gid in (cast.factory_gid("alpha"), cast.factory_gid("hidden"),
                        encode_id("Factory", 999_999), "garbage"):
        body = await gql(client, SUBMIT, cast.token("supplier_b_user"),
                         input={"factoryId": factory_gid, "periodYear": YEAR})
        error = user_error(body)
        assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "factoryId"])
    assert await assessments(database) == []


async def test_other_roles_and_anonymous_cannot_submit(client: httpx.AsyncClient, cast: Cast,
                                                       database: Database) -> None:
    for who, code in ((None, "UNAUTHENTICATED"), ("customer_a_user", "FORBIDDEN"),
                      ("firm_a_user", "FORBIDDEN"), ("reviewer", "FORBIDDEN")):
        body = await submit(client, cast.token(who) if who else None, cast)
        assert body["data"] is None
        assert errors_at(body)[("submitEnvironmentalAssessment",)]["extensions"]["code"] == code
    assert await assessments(database) == []


async def test_years_and_figures_out_of_range_are_validation_errors(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"periodYear": 1989}, ["input", "periodYear"]),
        ({"periodYear": date.today().year + 2}, ["input", "periodYear"]),
        ({"energyKwh": -1.0}, ["input", "energyKwh"]),
        ({"ghgTco2e": -0.01}, ["input", "ghgTco2e"])]
    for fields, path in cases:
        error = user_error(await submit(client, cast.token("supplier_a_user"), cast, **fields))
        assert (error["code"], error["field"]) == ("VALIDATION", path), fields
    assert await assessments(database) == []


async def test_a_report_uploaded_by_another_organization_is_refused(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    await submitted(client, cast)
    before = await assessments(database)
    theirs = await uploaded(client, cast.token("supplier_b_user"))
    for report in (theirs, encode_id("Document", 999_999), cast.factory_gid("alpha")):
        error = user_error(await submit(client, cast.token("supplier_a_user"), cast,
                                        energyKwh=1.0, reportDocumentId=report))
        assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "reportDocumentId"])
    assert await assessments(database) == before


async def test_reviewer_verifies_and_the_verified_year_is_final(client: httpx.AsyncClient,
                                                               cast: Cast,
                                                               database: Database) -> None:
    assessment = await submitted(client, cast)

    body = await verify(client, cast.token("reviewer"), assessment)

    assert payload(body, "verifyEnvironmentalAssessment") == {
        "environmentalAssessment": {"id": assessment, "verified": True}, "userErrors": []}
    [row] = await assessments(database)
    assert (row.verified, row.verified_by_id) == (True, cast.people["reviewer"].user_id)
    assert row.verified_at is not None
    error = user_error(await submit(client, cast.token("supplier_a_user"), cast, energyKwh=1.0))
    assert (error["code"], error["field"]) == ("ALREADY_VERIFIED", ["input", "periodYear"])
    again = user_error(await verify(client, cast.token("admin"), assessment),
                       "verifyEnvironmentalAssessment")
    assert again["code"] == "ALREADY_VERIFIED"
    assert await assessments(database) == [row]


async def test_admin_verifies_too(client: httpx.AsyncClient, cast: Cast,
                                  database: Database) -> None:
    assessment = await submitted(client, cast)
    body = await verify(client, cast.token("admin"), assessment)
    assert payload(body, "verifyEnvironmentalAssessment")["environmentalAssessment"][
        "verified"] is True


async def test_only_the_program_verifies(client: httpx.AsyncClient, cast: Cast,
                                         database: Database) -> None:
    assessment = await submitted(client, cast)
    before = await assessments(database)
    for who, code in ((None, "UNAUTHENTICATED"), ("supplier_a_user", "FORBIDDEN"),
                      ("customer_a_user", "FORBIDDEN"), ("firm_a_user", "FORBIDDEN")):
        body = await verify(client, cast.token(who) if who else None, assessment)
        error = errors_at(body)[("verifyEnvironmentalAssessment",)]
        assert error["extensions"]["code"] == code, who
    assert await assessments(database) == before


async def test_verifying_an_unknown_assessment_is_not_found(client: httpx.AsyncClient,
                                                            cast: Cast,
                                                            database: Database) -> None:
    for gid in (encode_id("EnvironmentalAssessment", 999_999), cast.factory_gid("alpha")):
        error = user_error(await verify(client, cast.token("reviewer"), gid),
                           "verifyEnvironmentalAssessment")
        assert (error["code"], error["field"]) == ("NOT_FOUND", ["input", "assessmentId"])
