"""The load driver: N concurrent clients, each one keep-alive HTTP connection (httpx), walking
the dashboard's pages in a loop for a fixed time. Used unchanged for every target."""
import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx


@dataclass
class Load:
    requests: int  # completed inside the measured window
    failures: int  # non-200 answers or transport errors, anywhere in the run
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)  # nearest rank
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.latencies_ms) if self.latencies_ms else float("nan")


async def drive(url: str, headers: dict[str, str], bodies: list[bytes], *, clients: int,
                warmup: float, duration: float,
                on_window: Callable[[str], Awaitable[None]] | None = None) -> Load:
    """POST the bodies round-robin (client k starts at page k) for warmup + duration seconds.

    Only requests that complete inside the window [warmup, warmup + duration] count (their
    latency too), so slow starts (pool filling, plan caches) stay out. `on_window("start"|"end")` runs at its edges
    (CPU snapshots).
    """
    start = time.perf_counter()
    window = (start + warmup, start + warmup + duration)
    latencies: list[float] = []
    failures = 0

    async def client(k: int) -> None:
        nonlocal failures
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60.0) as http:
            page = k
            while (began := time.perf_counter()) < window[1]:
                try:
                    response = await http.post(url, content=bodies[page % len(bodies)])
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                done = time.perf_counter()
                failures += not ok
                if ok and window[0] <= done <= window[1]:
                    latencies.append((done - began) * 1000)
                page += 1

    async def edges() -> None:
        if on_window is None:
            return
        await asyncio.sleep(max(0.0, window[0] - time.perf_counter()))
        await on_window("start")
        await asyncio.sleep(max(0.0, window[1] - time.perf_counter()))
        await on_window("end")

    await asyncio.gather(edges(), *(client(k) for k in range(clients)))
    return Load(len(latencies), failures, duration, latencies)
