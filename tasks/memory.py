"""The worker's garbage collection, kept off the delivery path, and memory given back once
subscribers leave.

CPython's full (generation 2) collection walks every tracked object: with 1,000 open sockets a
worker holds ~450,000 of them and a full pass stalls the event loop for 0.3-0.7 s, which is the
whole latency budget of a subscription event. Left to itself CPython starts such passes from
allocation counts, so they land in the middle of deliveries (the bursts of allocation).

So, between events (when no feed is delivering), the keeper:
- every `interval`: collects the young generations and freezes what survives (`gc.freeze`, which
  only moves lists), so the collector's own passes only ever walk what is newer than a second;
- once subscribers have left (fewer listeners than at the last full pass, and no change for an
  interval), or every `full_every` seconds: unfreezes, runs one full collection (frozen cycles
  are freed there, so nothing is kept for good) and hands freed memory back to the system
  (glibc's `malloc_trim`: its arenas keep freed pages otherwise), then freezes again.
"""
import asyncio
import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def _malloc_trim() -> Callable[[], None]:
    """glibc's malloc_trim(0), or nothing where the C library has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0) and None


give_back = _malloc_trim()


def reclaim() -> None:
    """One full collection of everything, frozen or not, then memory back to the system."""
    gc.unfreeze()
    gc.collect()
    give_back()
    gc.freeze()


class MemoryKeeper:
    def __init__(self, quiet: Callable[[], bool], listeners: Callable[[], int],
                 interval: float = 1.0, full_every: float = 600.0) -> None:
        self._quiet, self._listeners = quiet, listeners
        self._interval, self._full_every = interval, full_every

    async def run_forever(self) -> None:
        gc.freeze()  # the app as started: modules, schema, compiled plans
        last_full, most, before = time.monotonic(), self._listeners(), -1
        try:
            while True:
                await asyncio.sleep(self._interval)
                now, listening = time.monotonic(), self._listeners()
                # Closed sockets' objects outlive their listeners by a moment (the close
                # handshake, the handler's tasks): collect once the count has not moved for a
                # whole interval, or a pass could come too early and find little to free.
                settled, before = listening == before, listening
                if not self._quiet():
                    continue  # an event is being delivered: never stall it
                if (listening < most and settled) or now - last_full >= self._full_every:
                    reclaim()
                    last_full, most = now, listening
                else:
                    gc.collect(1)
                    gc.freeze()
                    most = max(most, listening)
        finally:
            gc.unfreeze()  # a stopped app's objects are ordinary garbage again
