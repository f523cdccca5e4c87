"""One test per override in overrides/: each asserts that what we subclass, call or read in
Strawberry and graphql-core is still there and behaves as we rely on. When one fails after an
upgrade, the override it names is the code to revisit (README: "Moving Strawberry and
graphql-core"); the behaviour itself is covered through the API by tests/api."""
import asyncio
import inspect
import typing
from importlib.metadata import version
from typing import Any

import graphql
import strawberry
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.extensions import FieldExtension, ValidationCache
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.types import Info

from auth.permissions import Rule
from auth.viewer import ANONYMOUS
from overrides import fanout, http, schema, sharing, validation, websocket
from overrides.guards import Guard, guarded


def params(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def assert_overrides_exist(ours: type, theirs: type, added: frozenset[str] = frozenset()) -> None:
    """Every public method or attribute `ours` defines (but those it `added`) replaces one
    `theirs` has: a method the framework renamed or dropped would otherwise never be called."""
    defined = {name for name in vars(ours) if not name.startswith("_")} - added
    assert defined, ours
    missing = {name for name in defined if not hasattr(theirs, name)}
    assert not missing, f"{ours.__name__} overrides what {theirs.__name__} no longer has"


def test_the_pinned_versions_are_the_ones_installed() -> None:
    """pyproject.toml pins the minor versions these tests were written against."""
    assert version("strawberry-graphql").startswith("0.341.")
    assert version("graphql-core").startswith("3.3.")


class Denies(Rule):
    required = "NOBODY"

    def allows(self, row: Any, viewer: Any, access_to: Any) -> bool:
        return False


class Context:
    viewer = ANONYMOUS
    scoped_reads: set[Any] = set()

    def known_access(self, factory_id: int) -> Any:
        raise AssertionError("no rule here reads access")


def test_guard_field_extension() -> None:
    """overrides.guards.Guard: a FieldExtension whose resolve/resolve_async wrap the resolver,
    whose apply adds the @requires directive, and whose denial is a GraphQL error at the
    field's path with our extensions."""
    assert params(FieldExtension.resolve)[:4] == ["self", "next_", "source", "info"]
    assert params(FieldExtension.resolve_async)[:4] == ["self", "next_", "source", "info"]
    assert params(FieldExtension.apply) == ["self", "field"]

    @strawberry.type
    class Query:
        @guarded(Denies())
        def secret(self) -> str | None:
            return "no"

    built = strawberry.Schema(query=Query)
    result = built.execute_sync("{ secret }", context_value=Context())
    assert result.data == {"secret": None}
    [error] = result.errors or []
    assert isinstance(error.original_error, StrawberryGraphQLError) or error.extensions
    assert error.path == ["secret"]
    assert error.extensions == {"code": "FORBIDDEN", "requiredScope": "NOBODY"}
    assert '@requires(rule: "NOBODY")' in built.as_str()
    definition = built.get_type_by_name("Query").fields[0]  # type: ignore[union-attr]
    assert any(isinstance(e, Guard) for e in definition.extensions)


def test_strawberry_definition_on_graphql_fields() -> None:
    """resolvers.compiled finds a field's Guard through graphql-core's field extensions, where
    Strawberry keeps its field under "strawberry-definition"."""
    @strawberry.type
    class Query:
        @guarded(Denies())
        def secret(self) -> str | None:
            return None

    core = schema.graphql_schema(strawberry.Schema(query=Query))
    assert isinstance(core, graphql.GraphQLSchema)
    field = core.query_type.fields["secret"]  # type: ignore[union-attr]
    definition = field.extensions["strawberry-definition"]
    assert any(isinstance(e, Guard) for e in definition.extensions)


def test_resolve_info_accessor() -> None:
    """overrides.schema.resolve_info: Strawberry's Info keeps graphql-core's resolve info as
    `_raw_info`, holding the operation, fragments, schema and variables (overrides.fanout,
    schema.subscription)."""
    seen: list[Any] = []

    @strawberry.type
    class Query:
        @strawberry.field
        def hello(self, info: Info, name: str) -> str:
            seen.append(schema.resolve_info(info))
            return name

    strawberry.Schema(query=Query).execute_sync(
        "query Q($n: String!) { ...F } fragment F on Query { hello(name: $n) }",
        variable_values={"n": "x"})
    [raw] = seen
    assert raw.operation.name and raw.operation.name.value == "Q"
    assert list(raw.fragments) == ["F"] and raw.variable_values == {"n": "x"}
    assert isinstance(raw.schema, graphql.GraphQLSchema)


def test_schema_subclass_hooks() -> None:
    """overrides.schema.Schema overrides execute, stream and process_errors with Strawberry's
    signatures, and its `observe` hook sees every execution."""
    for name in ("execute", "stream", "process_errors"):
        assert name in vars(schema.Schema) and hasattr(strawberry.Schema, name), name
    assert params(strawberry.Schema.execute) == params(schema.Schema.execute)
    assert params(strawberry.Schema.stream)[:2] == ["self", "query"]
    assert params(strawberry.Schema.process_errors) == ["self", "errors", "execution_context"]

    class Documents:
        trusted = None

        def resolve(self, query: str | None, extensions: Any) -> str | None:
            return query

    @strawberry.type
    class Query:
        hello: str = "world"

    observed: list[Any] = []
    built = schema.Schema(query=Query)
    built.documents = Documents()  # type: ignore[assignment]
    built.observe = lambda *args: observed.append(args)  # type: ignore[method-assign]
    result = asyncio.run(built.execute("{ hello }", root_value=Query()))
    assert result.data == {"hello": "world"} and len(observed) == 1


def test_shared_answers_execution_context() -> None:
    """overrides.sharing.SharedAnswers overrides graphql-core's execute_operation through
    Strawberry's execution context, and reads operation, context_value,
    variable_values.coerced and is_awaitable on it."""
    assert issubclass(sharing.SharedAnswers, StrawberryGraphQLCoreExecutionContext)
    assert_overrides_exist(sharing.SharedAnswers, StrawberryGraphQLCoreExecutionContext)
    assert params(StrawberryGraphQLCoreExecutionContext.execute_operation) == ["self", "serially"]
    ran: list[Any] = []

    class Recording(sharing.SharedAnswers):
        def execute_operation(self, serially: bool | None = None) -> Any:
            ran.append((self.operation, self.context_value, self.variable_values.coerced,
                        self.is_awaitable))
            return super().execute_operation(serially)

    @strawberry.type
    class Query:
        hello: str = "world"

    built = strawberry.Schema(query=Query, execution_context_class=Recording)
    assert built.execute_sync("{ hello }", root_value=Query()).data == {"hello": "world"}
    [(operation, _, coerced, is_awaitable)] = ran
    assert isinstance(operation, graphql.OperationDefinitionNode)
    assert coerced == {} and callable(is_awaitable)


def test_fanout_executes_below_strawberry() -> None:
    """overrides.fanout calls graphql-core's execute with Strawberry's execution context, and
    reads a socket operation's id, variables and handler.websocket."""
    assert {"executor_class", "context_value", "root_value"} <= set(params(graphql.execute))
    assert params(Operation.__init__)[:6] == ["self", "handler", "id", "query", "variables",
                                              "operation_name"]
    assert fanout.CURRENT_OPERATION.get() is None


def test_websocket_handler_and_adapter() -> None:
    """overrides.websocket subclasses Strawberry's graphql-transport-ws handler (connection
    init, run_operation, shutdown; its schema is called through `stream`) and its ASGI
    WebSocket adapter (send_json, close; the message size limit is uvicorn's)."""
    assert issubclass(websocket.SocketHandler, BaseGraphQLTransportWSHandler)
    assert {"view", "websocket", "context", "root_value", "schema"} <= set(
        params(BaseGraphQLTransportWSHandler.__init__))
    for name, arguments in (("handle_connection_init", ["self", "message"]),
                            ("run_operation", ["self", "operation"]),
                            ("shutdown", ["self"])):
        assert params(getattr(BaseGraphQLTransportWSHandler, name)) == arguments, name
    source = inspect.getsource(BaseGraphQLTransportWSHandler)
    assert "self.schema.stream(" in source  # what OperationContexts gives a context per operation
    assert "self.connection_init_received" in source
    assert_overrides_exist(websocket.SocketHandler, BaseGraphQLTransportWSHandler)
    assert issubclass(websocket.SocketAdapter, ASGIWebSocketAdapter)
    # send_text is ours: the frames overrides.fanout encoded once for many sockets
    assert_overrides_exist(websocket.SocketAdapter, ASGIWebSocketAdapter, frozenset({"send_text"}))
    assert hasattr(strawberry.Schema, "stream")  # what OperationContexts proxies
    assert params(ASGIWebSocketAdapter.send_json) == ["self", "message"]
    assert params(ASGIWebSocketAdapter.__init__) == ["self", "view", "request", "response"]


def test_http_view() -> None:
    """overrides.http.GraphQLApp overrides these methods and attributes of Strawberry's ASGI
    view; each must still exist (an override of a removed method is silently never called)."""
    assert_overrides_exist(http.GraphQLApp, GraphQL)
    assert hasattr(GraphQL, "run")  # what GraphQLApp.__call__ calls
    assert GraphQL.websocket_adapter_class is ASGIWebSocketAdapter
    # A generic alias of the handler class: the attribute GraphQLApp sets to its own handler.
    handler = GraphQL.graphql_transport_ws_handler_class
    assert typing.get_origin(handler) is BaseGraphQLTransportWSHandler
    assert params(GraphQL.create_response) == ["self", "response_data", "sub_response"]
    assert params(GraphQL.process_result) == ["self", "request", "result"]


def test_validation_cache_subclass() -> None:
    """overrides.validation.ValidatedAfterLimits extends ValidationCache.on_validate, a
    generator hook it delegates to."""
    assert issubclass(validation.ValidatedAfterLimits, ValidationCache)
    assert inspect.isgeneratorfunction(ValidationCache.on_validate)
    assert_overrides_exist(validation.ValidatedAfterLimits, ValidationCache)
