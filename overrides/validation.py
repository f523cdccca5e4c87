"""Strawberry's validation cache, subclassed to leave alone a document the request limits
refused (schema.limits.RequestLimits)."""
from collections.abc import Iterator

from strawberry.extensions import ValidationCache


class ValidatedAfterLimits(ValidationCache):
    """Strawberry's validation cache, skipped for a document RequestLimits refused: validating
    it is the work the limits are there to avoid."""

    def on_validate(self) -> Iterator[None]:
        if self.execution_context.pre_execution_errors:
            yield
            return
        yield from super().on_validate()

