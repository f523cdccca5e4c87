"""The per-request context: viewer, database, settings, loaders made per request."""
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiodataloader import DataLoader

from auth.access import AccessNotLoaded, FactoryAccess
from auth.viewer import ANONYMOUS, Viewer
from db.engine import Database
from db.enums import ShareScope
from db.settings import Settings

L = TypeVar("L", bound=DataLoader)


@dataclass
class Context:
    database: Database
    settings: Settings
    viewer: Viewer = ANONYMOUS
    request: Any = None
    response: Any = None
    # Set by Strawberry from the WebSocket connection_init payload.
    connection_params: dict[str, Any] | None = None
    # Shared app services (event hub, …) by name; owned by the app's lifespan.
    services: dict[str, Any] = field(default_factory=dict)
    # (factory id, scope) pairs a customer read in this request, for the access log.
    scoped_reads: set[tuple[int, ShareScope]] = field(default_factory=set)
    _loaders: dict[type, DataLoader] = field(default_factory=dict)
    # Access the request has loaded, by factory id: rules read it synchronously.
    access_cache: dict[int, FactoryAccess] = field(default_factory=dict)
    # Set per subscription event only (begin_event); None for queries and mutations.
    event_answers: dict[Any, Any] | None = None
    # Rows an event's feed read, by loader class: primed into a loader when it is first made.
    _primes: dict[type, dict[int, Any]] = field(default_factory=dict)

    def loader(self, cls: type[L]) -> L:
        """The request's one instance of a loader class (a batch and a cache per request)."""
        found = self._loaders.get(cls)
        if found is None:
            found = self._loaders[cls] = cls(self)
            for key, row in self._primes.get(cls, {}).items():
                if row is not None:
                    found.prime(key, row)
        return found  # type: ignore[return-value]

    async def access(self, factory_id: int) -> FactoryAccess:
        found = self.access_cache.get(factory_id)
        if found is not None:
            return found
        from resolvers.loaders import AccessByFactory

        return await self.loader(AccessByFactory).load(factory_id)

    async def load_access(self, factory_ids: list[int]) -> None:
        """Load the access to many factories in one batch (a page of them, say)."""
        from resolvers.loaders import AccessByFactory

        missing = [f for f in factory_ids if f not in self.access_cache]
        if missing:
            await self.loader(AccessByFactory).load_many(missing)

    def known_access(self, factory_id: int) -> FactoryAccess:
        """The access this request already loaded; AccessNotLoaded when it has not."""
        found = self.access_cache.get(factory_id)
        if found is None:
            raise AccessNotLoaded(factory_id)
        return found

    def fresh(self) -> "Context":
        """The same viewer with empty loaders: one per subscription operation on a socket."""
        return Context(self.database, self.settings, self.viewer, self.request, self.response,
                       self.connection_params, self.services)

    def begin_event(self, viewer: Viewer, access: FactoryAccess | None,
                    primes: dict[type, dict[int, Any]], answers: dict[Any, Any]) -> None:
        """Ready this subscription operation's context for its next event: the viewer as it is
        now, nothing kept from earlier events, the loaders primed with the rows the event's
        feed read for all its listeners, and the event's shared answers (overrides.sharing)."""
        self.viewer = viewer
        self.event_answers = answers
        self._loaders.clear()
        self.access_cache.clear()
        self.scoped_reads.clear()
        if access is not None:
            self.access_cache[access.factory_id] = access
        # Loaders are made (and primed) only if this event is executed for this subscriber:
        # one whose organization already has the answer (overrides.sharing) needs none.
        self._primes = primes
