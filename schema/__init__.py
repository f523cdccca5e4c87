"""Assembly of the GraphQL schema from the per-domain modules."""
import strawberry
from strawberry.extensions import DisableIntrospection
from strawberry.tools import merge_types

from db.settings import Settings
from overrides.guards import describe_requires_arguments
from overrides.schema import Schema, graphql_schema
from overrides.sharing import SharedAnswers
from resolvers.compiled.run import CompiledReads
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
from schema.persisted import PersistedDocuments
from schema.query import Query
from schema.subscription import Subscription
from schema.webhooks import Mutation as WebhookMutation
from schema.webhooks import WebhookQuery

QUERIES: tuple[type, ...] = (Query, WebhookQuery, api_keys.Query)
MUTATIONS: tuple[type, ...] = (AccountsMutation, api_keys.Mutation, FactoryMutation,
                               application.Mutation,
                               audit.Mutation, certificate.Mutation, connection.Mutation,
                               corrective_action.Mutation, environment.Mutation, WebhookMutation)
SUBSCRIPTIONS: tuple[type, ...] = (Subscription,)


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
    describe_requires_arguments(graphql_schema(built))
    built.documents = PersistedDocuments.of(settings)
    built.observe = observability.observe_operation  # type: ignore[method-assign]
    reads = CompiledReads(graphql_schema(built))
    built.compiled_reads = reads  # type: ignore[attr-defined]
    return built


def export_sdl() -> str:
    return build_schema(Settings()).as_str() + "\n"
