"""Answer once, write many: a subscription event is executed once per group of subscribers whose
answer cannot differ, encoded once, and the same text frame is written to every socket of the
group, below Strawberry's per-operation machinery (its per-event executor, result handling and
extension hooks run for nobody).

A subscription operation on one of our sockets (overrides.websocket.SocketHandler) registers
with its feed as a `Direct` listener; the feed (resolvers.subscriptions) groups each event's
deliveries by `Direct.key` and calls `answer` per group. The operation's own task only writes the
frames it is handed, in order. Anything else (an operation outside a socket) runs the usual way.
"""
import contextvars
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode, execute
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.errors import mask_internal

# The graphql-transport-ws operation the current task runs (set by app.SocketHandler).
CURRENT_OPERATION: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "escp_socket_operation", default=None)


@dataclass(eq=False)
class Direct:
    """One subscription operation answered by group and written as pre-encoded frames."""

    schema: GraphQLSchema
    operation: OperationDefinitionNode
    document: DocumentNode
    variables: dict[str, Any]
    variables_key: bytes
    operation_id: str
    send_text: Callable[[str], Awaitable[None]]
    ctx: Any  # the operation's context: database, settings, services
    root: Callable[[Any], Any]  # the value the subscription yields for a delivery
    profile: Callable[[Any], tuple[Any, ...]]  # what the answer depends on (schema.grouping)

    def key(self, delivery: Any) -> tuple[Any, ...]:
        """Equal keys, equal answers: the same operation (its node, one per query text by the
        parser cache, kept alive by this listener) and variables, and the same profile."""
        return (id(self.operation), self.variables_key, self.profile(delivery))

    def frame(self, payload: str) -> str:
        return (f'{{"id":{orjson.dumps(self.operation_id).decode()},"type":"next",'
                f'"payload":{payload}}}')

    async def answer(self, delivery: Any) -> tuple[str, frozenset[Any]]:
        """The group's `next` payload as JSON text, and the scoped reads it made, executing the
        operation once for `delivery` (any member's: their answers cannot differ)."""
        ctx = self.ctx.fresh()
        ctx.begin_event(delivery.viewer, delivery.access, delivery.primes, None)
        name = self.operation.name.value if self.operation.name else None
        result = execute(self.schema, self.document, root_value=self.root(delivery),
                         context_value=ctx, variable_values=self.variables, operation_name=name,
                         executor_class=StrawberryGraphQLCoreExecutionContext)
        if inspect.isawaitable(result):
            result = await result
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:  # masked as MaskInternalErrors masks every event's result
            payload["errors"] = [mask_internal(e).formatted for e in result.errors]
        return orjson.dumps(payload).decode(), frozenset(ctx.scoped_reads)


def direct_of(info: Any, root: Callable[[Any], Any],
              profile: Callable[[Any], tuple[Any, ...]]) -> Direct | None:
    """The resolver's operation as a Direct listener, or None when it is not on our socket."""
    operation = CURRENT_OPERATION.get()
    if operation is None:
        return None
    node = info._raw_info.operation
    fragments = tuple(info._raw_info.fragments.values())
    return Direct(
        schema=info._raw_info.schema, operation=node,
        document=DocumentNode(definitions=(node, *fragments)),
        variables=operation.variables or {},
        variables_key=orjson.dumps(info._raw_info.variable_values, option=orjson.OPT_SORT_KEYS, default=str),
        operation_id=operation.id, send_text=operation.handler.websocket.send_text,
        ctx=info.context, root=root, profile=profile)

