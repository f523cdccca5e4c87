"""Assembly of the GraphQL schema from the per-domain modules."""
import strawberry
from strawberry.extensions import DisableIntrospection
from strawberry.tools import merge_types

from db.settings import Settings
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
        query=merge_types("Query", queries),
        mutation=merge_types("Mutation", MUTATIONS) if MUTATIONS else None,
        subscription=merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None,
        extensions=exts,
        execution_context_class=SharedAnswers,
    )
    built.documents = PersistedDocuments.of(settings)
    built.observe = observability.observe_operation  # type: ignore[method-assign]
    reads = CompiledReads(graphql_schema(built))
    built.compiled_reads = reads  # type: ignore[attr-defined]
    return built


def export_sdl() -> str:
    return build_schema(Settings()).as_str() + "\n"
