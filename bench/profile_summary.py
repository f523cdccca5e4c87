"""Where the server's CPU time goes, from py-spy's raw (collapsed stack) output:

    python bench/profile_summary.py bench/results/profile-<when>.txt

Three views of the same samples: self time by layer (sums to 100%), inclusive time of the
activities worth optimizing (they overlap), and the top functions by self time.
"""
import re
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")

# py-spy names files by module path ("strawberry/permission.py", "schema/factory.py"); the
# first component says whose code it is.
LAYERS = {
    "graphql": "graphql-core", "strawberry": "strawberry", "sqlalchemy": "SQLAlchemy",
    "asyncpg": "asyncpg", "aiodataloader.py": "aiodataloader", "aiodataloader": "aiodataloader",
    "uvicorn": "uvicorn / starlette", "starlette": "uvicorn / starlette",
    "httptools": "uvicorn / starlette", "h11": "uvicorn / starlette", "json": "json",
    "asyncio": "asyncio", "uvloop": "asyncio", "logging": "logging + tracebacks",
    "traceback.py": "logging + tracebacks", "linecache.py": "logging + tracebacks",
    "jwt": "PyJWT", "schema": "our code", "resolvers": "our code", "auth": "our code",
    "db": "our code", "app.py": "our code", "bench": "our code", "web": "our code",
    "overrides": "our code", "infra": "our code", "tasks": "our code", "cli.py": "our code",
}

# (activity, file prefixes); a sample counts once per activity whose code is on its stack.
ACTIVITIES = [
    ("GraphQL errors logged with tracebacks (strawberry StrawberryLogger.error)",
     ("strawberry/utils/logging.py",)),
    ("permission checks (strawberry PermissionExtension, auth/permissions.py)",
     ("strawberry/permission.py", "auth/permissions.py")),
    ("SQL statement compilation (SQLAlchemy compiler and cache keys)",
     ("sqlalchemy/sql/compiler.py", "sqlalchemy/sql/cache_key.py")),
    ("connection checkout / return (SQLAlchemy pool: pre-ping, reset)", ("sqlalchemy/pool/",)),
    ("asyncpg (protocol, prepare, fetch, BEGIN/ROLLBACK)", ("asyncpg/",)),
    ("result rows (SQLAlchemy engine/result)",
     ("sqlalchemy/engine/result.py", "sqlalchemy/engine/cursor.py", "sqlalchemy/engine/row")),
    ("dataloaders (aiodataloader)", ("aiodataloader",)),
    ("parse + validate the query (graphql-core language/validation)",
     ("graphql/language/", "graphql/validation/")),
    ("executing fields / completing values (graphql-core execution)", ("graphql/execution/",)),
    ("schema/ types and resolvers (from_row, field resolvers)", ("schema/",)),
    ("resolvers/ (loaders, context, access log)", ("resolvers/",)),
    ("JSON encoding of the response", ("json/encoder.py", "json/__init__.py")),
    ("token check + viewer lookup (auth/backend.py)", ("auth/backend.py",)),
]


def parse(text: str) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(_short(frame) for frame in stack.split(";"))] += int(count)
    return stacks


def _short(frame: str) -> str:
    """`func (module/path.py)`: line numbers dropped, absolute paths cut to module paths."""
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3.11/", "/lib/python3.12/", "/lib/python3.13/"):
        if marker in path:
            path = path[path.index(marker) + len(marker):]
            break
    return f"{match['func']} ({path})"


def path_of(frame: str) -> str:
    return frame[frame.rfind("(") + 1:-1] if frame.endswith(")") else ""


def layer_of(frame: str) -> str:
    return LAYERS.get(path_of(frame).split("/")[0], "other (stdlib, C, unknown)")


def _percent(count: int, total: int) -> str:
    return f"{100 * count / total:5.1f}%"


def summarize(text: str, top: int = 15) -> str:
    stacks = parse(text)
    total = sum(stacks.values())
    if not total:
        return "profile: no samples"
    layers: Counter[str] = Counter()
    selfs: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    for stack, count in stacks.items():
        layers[layer_of(stack[-1])] += count
        selfs[stack[-1]] += count
        paths = [path_of(frame) for frame in stack]
        for name, prefixes in ACTIVITIES:
            if any(path.startswith(prefixes) for path in paths):
                activities[name] += count
    lines = [f"profile: {total} samples of the server's busy time (py-spy, 100 Hz)", "",
             "self time by layer:"]
    lines += [f"  {_percent(c, total)}  {name}" for name, c in layers.most_common()]
    lines += ["", "inclusive time of activities (overlapping):"]
    lines += [f"  {_percent(c, total)}  {name}" for name, c in activities.most_common()]
    lines += ["", f"top {top} functions by self time:"]
    lines += [f"  {_percent(c, total)}  {name}" for name, c in selfs.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1]).read_text()))
