"""GraphQL over HTTP: Strawberry's ASGI view, subclassed."""
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.schema.exceptions import InvalidOperationTypeError

from overrides.websocket import SocketAdapter, SocketHandler
from resolvers.context import Context
from resolvers.errors import UNAVAILABLE_MESSAGE
from web.media import (
    GRAPHQL_RESPONSE,
    JSON,
    content_type,
    error_status,
    is_request_error,
    response_media_type,
)
from web.responses import is_unavailable_answer, json_error, refusal, viewer_of
from web.security import graphiql_page, graphiql_policy


class GraphQLApp(GraphQL):
    """Strawberry over HTTP (POST, GET for queries, GraphiQL) and graphql-transport-ws only,
    answering in the media type the request accepts (web.media: GraphQL over HTTP)."""

    websocket_adapter_class = SocketAdapter
    graphql_transport_ws_handler_class = SocketHandler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        request = Request(scope, receive)
        media = response_media_type(request.headers.get("accept"))
        if media is None and not self.should_render_graphql_ide(request):
            response: Response = json_error(
                406, "NOT_ACCEPTABLE", f"Accept {GRAPHQL_RESPONSE} or {JSON}.")
        else:
            request.state.media_type = media or JSON
            try:
                response = await self.run(request)
            except HTTPException as refused:
                response = refusal(refused, request.state.media_type)
        await response(scope, receive, send)

    def encode_json(self, data: object) -> bytes:
        # orjson: several times faster than json.dumps on a dashboard's large responses.
        return orjson.dumps(data)

    @property
    def graphql_ide_html(self) -> str:
        return graphiql_page()

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET with a persisted query's hash (Apollo's useGETForHashedQueries) has no `query`
        # and accepts */*: an operation, not a browser asking for GraphiQL.
        return ("extensions" not in request.query_params
                and super().should_render_graphql_ide(request))

    async def render_graphql_ide(self, request: Request) -> Response:
        page = await super().render_graphql_ide(request)
        page.headers["Content-Security-Policy"] = graphiql_policy(self.graphql_ide_html,
                                                                  request.url)
        return page

    async def get_sub_response(self, request: Request) -> Response:  # type: ignore[override]
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = request.state.media_type
        return sub_response

    async def process_result(self, request: Request, result: Any) -> Any:
        answer = await super().process_result(request, result)
        if request.state.media_type == GRAPHQL_RESPONSE and is_request_error(result.data,
                                                                              result.errors):
            answer.pop("data", None)  # nothing ran: no data entry, and a 4xx (create_response)
        return answer

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        media = sub_response.media_type or JSON
        if is_unavailable_answer(response_data):
            # The database went away during the request: the whole request is to be sent again,
            # so the answer is a 503 like the authentication middleware's, not partial data.
            return json_error(503, "SERVICE_UNAVAILABLE", UNAVAILABLE_MESSAGE,
                              headers={"Retry-After": "1"}, data=True, media=media)
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = content_type(media)
        if isinstance(response_data, dict) and "data" not in response_data:
            response.status_code = error_status(response_data)
        return response

    async def parse_http_body(self, request: Any) -> Any:
        parsed = await super().parse_http_body(request)
        names = [p.operation_name for p in (parsed if isinstance(parsed, list) else [parsed])]
        if any(not isinstance(name, str | None) for name in names):
            # Not a well-formed request (Strawberry checks query, variables and extensions).
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string "
                                     "or null, if provided.")
        return parsed

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as refused:
            if isinstance(refused.__cause__, InvalidOperationTypeError):
                # GraphQL over HTTP: a mutation sent with GET is 405, not run.
                raise HTTPException(405, "Only queries may be sent with GET; send mutations "
                                         "with POST.") from refused.__cause__
            raise

    async def get_context(self, request: Any, response: Any) -> Context:
        state = request.app.state
        return Context(database=state.database, settings=state.settings,
                       viewer=viewer_of(request), request=request, response=response,
                       services=state.services)

