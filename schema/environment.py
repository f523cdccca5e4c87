"""Environmental assessments."""
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from auth.permissions import Scope, guarded
from db.enums import ShareScope
from schema.common import Node
from schema.document import Document, document
from schema.ids import encode_id

if TYPE_CHECKING:
    from schema.factory import Factory

FactoryRef = Annotated["Factory", strawberry.lazy("schema.factory")]
ENVIRONMENT = ShareScope.ENVIRONMENT


@strawberry.type
class EnvironmentalAssessment(Node):
    factory_id: strawberry.Private[int]
    report_document_id: strawberry.Private[int | None]
    period_year: int = guarded(Scope(ENVIRONMENT))
    energy_kwh: float | None = guarded(Scope(ENVIRONMENT))
    water_m3: float | None = guarded(Scope(ENVIRONMENT))
    waste_kg: float | None = guarded(Scope(ENVIRONMENT))
    ghg_tco2e: float | None = guarded(Scope(ENVIRONMENT))
    verified: bool = guarded(Scope(ENVIRONMENT))

    @guarded(Scope(ENVIRONMENT))
    async def factory(self, info: Info) -> FactoryRef:
        from schema.factory import factory_by_id

        return await factory_by_id(info, self.factory_id)  # type: ignore[return-value]

    @guarded(Scope(ENVIRONMENT))
    async def report(self, info: Info) -> Document | None:
        return await document(info, self.report_document_id, self, ENVIRONMENT)

    @classmethod
    def from_row(cls, row: Any) -> "EnvironmentalAssessment":
        return cls(id=strawberry.ID(encode_id("EnvironmentalAssessment", row.id)),
                   factory_id=row.factory_id, report_document_id=row.report_document_id,
                   period_year=row.period_year, energy_kwh=row.energy_kwh, water_m3=row.water_m3,
                   waste_kg=row.waste_kg, ghg_tco2e=row.ghg_tco2e, verified=row.verified)
