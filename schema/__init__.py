"""Assembly of the GraphQL schema from the per-domain modules."""
import strawberry
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
from schema.query import Query

QUERIES: tuple[type, ...] = (Query,)
MUTATIONS: tuple[type, ...] = (application.Mutation, audit.Mutation, certificate.Mutation,
                               connection.Mutation, corrective_action.Mutation,
                               environment.Mutation)
SUBSCRIPTIONS: tuple[type, ...] = ()


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    exts: list = [extensions.MaskInternalErrors, extensions.AccessLog,
                  *extensions.security_extensions(), *extensions.caches()]
    if not settings.introspection:
        exts.append(DisableIntrospection)
    return strawberry.Schema(
        query=merge_types("Query", QUERIES),
        mutation=merge_types("Mutation", MUTATIONS) if MUTATIONS else None,
        subscription=merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None,
        extensions=exts,
    )


def export_sdl() -> str:
    return build_schema(Settings()).as_str() + "\n"
