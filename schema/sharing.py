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
        answers = getattr(self.context_value, "event_answers", None)
        if answers is None:  # queries and mutations
            return super().execute_operation(serially)
        key = self._answer_key()
        found = answers.get(key)
        if found is None or found[0] is not self.operation:
            result = super().execute_operation(serially)
            answer = asyncio.ensure_future(result) if self.is_awaitable(result) else result
            found = answers[key] = (self.operation, answer)
        answer = found[1]
        return _awaited(answer) if isinstance(answer, asyncio.Future) else answer

    def _answer_key(self) -> tuple[Any, ...]:
        viewer = self.context_value.viewer
        # The operation node is the parsed document's, one per query text by the parser cache
        # (kept beside the answer and compared by identity); variables are compared by value.
        variables = orjson.dumps(self.variable_values.coerced,
                                 option=orjson.OPT_SORT_KEYS, default=str)
        return (id(self.operation), variables, viewer.organization_id,
                viewer.organization_kind, viewer.role)


async def _awaited(future: "asyncio.Future[Any]") -> Any:
    return await asyncio.shield(future)  # one subscriber's cancellation spares the others
