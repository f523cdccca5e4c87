"""Schema extensions: the security baseline, error masking and the access log."""
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.types.graphql import OperationType
from strawberry.extensions import MaxTokensLimiter, ParserCache, SchemaExtension

from db.engine import is_unavailable
from resolvers.access_log import record_reads
from resolvers.compiled.run import CompiledReads, Fallback, run
from schema.limits import MAX_ALIASES, MAX_DEPTH, RequestLimits, ValidatedAfterLimits

log = logging.getLogger("escp.graphql")

MAX_TOKENS = 5000
UNAVAILABLE_MESSAGE = "The database is unavailable; try again."

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

    @staticmethod
    def _mask(error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            return error
        if is_unavailable(original):  # the app answers 503: send it again (GraphQLApp)
            log.warning("database unavailable at %s: %s", error.path,
                        str(original).splitlines()[0] if str(original) else type(original))
            return GraphQLError(UNAVAILABLE_MESSAGE, nodes=error.nodes, path=error.path,
                                extensions={"code": "SERVICE_UNAVAILABLE"})
        error_id = uuid.uuid4().hex
        log.error("internal error %s at %s", error_id, error.path, exc_info=original)
        return GraphQLError("Internal server error.", nodes=error.nodes, path=error.path,
                            extensions={"code": "INTERNAL_SERVER_ERROR", "errorId": error_id})


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
        self.reads.counters["compiled"] += 1

    def _fall_back(self, reason: str) -> None:
        self.outcome = reason
        self.reads.counters[f"resolver: {reason}"] += 1

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
