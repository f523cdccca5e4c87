"""GraphQL over WebSocket (graphql-transport-ws): Strawberry's adapter and handler, subclassed."""
import asyncio
import contextlib
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from auth import portal_sessions
from auth.backend import bearer_token, session_for_token
from auth.tokens import LEEWAY_SECONDS, InvalidToken
from overrides.fanout import CURRENT_OPERATION
from resolvers.context import Context

# ---------------------------------------------------------------- GraphQL over WebSocket

# uvicorn refuses a bigger message (close 1009, "message too big") before it is assembled, let
# alone decoded: its ws_max_size (cli.UVICORN_OPTIONS).
WS_MESSAGE_LIMIT = 64 * 1024
SUBSCRIPTIONS_PER_SOCKET = 20


class SocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter, sending every message as a text frame."""

    async def send_text(self, frame: str) -> None:
        """A message encoded already (overrides.fanout: one encoding for many sockets)."""
        try:
            await self.ws.send_text(frame)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def send_json(self, message: Mapping[str, object]) -> None:
        # graphql-transport-ws messages are text frames: the standard clients (graphql-ws,
        # GraphiQL, gql) refuse binary ones. encode_json gives bytes, which suits HTTP.
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class OperationContexts:
    """The schema as a socket handler sees it, giving each operation a context of its own.

    Strawberry hands every operation of a socket the socket's one context; ours is emptied per
    subscription event (Context.begin_event), which must not touch another operation's."""

    def __init__(self, schema: Any) -> None:
        self._schema = schema

    def __getattr__(self, name: str) -> Any:
        return getattr(self._schema, name)

    async def stream(self, *args: Any, context_value: Context, **kwargs: Any) -> Any:
        return await self._schema.stream(*args, context_value=context_value.fresh(), **kwargs)


class OpenSockets:
    """This worker's signed-in sockets, counted per user, at most `limit` each: every socket
    holds feeds and tasks, and a client that reconnects in a loop must not pile them up."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.counts: Counter[int] = Counter()

    def take(self, user_id: int) -> bool:
        if self.counts[user_id] >= self.limit:
            return False
        self.counts[user_id] += 1
        return True

    def release(self, user_id: int) -> None:
        self.counts[user_id] -= 1
        if self.counts[user_id] <= 0:
            del self.counts[user_id]


class SocketHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws, signed in by the token in the connection_init payload.

    No token: close 4401; a bad, expired or revoked one: close 4403, before any operation
    runs; a user's socket over ESCP_MAX_SOCKETS_PER_USER: close 4429. An open socket closes
    (4401) the moment its token expires."""

    def __init__(self, *, schema: Any, **kwargs: Any) -> None:
        super().__init__(schema=OperationContexts(schema), **kwargs)
        self._expiry: asyncio.Task[None] | None = None
        self._holder: int | None = None  # the user this socket is counted for

    async def handle_connection_init(self, message: Any) -> None:
        payload = message.get("payload") or {}
        if isinstance(payload, dict) and not self.connection_init_received:
            refusal = await self._sign_in(payload)
            if refusal is not None:
                self.connection_init_received = True
                await self.websocket.close(*refusal)
                return
        await super().handle_connection_init(message)

    async def _sign_in(self, payload: dict[str, Any]) -> tuple[int, str] | None:
        header = payload.get("Authorization") or payload.get("authorization")
        state = self.context.request.app.state
        try:
            token = bearer_token(header if isinstance(header, str) else None)
            if token is None:
                return 4401, "Unauthorized: send Authorization in the connection_init payload"
            viewer, expires_at = await session_for_token(state.database, state.settings, token)
        except InvalidToken as exc:
            return 4403, f"Forbidden: invalid token ({exc.reason})"
        sockets: OpenSockets = state.sockets
        if not sockets.take(viewer.user_id):
            return 4429, f"Too many open sockets: at most {sockets.limit} per user"
        self._holder = viewer.user_id
        self.context.viewer = viewer
        self._expiry = asyncio.create_task(self._close_at(expires_at))
        return None

    async def _close_at(self, expires_at: datetime) -> None:
        # The same leeway as every token check, or a socket could outlive an HTTP request.
        end = expires_at + timedelta(seconds=LEEWAY_SECONDS)
        await asyncio.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()))
        with contextlib.suppress(Exception):  # the socket may be closing already
            await self.websocket.close(4401, "Unauthorized: the token has expired")

    async def run_operation(self, operation: Any) -> None:
        # The operation's resolver finds its id and socket here (overrides.fanout).
        CURRENT_OPERATION.set(operation)
        if not await self._session_works():
            with contextlib.suppress(Exception):  # the socket may be closing already
                await self.websocket.close(4401, "Unauthorized: the session has ended")
            return
        await super().run_operation(operation)

    async def _session_works(self) -> bool:
        """A portal page's socket (opened with a ticket) runs nothing once its session ended;
        its subscriptions' events stop too (resolvers.subscriptions.listening_viewers)."""
        session = self.context.viewer.portal_session_id
        if session is None:
            return True
        async with self.context.request.app.state.database.read() as conn:
            return session in await portal_sessions.working(conn, [session])

    async def shutdown(self) -> None:
        if self._holder is not None:
            self.context.request.app.state.sockets.release(self._holder)
            self._holder = None
        if self._expiry is not None:
            self._expiry.cancel()
        await super().shutdown()

