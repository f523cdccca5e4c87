"""GraphQL operations of our own schema, executed in-process as the session's viewer.

The context is built exactly as the HTTP endpoint builds it
(overrides.http.GraphQLApp.get_context), and the schema's extensions (limits, cost, masking,
the access log) run as for any request: a page sees, and is logged for, exactly what the API
would give the same viewer.
"""
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from auth.viewer import Viewer
from resolvers.context import Context


@dataclass
class Answer:
    data: dict[str, Any]
    errors: list[dict[str, Any]] = field(default_factory=list)

    def codes(self) -> set[str]:
        return {e.get("code", "") for e in self.errors}

    def unexpected(self) -> list[dict[str, Any]]:
        """Errors other than a denied field (FORBIDDEN: shown as "not shared")."""
        return [e for e in self.errors if e.get("code") != "FORBIDDEN"]


class Unavailable(Exception):
    """The database could not be reached: the page is a 503 to reload."""


async def execute(request: Request, viewer: Viewer, query: str,
                  variables: dict[str, Any] | None = None) -> Answer:
    state = request.app.state
    context = Context(database=state.database, settings=state.settings, viewer=viewer,
                      request=request, response=Response(), services=state.services)
    result = await state.schema.execute(query, variables, context_value=context)
    errors = [{"message": e.message, "path": list(e.path or ()),
               **(e.extensions or {})} for e in result.errors or ()]
    if any(e.get("code") == "SERVICE_UNAVAILABLE" for e in errors):
        raise Unavailable()
    return Answer(result.data or {}, errors)
