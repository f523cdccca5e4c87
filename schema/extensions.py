"""Schema extensions: the security baseline, error masking and the access log."""
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import MaxTokensLimiter, ParserCache, SchemaExtension
from strawberry.types.graphql import OperationType

from infra.metrics import READS
from overrides.validation import ValidatedAfterLimits
from resolvers.access_log import record_reads
from resolvers.compiled.run import CompiledReads, Fallback, run
from resolvers.errors import mask_internal
from schema.limits import MAX_ALIASES, MAX_DEPTH, RequestLimits

log = logging.getLogger("escp.graphql")

MAX_TOKENS = 5000

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_TOKENS"]  # the first two live in schema.limits


class MaskInternalErrors(SchemaExtension):
    """Errors we did not raise on purpose become 'Internal server error' with an id that is
    also in the log, next to the stack trace; no SQL or trace reaches the client."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [self._mask(error) for error in result.errors]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each subscription event's result, masked before it is sent (on_operation only sees
        the end of the subscription)."""
        if getattr(result, "errors", None):
            result.errors = [self._mask(error) for error in result.errors]
        yield

    _mask = staticmethod(mask_internal)


class RequestErrorCodes(SchemaExtension):
    """Request errors (nothing ran) carry a stable `extensions.code` like every other refusal:
    GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT for variables that do not
    fit their types, OPERATION_RESOLUTION_FAILURE for a document of several operations without
    `operationName` (the GraphQL spec's GetOperation refuses it; Strawberry would run the first).

    First in the schema's list, so it sees the errors every other extension left."""

    def on_operation(self) -> Iterator[None]:
        # Not on_parse: a parse error leaves the parsing hooks as an exception (ParserCache),
        # which Strawberry passes through here on its way into the answer.
        try:
            yield
        except GraphQLError as error:
            if self.execution_context.graphql_document is None:
                self._tag([error], "GRAPHQL_PARSE_FAILED")
            raise

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if context.provided_operation_name is None and document is not None and sum(
                isinstance(d, OperationDefinitionNode) for d in document.definitions) > 1:
            context.pre_execution_errors = [GraphQLError(
                "The document holds several operations: name the one to run in operationName.",
                extensions={"code": "OPERATION_RESOLUTION_FAILURE"})]
        yield
        self._tag(context.pre_execution_errors, "GRAPHQL_VALIDATION_FAILED")

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.data is None and result.errors:
            # Before any field ran: graphql-core's coercion of the variables.
            self._tag([e for e in result.errors if not e.path], "BAD_USER_INPUT")

    @staticmethod
    def _tag(errors: list[GraphQLError] | None, code: str) -> None:
        for error in errors or ():
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": code}


class AccessLog(SchemaExtension):
    """After the response resolved, one INSERT records the customer's scoped reads."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if hasattr(context, "scoped_reads"):
            await record_reads(context)


class SubscriptionsOverSockets(SchemaExtension):
    """Subscriptions run over WebSocket only, where the socket signs in with its token and
    closes when the token expires; over HTTP one is refused with a clear error (Strawberry
    would run it as a query and fail inside)."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        over_socket = getattr(context.context, "connection_params", None) is not None
        if context.operation_type is OperationType.SUBSCRIPTION and not over_socket:
            raise GraphQLError("Subscriptions are served over WebSocket (graphql-transport-ws) "
                               "at /graphql.", extensions={"code": "BAD_REQUEST"})
        yield


class CompiledReadPath(SchemaExtension):
    """Answers a query over HTTP with its compiled plan (resolvers.compiled) when the compiler
    supports it; anything else runs on the resolver path. A request whose `extensions` holds
    `"readPath": true` is told which path answered it and, for the resolver path, why."""

    def __init__(self, reads: CompiledReads) -> None:
        self.reads = reads
        self.outcome: str | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        ctx = context.context
        if (context.operation_type is OperationType.QUERY
                and getattr(ctx, "connection_params", None) is None
                and context.graphql_document is not None and context.query is not None):
            await self._answer(context, ctx)
        yield

    async def _answer(self, context: Any, ctx: Any) -> None:
        try:
            plan = self.reads.plan(context.query, context.graphql_document,
                                   context.operation_name, ctx.viewer, context.variables)
            values = self.reads.parameters(plan, context.graphql_document,
                                           context.operation_name, context.variables, ctx.viewer)
            async with ctx.database.read() as conn:
                data, errors = await run(conn, plan, values, ctx.settings)
        except Fallback as fallback:
            return self._fall_back(fallback.reason)
        except Exception:
            # A compiler defect or an unreachable database: the reference path answers (and
            # fails, masked, the way it fails); the defect is in the log, never in the answer.
            log.exception("compiled read failed; answered by the resolver path")
            return self._fall_back("the compiled statement failed")
        context.result = GraphQLExecutionResult(data=data, errors=errors or None)
        self.outcome = "compiled"
        READS.labels("compiled", "").inc()

    def _fall_back(self, reason: str) -> None:
        self.outcome = reason
        READS.labels("resolver", reason).inc()

    def get_results(self) -> dict[str, Any]:
        asked = self.execution_context.operation_extensions or {}
        if not asked.get("readPath") or self.outcome is None:
            return {}
        if self.outcome == "compiled":
            return {"readPath": {"compiled": True}}
        return {"readPath": {"compiled": False, "reason": self.outcome}}


def security_extensions(max_cost: int) -> list:
    """Factories: Strawberry builds a fresh extension per request. The shape limits come
    before the validation cache (caches()), so a refused document is never validated."""
    return [
        lambda: RequestLimits(max_cost),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
    ]


def caches() -> list:
    """Parsed and validated documents are cached at module level, shared by all requests."""
    return [lambda: ParserCache(maxsize=512), lambda: ValidatedAfterLimits(maxsize=512)]
