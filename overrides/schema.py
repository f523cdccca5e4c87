"""Strawberry's schema, subclassed: persisted and trusted documents resolved before execution,
every HTTP operation observed after it, and the accessors for what Strawberry keeps private.

What the hooks do lives in the schema package (schema.persisted, schema.observability); this
class only says where Strawberry lets them in, so a Strawberry upgrade is checked here and in
tests/schema/test_overrides_schema.py.
"""
import logging
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any, Protocol

import strawberry
from graphql import GraphQLError, GraphQLResolveInfo, GraphQLSchema
from strawberry.types import ExecutionResult, Info
from strawberry.types.execution import PreExecutionError

log = logging.getLogger("escp.graphql")


class Documents(Protocol):
    """Persisted and trusted documents (schema.persisted.PersistedDocuments)."""

    trusted: Any

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None: ...

    def check_trusted(self, query: str) -> None: ...


def _not_observed(context: Any, name: str | None, result: Any, seconds: float) -> None:
    return None


class Schema(strawberry.Schema):
    """Runs persisted and trusted documents (`documents`) and observes every operation over
    HTTP (`observe`); both are set by schema.build_schema."""

    documents: Documents
    observe: Callable[[Any, str | None, ExecutionResult, float], None] = staticmethod(
        _not_observed)

    async def execute(self, query: str | None, variable_values: dict[str, Any] | None = None,
                      context_value: Any | None = None, root_value: Any | None = None,
                      operation_name: str | None = None,
                      allowed_operation_types: Iterable[Any] | None = None,
                      operation_extensions: dict[str, Any] | None = None) -> ExecutionResult:
        started = time.perf_counter()
        try:
            query = self.documents.resolve(query, operation_extensions)
        except GraphQLError as refused:
            result = ExecutionResult(data=None, errors=[refused])
            if refused.extensions.get("code") == "PERSISTED_QUERY_NOT_FOUND":
                # Apollo's answer: no cache may keep it (a GET's answer changes once known).
                response = getattr(context_value, "response", None)
                if response is not None:
                    response.headers["Cache-Control"] = "private, no-cache, must-revalidate"
        else:
            result = await super().execute(query, variable_values, context_value, root_value,
                                           operation_name, allowed_operation_types,
                                           operation_extensions)
        self.observe(context_value, operation_name, result, time.perf_counter() - started)
        return result

    async def stream(self, query: str | None, *args: Any, **kwargs: Any) -> Any:
        """Over WebSocket: trusted documents only, when they are configured."""
        if self.documents.trusted is not None and query is not None:
            try:
                self.documents.check_trusted(query)
            except GraphQLError as refused:
                return _refused(refused)
        return await super().stream(query, *args, **kwargs)

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Denials, bad input and invalid queries are answers, not failures: debug only (a
        trace per FORBIDDEN field would flood the log). Internal errors are logged once, by
        MaskInternalErrors, with the id the client is given."""
        for error in errors:
            log.debug("graphql error at %s: %s", error.path, error.message)


async def _refused(error: GraphQLError) -> AsyncGenerator[PreExecutionError, None]:
    yield PreExecutionError(data=None, errors=[error])


def graphql_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built (its private `_schema`)."""
    return schema._schema


def resolve_info(info: Info) -> GraphQLResolveInfo:
    """graphql-core's resolve info behind Strawberry's Info (its private `_raw_info`): the
    operation node, fragments, schema and coerced variables a resolver is running."""
    return info._raw_info
