"""`escp demo` puts factories at every stage of certification, through the workflow itself."""
import httpx
from sqlalchemy import func, select

from auth.tokens import issue_token
from db import Application, Certificate, Fee, User, WorkflowTransition
from db.engine import Database
from db.settings import Settings
from demo.data import load_demo

ADMIN_VIEW = """
query {
  factories(first: 20) {
    nodes {
      name certificationStatus
      applications {
        status
        audits { status announcement findings { severity } correctiveActionPlan { status } }
      }
    }
  }
}
"""

async def admin_token(database: Database, settings: Settings) -> str:
    async with database.read() as conn:
        admin = (await conn.execute(select(User).where(
            User.email == "admin@escp.example"))).one()
    token, _ = issue_token(settings, user_id=admin.id, organization_id=admin.organization_id,
                           role=admin.role)
    return token


async def counts(database: Database) -> tuple[int, ...]:
    async with database.read() as conn:
        return tuple([(await conn.execute(select(func.count()).select_from(table))).scalar_one()
                      for table in (Application, Fee, Certificate, WorkflowTransition)])


async def test_demo_factories_stand_at_every_stage_and_a_second_load_adds_nothing(
        client: httpx.AsyncClient, database: Database, settings: Settings) -> None:
    await load_demo(database, settings)
    before = await counts(database)
    await load_demo(database, settings)
    assert await counts(database) == before

    response = await client.post("/graphql", json={"query": ADMIN_VIEW}, headers={
        "Authorization": f"Bearer {await admin_token(database, settings)}"})
    factories = {f["name"]: f for f in response.json()["data"]["factories"]["nodes"]}

    stages = {name: (f["certificationStatus"], [a["status"] for a in f["applications"]])
              for name, f in factories.items()}
    assert stages == {
        "Anatolia Denim Mill": ("IN_PROGRESS", ["UNDER_REVIEW"]),
        "Anatolia Home Textiles": ("IN_PROGRESS", ["AUDIT_FIRM_ASSIGNED"]),
        "Dhaka Knit Unit 1": ("CERTIFIED", ["CERTIFIED"]),
        "Dhaka Knit Unit 2": ("IN_PROGRESS", ["SUBMITTED"]),
        "Saigon Footwear Binh Duong": ("CERTIFIED", ["CERTIFIED"]),
        "Saigon Footwear Dong Nai": ("IN_PROGRESS", ["AUDIT_SCHEDULED"]),
        "Saigon Footwear Long An": ("SUSPENDED", ["CERTIFIED"]),
        "Anatolia Knit Works": ("IN_PROGRESS", ["UNDER_REVIEW", "REJECTED"]),
    }
    visits = factories["Saigon Footwear Dong Nai"]["applications"][0]["audits"]
    assert sorted((a["status"], a["announcement"]) for a in visits) == [
        ("CANCELLED", "UNANNOUNCED"), ("SCHEDULED", "UNANNOUNCED")]
    rounds = factories["Dhaka Knit Unit 1"]["applications"][0]["audits"]
    assert sorted((a["status"], a["correctiveActionPlan"]["status"]) for a in rounds) == [
        ("APPROVED", "ACCEPTED"), ("FOLLOW_UP_REQUIRED", "RETURNED")]
    (reviewed,) = factories["Anatolia Denim Mill"]["applications"][0]["audits"]
    assert len(reviewed["findings"]) == 2
    assert reviewed["correctiveActionPlan"] == {"status": "DRAFT"}
