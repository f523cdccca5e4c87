"""The schema's own scalars: Date, DateTime and Decimal, each saying which specification its
text follows (`specifiedByURL`). Date and DateTime keep Strawberry's parsing and serializing
(Python's isoformat), so answers are byte for byte what they were; only the documentation is
ours. Passed to the schema as scalar overrides (schema.build_schema)."""
import dataclasses
import datetime
import decimal

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

RFC3339_FULL_DATE = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
RFC3339_DATE_TIME = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
XSD_DECIMAL = "https://www.w3.org/TR/xmlschema11-2/#decimal"

Date = dataclasses.replace(
    DateDefinition, specified_by_url=RFC3339_FULL_DATE,
    description="A calendar day without a time of day or zone, as RFC 3339 `full-date` (the ISO "
                "8601 extended format): `2026-11-25`.")

DateTime = dataclasses.replace(
    DateTimeDefinition, specified_by_url=RFC3339_DATE_TIME,
    description="An instant, as RFC 3339 `date-time` with its UTC offset: "
                "`2026-11-25T09:30:00+00:00`, with fractional seconds only when they are not zero. "
                "Answers are in UTC. Send inputs with their offset (`Z` or `+05:30`): a few "
                "inputs refuse a time without one (their descriptions say so).")


def _serialize_decimal(value: decimal.Decimal) -> str:
    # Plain notation always: str() would write 1E+3 for some values.
    return format(decimal.Decimal(value), "f")


def _parse_decimal(value: object) -> decimal.Decimal:
    """Strings only: a JSON number may already have lost digits on its way here."""
    if not isinstance(value, str):
        raise StrawberryInputCoercionError(
            f'Value cannot represent a Decimal: "{value}". Expected a string such as "1500.00".')
    try:
        parsed = decimal.Decimal(value.strip())
    except decimal.InvalidOperation:
        parsed = None
    if parsed is None or not parsed.is_finite():
        raise StrawberryInputCoercionError(f'Value cannot represent a Decimal: "{value}".')
    return parsed


Decimal = ScalarDefinition(
    name="Decimal", specified_by_url=XSD_DECIMAL,
    description="An exact decimal number written as a string, in the lexical form of XML Schema's "
                "`decimal`: an optional sign, digits, an optional fraction after a dot, never an "
                "exponent (`\"1500.00\"`). A string, not a JSON number, so no client rounds it "
                "through a binary float. Money amounts carry their currency in a field beside "
                "them.",
    serialize=_serialize_decimal, parse_value=_parse_decimal, parse_literal=None,
    origin=decimal.Decimal)

OVERRIDES: dict[object, ScalarDefinition] = {
    datetime.date: Date, datetime.datetime: DateTime, decimal.Decimal: Decimal}
