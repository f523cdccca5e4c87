"""The load generator: wrk (native, event-driven) with bench/wrk.lua, the same for every target.

A target is a URL, request bodies sent in turn and header sets (one per wrk thread, in turn);
wrk's script checks every response against the answers bench/verify.py accepted from that target.
The Python driver this replaces spent ~2.2 ms of CPU per request on the same two cores as the
servers, which capped the fastest target (see bench/README.md).
"""
import json
import os
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("wrk.lua")
INSTALL_HINT = ("wrk, the load generator, is not installed: `apt-get install wrk` (Debian, "
                "Ubuntu), `brew install wrk` (macOS), or set ESCP_WRK to its path")


class MissingLoadGenerator(RuntimeError):
    pass


def locate() -> str:
    """wrk's path: $ESCP_WRK, else the one on PATH."""
    found = os.environ.get("ESCP_WRK") or shutil.which("wrk")
    if not found or not os.access(found, os.X_OK):
        raise MissingLoadGenerator(INSTALL_HINT)
    return found


def version(wrk: str) -> str:
    found = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    return (found.stdout or found.stderr).splitlines()[0].strip()


@dataclass(frozen=True)
class Requests:
    """What wrk sends to one target, and the answers it accepts."""

    url: str
    bodies: list[bytes]
    header_sets: list[dict[str, str]]
    expected: list[bytes]

    def write(self, folder: Path) -> Path:
        for prefix, items in (("request", self.bodies), ("expected", self.expected),
                              ("headers", [_header_text(h) for h in self.header_sets])):
            for n, item in enumerate(items, start=1):
                (folder / f"{prefix}-{n}").write_bytes(item)
        return folder


def _header_text(headers: dict[str, str]) -> bytes:
    return "".join(f"{name}: {value}\n" for name, value in headers.items()).encode()


@dataclass
class Load:
    requests: int  # completed in the run, whatever their answer
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    non200: int
    unexpected: int  # 200, but not one of the verified answers
    with_errors: int  # bodies with "errors" (expected on the dashboard: its FORBIDDEN fields)
    socket_errors: int  # connect, read, write errors and timeouts
    generator_cpu_s: float  # wrk's own user + system CPU
    unexpected_sample: str | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def failures(self) -> int:
        """Anything but a verified answer: such a run is not a valid figure."""
        return self.non200 + self.unexpected + self.socket_errors


def run(wrk: str, requests: Requests, *, connections: int, threads: int, seconds: float,
        timeout: float = 60.0) -> Load:
    """One wrk run (blocking). Its CPU is read from the kernel's account of reaped children,
    so nothing else may be started or reaped by this process meanwhile (the servers run on)."""
    with tempfile.TemporaryDirectory(prefix="escp-wrk-") as tmp:
        folder = requests.write(Path(tmp))
        command = [wrk, "--threads", str(min(threads, connections)), "--connections",
                   str(connections), "--duration", f"{max(1, round(seconds))}s", "--timeout",
                   f"{timeout:g}s", "--script", str(SCRIPT), requests.url]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, env={**os.environ, "ESCP_WRK_DIR": str(folder)},
                              capture_output=True, text=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = folder / "result.json"
        if done.returncode != 0 or not result.exists():
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        sample = folder / "unexpected-sample"
        return _load(json.loads(result.read_text()),
                     (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
                     sample.read_text(errors="replace")[:2000] if sample.exists() else None)


def _load(r: dict[str, float], cpu: float, sample: str | None) -> Load:
    return Load(int(r["requests"]), r["duration_us"] / 1e6, r["p50_us"] / 1000,
                r["p99_us"] / 1000, r["mean_us"] / 1000, int(r["non200"]), int(r["unexpected"]),
                int(r["with_errors"]),
                int(r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]),
                cpu, sample)
