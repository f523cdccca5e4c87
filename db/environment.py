"""Environmental assessments: yearly figures a factory reports, verified by the program."""
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, pk


class EnvironmentalAssessment(Base):
    __tablename__ = "environmental_assessments"
    __table_args__ = (
        UniqueConstraint("factory_id", "period_year"),
        CheckConstraint("period_year BETWEEN 1990 AND 2200", name="period_year"),
        CheckConstraint(
            "coalesce(energy_kwh, 0) >= 0 AND coalesce(water_m3, 0) >= 0 "
            "AND coalesce(waste_kg, 0) >= 0 AND coalesce(ghg_tco2e, 0) >= 0",
            name="figures_not_negative",
        ),
    )

    id: Mapped[int] = pk()
    factory_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("factories.id", ondelete="CASCADE"), nullable=False, index=True
    )
    period_year: Mapped[int] = mapped_column(Integer, nullable=False)
    energy_kwh: Mapped[float | None] = mapped_column(Double)
    water_m3: Mapped[float | None] = mapped_column(Double)
    waste_kg: Mapped[float | None] = mapped_column(Double)
    ghg_tco2e: Mapped[float | None] = mapped_column(Double)
    verified: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_by_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    report_document_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("documents.id", ondelete="RESTRICT")
    )
    submitted_at: Mapped[datetime] = created_at()
