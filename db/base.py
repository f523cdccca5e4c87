"""Declarative base with a naming convention, so migrations name every constraint predictably."""
from datetime import datetime
from enum import Enum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def pk() -> Mapped[int]:
    return mapped_column(BigInteger, Identity(always=False), primary_key=True)


def created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def enum_check(column: str, enum: type[Enum], name: str | None = None) -> CheckConstraint:
    """A CHECK that keeps a text column inside the values of a Python enum."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=name or column)


def scopes_check(column: str) -> CheckConstraint:
    """A CHECK that every element of a text[] column is a ShareScope."""
    from db.enums import ShareScope

    values = ", ".join(f"'{s.value}'" for s in ShareScope)
    return CheckConstraint(f"{column} <@ ARRAY[{values}]::text[]", name=column)
