"""Environmental assessments: yearly figures the owning supplier reports, verified by the program.

One assessment per factory and year. Until the program verifies it the supplier may submit it
again (the new submission replaces the figures); a verified assessment is final.
"""
import math
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth.policies import owned_factories
from auth.viewer import Viewer
from db import EnvironmentalAssessment, Factory
from resolvers.document import require_own_documents
from resolvers.errors import BusinessRuleError, not_found

FIRST_YEAR = 1990
Assessment = EnvironmentalAssessment


@dataclass(frozen=True)
class Figures:
    energy_kwh: float | None = None
    water_m3: float | None = None
    waste_kg: float | None = None
    ghg_tco2e: float | None = None


_INPUT_NAMES = {"energy_kwh": "energyKwh", "water_m3": "waterM3", "waste_kg": "wasteKg",
                "ghg_tco2e": "ghgTco2e"}


def check_figures(period_year: int, figures: Figures, today: date) -> None:
    if not FIRST_YEAR <= period_year <= today.year + 1:
        raise BusinessRuleError("VALIDATION",
                                f"The period year is between {FIRST_YEAR} and {today.year + 1}.",
                                ["input", "periodYear"])
    for f in fields(figures):
        value = getattr(figures, f.name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise BusinessRuleError("VALIDATION", "Figures are finite and not negative.",
                                    ["input", _INPUT_NAMES[f.name]])


async def _require_owned_factory(session: AsyncSession, viewer: Viewer,
                                 factory_id: int | None) -> None:
    found = factory_id is not None and await session.scalar(
        select(Factory.id).where(Factory.id == factory_id, owned_factories(viewer)))
    if not found:
        raise not_found("factory", ["input", "factoryId"])


async def submit_environmental_assessment(
        session: AsyncSession, viewer: Viewer, factory_id: int | None, period_year: int,
        figures: Figures, report_document_id: int | None = None, *,
        report_given: bool = False, today: date | None = None) -> Any:
    """Create the factory's assessment for the year, or replace an unverified one.

    `report_given`: a report id was sent (even one that decodes to nothing).
    Codes: NOT_FOUND (factory, report document), VALIDATION, ALREADY_VERIFIED.
    """
    await _require_owned_factory(session, viewer, factory_id)
    check_figures(period_year, figures, today or date.today())
    if report_given:
        await require_own_documents(session, viewer,
                                    [(report_document_id, ["input", "reportDocumentId"])])
    values = {f.name: getattr(figures, f.name) for f in fields(figures)}
    values["report_document_id"] = report_document_id
    # One statement decides: concurrent submissions of one year cannot both insert, and a
    # verified assessment is never overwritten.
    statement = (insert(Assessment)
                 .values(factory_id=factory_id, period_year=period_year, **values)
                 .on_conflict_do_update(index_elements=[Assessment.factory_id,
                                                        Assessment.period_year],
                                        set_={**values, "submitted_at": func.now()},
                                        where=Assessment.verified.is_(False))
                 .returning(*Assessment.__table__.c))
    row = (await session.execute(statement)).first()
    if row is None:
        raise BusinessRuleError("ALREADY_VERIFIED",
                                f"The {period_year} assessment is verified and cannot change.",
                                ["input", "periodYear"])
    return row


async def verify_environmental_assessment(session: AsyncSession, viewer: Viewer,
                                          assessment_id: int | None) -> Any:
    """Codes: NOT_FOUND, ALREADY_VERIFIED."""
    statement = (update(Assessment)
                 .where(Assessment.id == assessment_id, Assessment.verified.is_(False))
                 .values(verified=True, verified_at=func.now(), verified_by_id=viewer.user_id)
                 .returning(*Assessment.__table__.c))
    row = (await session.execute(statement)).first() if assessment_id is not None else None
    if row is not None:
        return row
    exists = assessment_id is not None and await session.scalar(
        select(Assessment.id).where(Assessment.id == assessment_id))
    if not exists:
        raise not_found("environmental assessment", ["input", "assessmentId"])
    raise BusinessRuleError("ALREADY_VERIFIED", "The assessment is already verified.",
                            ["input", "assessmentId"])

