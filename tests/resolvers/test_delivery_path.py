"""What keeps background work off a subscription event's delivery (issue 11): the feed knows
when it is delivering, the outbox sender and the collector wait for it, and a socket that
falls behind loses its oldest frame without stopping the feed."""
import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from auth.viewer import Viewer
from db.enums import OrganizationKind, Role
from resolvers.subscriptions import LISTENER_QUEUE_SIZE, Delivery, Feed, Listener, quiet
from tasks.memory import MemoryKeeper
from tasks.outbox import OutboxSender

VIEWER = Viewer(user_id=1, organization_id=2, organization_kind=OrganizationKind.CUSTOMER,
                role=Role.CUSTOMER)
EVENT = {"topic": "certification", "factory_id": 1, "at": datetime.now(UTC).isoformat()}


class Direct:
    """A socket's operation as the feed sees it (schema.fanout.Direct's interface)."""

    operation_id = "1"

    def key(self, delivery: Any) -> tuple[Any, ...]:
        return ("everyone",)

    async def answer(self, delivery: Any) -> tuple[str, frozenset[Any]]:
        return '{"data":{}}', frozenset()

    def frame(self, payload: str) -> str:
        return payload


class NoDatabase:
    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[None]:
        yield None


async def everyone(conn: Any, event: Any, listeners: list[Listener]) -> dict[Listener, Any]:
    return {listener: Delivery(event, listener.viewer, None, {}, {}) for listener in listeners}


def test_a_socket_that_falls_behind_loses_its_oldest_frame() -> None:
    listener, at = Listener(VIEWER, direct=Direct()), datetime.now(UTC)
    for n in range(LISTENER_QUEUE_SIZE):
        assert listener.put((f"frame {n}", at), "certification") is False
    assert listener.put(("newest", at), "certification") is True  # a frame, not a Delivery
    assert listener.queue.get_nowait() == ("frame 1", at)


async def test_the_feed_delivers_until_every_socket_has_written_its_frame() -> None:
    # stand-ins for the hub and the database, which this test never reaches
    feed = Feed(SimpleNamespace(), NoDatabase(), "certification", everyone)  # type: ignore[arg-type]
    feeds = {"certification": feed}
    async with feed.listen(VIEWER, direct=Direct()) as one, \
            feed.listen(VIEWER, direct=Direct()):
        assert quiet(feeds)
        await feed.dispatch(EVENT)
        assert not quiet(feeds)  # two frames queued, none written
        one.queue.get_nowait()
        feed.written()
        assert not quiet(feeds)
    assert quiet(feeds)  # the other socket closed with its frame unwritten


async def test_the_outbox_sender_waits_for_deliveries_before_each_batch() -> None:
    class Stop(Exception):
        pass

    waited = []

    async def pause() -> None:
        waited.append(True)
        raise Stop

    sender = OutboxSender(None, None, pause=pause)  # type: ignore[arg-type]  # no database needed
    with pytest.raises(Stop):  # stopped before it touched the (absent) database
        await sender.run_forever()
    assert waited == [True]


async def until(condition: Any, seconds: float = 10.0) -> None:
    """Wait for the keeper's loop to bring `condition` about (on a loaded machine its 10 ms
    ticks come late; a fixed sleep made this test flaky)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the keeper did not get there"
        await asyncio.sleep(0.01)


async def test_the_collector_runs_between_deliveries_and_after_sockets_close() -> None:
    state: dict[str, Any] = {"quiet": False, "listening": 5}
    full = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            full.append(True)

    keeper = MemoryKeeper(lambda: state["quiet"], lambda: state["listening"], interval=0.01)
    gc.callbacks.append(seen)
    task = asyncio.create_task(keeper.run_forever())
    try:
        await asyncio.sleep(0.05)
        gc.unfreeze()
        await asyncio.sleep(0.1)
        assert gc.get_freeze_count() == 0  # delivering: nothing frozen (nor collected)
        state["quiet"] = True
        await until(lambda: gc.get_freeze_count() > 0)  # between events: survivors frozen
        full.clear()
        state["listening"] = 1  # sockets closed
        await until(lambda: bool(full) and gc.get_freeze_count() > 0)  # a full pass, refrozen
    finally:
        gc.callbacks.remove(seen)
        task.cancel()
        await asyncio.wait([task])
    assert gc.get_freeze_count() == 0  # a stopped keeper leaves nothing frozen
