"""One answer per subscription event for the subscribers who would all get the same one.

What an event answers depends on the operation (document, variables, operation name) and on
whom it is answered for: every field rule and row policy decides by the viewer's organization,
its kind and the viewer's role, never by the individual user (only `Query.viewer` reads the
user, and no subscription reaches it). So the users of one organization with one role, running
the same operation, are given the same result, computed once per event; anyone else computes
their own. The feed checked each user on its own (active, entitled) before any of this.
"""
import asyncio
from typing import Any

import orjson
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class SharedAnswers(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor; a subscription event's execution is looked up first in the
    event's answers (`Context.event_answers`, one dict per event, shared by its listeners)."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        ctx = self.context_value
        answers = getattr(ctx, "event_answers", None)
        if answers is None:  # queries and mutations
            return super().execute_operation(serially)
        key = self._answer_key()
        found = answers.get(key)
        if found is None or found.operation is not self.operation:
            found = answers[key] = Answer(self.operation, super().execute_operation(serially),
                                          ctx, self.is_awaitable)
        return found.given_to(ctx)

    def _answer_key(self) -> tuple[Any, ...]:
        viewer = self.context_value.viewer
        # The operation node is the parsed document's, one per query text by the parser cache
        # (kept beside the answer and compared by identity); variables are compared by value.
        variables = orjson.dumps(self.variable_values.coerced,
                                 option=orjson.OPT_SORT_KEYS, default=str)
        return (id(self.operation), variables, viewer.organization_id,
                viewer.organization_kind, viewer.role)


class Answer:
    """One execution's result and the scoped reads it made: every subscriber given the result
    is recorded as having read the same (resolvers.access_log)."""

    def __init__(self, operation: Any, result: Any, ctx: Any, is_awaitable: Any) -> None:
        self.operation = operation
        self.reads: frozenset[Any] = frozenset()
        if is_awaitable(result):
            self.result: Any = asyncio.ensure_future(self._finish(result, ctx))
        else:
            self.result, self.reads = result, frozenset(ctx.scoped_reads)

    async def _finish(self, result: Any, ctx: Any) -> Any:
        value = await result
        self.reads = frozenset(ctx.scoped_reads)
        return value

    def given_to(self, ctx: Any) -> Any:
        if isinstance(self.result, asyncio.Future):
            return self._later(ctx)
        ctx.scoped_reads.update(self.reads)
        return self.result

    async def _later(self, ctx: Any) -> Any:
        value = await asyncio.shield(self.result)  # one subscriber's cancellation spares others
        ctx.scoped_reads.update(self.reads)
        return value
