"""Loaded by a served process whose PYTHONPATH starts here (tests/api/test_subscription_memory):
on SIGUSR1 it writes, to $ESCP_TEST_PROBE_FILE, how many live objects of each type of ours and
of the web stack the process holds (no collection first: what the app itself left)."""
import asyncio
import gc
import json
import os
import signal
from collections import Counter

OURS = ("app", "schema", "resolvers", "auth", "db", "web", "overrides", "infra", "tasks",
        "strawberry", "starlette", "uvicorn",
        "websockets", "graphql")


def _counts() -> dict[str, int]:
    counts: Counter[str] = Counter()
    gc.unfreeze()  # frozen objects (tasks.memory) are not listed by get_objects
    things = gc.get_objects()
    gc.freeze()
    for thing in things:
        kind = type(thing)
        module = kind.__dict__.get("__module__")
        module = module if isinstance(module, str) else ""
        if module.split(".")[0] in OURS or isinstance(thing, asyncio.Task):
            counts[f"{module}.{kind.__qualname__}"] += 1
    del things
    return dict(counts)


def _write(signum: int, frame: object) -> None:
    path = os.environ["ESCP_TEST_PROBE_FILE"]
    with open(path + ".tmp", "w") as out:
        json.dump(_counts(), out)
    os.replace(path + ".tmp", path)


if os.environ.get("ESCP_TEST_PROBE_FILE"):
    signal.signal(signal.SIGUSR1, _write)
