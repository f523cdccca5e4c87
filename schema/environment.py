"""Environmental assessments."""
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from auth.permissions import Scope, roles
from db.enums import Role, ShareScope
from overrides.guards import guarded
from resolvers import environment as assessments
from schema.common import Node, UserError, user_errors
from schema.document import Document, document
from schema.ids import decode_as, encode_id
from schema.mutation import perform
from schema.user_errors import ENVIRONMENT_ERRORS

if TYPE_CHECKING:
    from schema.factory import Factory

FactoryRef = Annotated["Factory", strawberry.lazy("schema.factory")]
ENVIRONMENT = ShareScope.ENVIRONMENT


@strawberry.type(description="A factory's environmental figures for one calendar year, "
                             "reported by its supplier and verified by the program.")
class EnvironmentalAssessment(Node):
    factory_id: strawberry.Private[int]
    report_document_id: strawberry.Private[int | None]
    period_year: int | None = guarded(Scope(ENVIRONMENT), description=(
        "The calendar year the figures cover."))
    energy_kwh: float | None = guarded(Scope(ENVIRONMENT), description=(
        "Energy used over the year, in kilowatt-hours; null if not reported."))
    water_m3: float | None = guarded(Scope(ENVIRONMENT), description=(
        "Water withdrawn over the year, in cubic metres; null if not reported."))
    waste_kg: float | None = guarded(Scope(ENVIRONMENT), description=(
        "Waste produced over the year, in kilograms; null if not reported."))
    ghg_tco2e: float | None = guarded(Scope(ENVIRONMENT), description=(
        "Greenhouse-gas emissions over the year, in tonnes of CO2 equivalent; null if not "
        "reported."))
    verified: bool | None = guarded(Scope(ENVIRONMENT), description=(
        "The program verified the figures; a verified assessment is final."))

    @guarded(Scope(ENVIRONMENT), description="The factory assessed.")
    async def factory(self, info: Info) -> FactoryRef | None:
        from schema.factory import factory_by_id

        return await factory_by_id(info, self.factory_id)  # type: ignore[return-value]

    @guarded(Scope(ENVIRONMENT), description="The assessment's report; null if none uploaded.")
    async def report(self, info: Info) -> Document | None:
        return await document(info, self.report_document_id, self, ENVIRONMENT)

    @classmethod
    def from_row(cls, row: Any) -> "EnvironmentalAssessment":
        return cls(id=strawberry.ID(encode_id("EnvironmentalAssessment", row.id)),
                   factory_id=row.factory_id, report_document_id=row.report_document_id,
                   period_year=row.period_year, energy_kwh=row.energy_kwh, water_m3=row.water_m3,
                   waste_kg=row.waste_kg, ghg_tco2e=row.ghg_tco2e, verified=row.verified)


@strawberry.input(description="A year's environmental figures of a factory; figures are "
                              "finite and not negative, omitted ones not reported.")
class SubmitEnvironmentalAssessmentInput:
    factory_id: strawberry.ID = strawberry.field(description=(
        "A factory of the viewer's organization."))
    period_year: int = strawberry.field(description="From 1990 to next year.")
    energy_kwh: float | None = strawberry.field(default=None, description=(
        "Energy used, in kilowatt-hours."))
    water_m3: float | None = strawberry.field(default=None, description=(
        "Water withdrawn, in cubic metres."))
    waste_kg: float | None = strawberry.field(default=None, description=(
        "Waste produced, in kilograms."))
    ghg_tco2e: float | None = strawberry.field(default=None, description=(
        "Greenhouse-gas emissions, in tonnes of CO2 equivalent."))
    report_document_id: strawberry.ID | None = strawberry.field(
        default=None, description="A document uploaded by the viewer's organization.")

    def figures(self) -> assessments.Figures:
        return assessments.Figures(energy_kwh=self.energy_kwh, water_m3=self.water_m3,
                                   waste_kg=self.waste_kg, ghg_tco2e=self.ghg_tco2e)


@strawberry.input(description="The assessment the program verifies.")
class VerifyEnvironmentalAssessmentInput:
    assessment_id: strawberry.ID = strawberry.field(description="An unverified assessment.")


@strawberry.type(description="The answer of submitEnvironmentalAssessment and "
                             "verifyEnvironmentalAssessment.")
class EnvironmentalAssessmentPayload:
    environmental_assessment: EnvironmentalAssessment | None = strawberry.field(description=(
        "The assessment as saved; null when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    environment_user_errors = ENVIRONMENT_ERRORS.field()


def assessment_payload(row: Any, errors: list[UserError]) -> EnvironmentalAssessmentPayload:
    return EnvironmentalAssessmentPayload(
        environmental_assessment=EnvironmentalAssessment.from_row(row) if row else None,
        user_errors=errors)


@strawberry.type
class Mutation:
    @guarded(roles(Role.SUPPLIER),
             description="The owning supplier reports a year's figures; an unverified "
                         "assessment of the same year is replaced, a verified one is final. "
                         "userErrors: NOT_FOUND, VALIDATION, ALREADY_VERIFIED.")
    async def submit_environmental_assessment(
            self, info: Info, input: Annotated[
                SubmitEnvironmentalAssessmentInput, strawberry.argument(
                    description="The factory, the year and its figures.")]
    ) -> EnvironmentalAssessmentPayload:
        viewer, given = info.context.viewer, input.report_document_id is not None
        factory_id = decode_as(input.factory_id, "Factory")
        report_id = decode_as(input.report_document_id, "Document") if given else None
        return await perform(info, lambda session: assessments.submit_environmental_assessment(
            session, viewer, factory_id, input.period_year, input.figures(), report_id,
            report_given=given), assessment_payload)

    @guarded(roles(Role.ADMIN, Role.REVIEWER),
             description="The program verifies an assessment; it is final from then on. "
                         "userErrors: NOT_FOUND, ALREADY_VERIFIED.")
    async def verify_environmental_assessment(
            self, info: Info, input: Annotated[
                VerifyEnvironmentalAssessmentInput, strawberry.argument(
                    description="The assessment to verify.")]
    ) -> EnvironmentalAssessmentPayload | None:
        viewer, assessment_id = info.context.viewer, decode_as(input.assessment_id,
                                                               "EnvironmentalAssessment")
        return await perform(info, lambda session: assessments.verify_environmental_assessment(
            session, viewer, assessment_id), assessment_payload)
