"""Assembly of the GraphQL schema from the per-domain modules."""
import logging
import time
from collections.abc import AsyncGenerator, Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection
from strawberry.tools import merge_types
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from auth.permissions import Requires
from db.settings import Settings
from schema import (
    api_keys,
    application,
    audit,
    certificate,
    connection,
    corrective_action,
    environment,
    extensions,
    observability,
    scalars,
)
from schema.accounts import AccountsMutation
from schema.factory import FactoryMutation
from resolvers.compiled.run import CompiledReads
from schema.persisted import PersistedDocuments
from schema.query import Query
from schema.sharing import SharedAnswers
from schema.subscription import Subscription
from schema.webhooks import Mutation as WebhookMutation
from schema.webhooks import WebhookQuery

QUERIES: tuple[type, ...] = (Query, WebhookQuery, api_keys.Query)
MUTATIONS: tuple[type, ...] = (AccountsMutation, api_keys.Mutation, FactoryMutation,
                               application.Mutation,
                               audit.Mutation, certificate.Mutation, connection.Mutation,
                               corrective_action.Mutation, environment.Mutation, WebhookMutation)
SUBSCRIPTIONS: tuple[type, ...] = (Subscription,)

log = logging.getLogger("escp.graphql")


class Schema(strawberry.Schema):
    """Runs persisted and trusted documents (schema.persisted) and counts every operation over
    HTTP (schema.observability)."""

    documents = PersistedDocuments()

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
        observability.observe_operation(context_value, operation_name, result,
                                        time.perf_counter() - started)
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


QUERY = ("Reads: the public directory and verification, and what the signed-in viewer may see. "
         "A field the viewer may not see is null with a FORBIDDEN error at its path.")
MUTATION = ("Writes. Each takes one `input` and answers a payload whose `userErrors` (and its "
            "typed twin) say why a business rule refused it; then nothing changed. Sign-in and "
            "role failures are top-level errors.")
SUBSCRIPTION = ("Live events over WebSocket (graphql-transport-ws at /graphql), each checked "
                "again against the viewer's permissions when it is sent.")


def _root(name: str, types: tuple[type, ...], description: str) -> type:
    merged = merge_types(name, types)
    merged.__strawberry_definition__.description = description  # type: ignore[attr-defined]
    return merged


def _describe_directive_arguments(built: strawberry.Schema) -> None:
    """Strawberry leaves a schema directive's arguments undescribed: copy the descriptions of
    @requires's fields (auth.permissions.Requires) onto its arguments."""
    directive = built._schema.get_directive("requires")
    if directive is None:
        return
    for field in Requires.__strawberry_directive__.fields:  # type: ignore[attr-defined]
        directive.args[field.name].description = field.description


def build_schema(settings: Settings | None = None,
                 queries: tuple[type, ...] = QUERIES) -> strawberry.Schema:
    """The schema; `queries` lets a test add a root type of its own to the real assembly."""
    settings = settings or Settings()
    exts: list = [observability.OperationTelemetry, extensions.RequestErrorCodes,
                  extensions.MaskInternalErrors,
                  extensions.AccessLog, extensions.SubscriptionsOverSockets,
                  *extensions.security_extensions(settings.max_query_cost), *extensions.caches()]
    if not settings.introspection:
        exts.append(DisableIntrospection)
    reads = None
    if settings.compiled_reads:
        # Last, so the error masking and access-log extensions wrap it like any execution.
        exts.append(lambda: extensions.CompiledReadPath(reads))
    built = Schema(
        query=_root("Query", queries, QUERY),
        mutation=_root("Mutation", MUTATIONS, MUTATION),
        subscription=_root("Subscription", SUBSCRIPTIONS, SUBSCRIPTION),
        extensions=exts,
        execution_context_class=SharedAnswers,
        scalar_overrides=scalars.OVERRIDES,
    )
    _describe_directive_arguments(built)
    built.documents = PersistedDocuments.of(settings)
    reads = CompiledReads(built._schema)
    built.compiled_reads = reads  # type: ignore[attr-defined]
    return built


def export_sdl() -> str:
    return build_schema(Settings()).as_str() + "\n"
