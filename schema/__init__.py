"""Assembly of the GraphQL schema from the per-domain modules."""
import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection
from strawberry.tools import merge_types

from db.settings import Settings
from schema import (
    application,
    audit,
    certificate,
    connection,
    corrective_action,
    environment,
    extensions,
)
from schema.accounts import AccountsMutation
from schema.factory import FactoryMutation
from resolvers.compiled.run import CompiledReads
from schema.query import Query
from schema.sharing import SharedAnswers
from schema.subscription import Subscription

QUERIES: tuple[type, ...] = (Query,)
MUTATIONS: tuple[type, ...] = (AccountsMutation, FactoryMutation, application.Mutation,
                               audit.Mutation, certificate.Mutation, connection.Mutation,
                               corrective_action.Mutation, environment.Mutation)
SUBSCRIPTIONS: tuple[type, ...] = (Subscription,)

log = logging.getLogger("escp.graphql")


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Denials, bad input and invalid queries are answers, not failures: debug only (a
        trace per FORBIDDEN field would flood the log). Internal errors are logged once, by
        MaskInternalErrors, with the id the client is given."""
        for error in errors:
            log.debug("graphql error at %s: %s", error.path, error.message)


def build_schema(settings: Settings | None = None,
                 queries: tuple[type, ...] = QUERIES) -> strawberry.Schema:
    """The schema; `queries` lets a test add a root type of its own to the real assembly."""
    settings = settings or Settings()
    exts: list = [extensions.RequestErrorCodes, extensions.MaskInternalErrors,
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
    reads = CompiledReads(built._schema)
    built.compiled_reads = reads  # type: ignore[attr-defined]
    return built


def export_sdl() -> str:
    return build_schema(Settings()).as_str() + "\n"
