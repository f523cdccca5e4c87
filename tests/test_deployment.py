"""The deployment files: Docker cannot run in the test environment, so these tests read them
and check what they rely on exists in the project (commands, files, settings)."""
import json
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from cli import parser

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS_PER_WORKER = 31  # db.engine: pool_size 30, no overflow; infra.events: 1 LISTEN


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())  # type: ignore[no-any-return]


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines
            if line and not line.startswith("#")]


def escp_commands() -> set[str]:
    subparsers = next(a for a in parser()._actions if a.dest == "command")
    return set(subparsers.choices)  # type: ignore[arg-type]


def check_escp(argv: list[str]) -> None:
    """An `escp ...` command line the files run parses with the real command line."""
    assert argv[0] == "escp", argv
    assert argv[1] in escp_commands(), argv
    parser().parse_args(argv[1:])


def test_the_image_is_slim_non_root_and_runs_escp_serve_with_workers() -> None:
    steps = dockerfile()
    assert re.fullmatch(r"python:3\.1[1-9]-slim", next(a for i, a in steps if i == "FROM"))
    users = [a for i, a in steps if i == "USER"]
    assert users and users[-1] not in ("root", "0")
    [cmd] = [a for i, a in steps if i == "CMD"]
    argv = json.loads(cmd)  # the exec form
    check_escp(argv)
    assert argv[1] == "serve" and "--workers" in argv
    assert argv[argv.index("--host") + 1] == "0.0.0.0"  # reachable from outside the container
    # Everything it copies exists, and it copies every part of the package.
    copied = set()
    for instruction, arguments in steps:
        if instruction == "COPY":
            *sources, _ = arguments.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                copied.add(source.rstrip("/"))
    assert {"app.py", "cli.py", "telemetry.py", "pyproject.toml", "migrations", "auth", "db",
            "resolvers", "schema", "web", "overrides", "infra", "tasks", "demo"} <= copied
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert not any(part in ignored for part in copied)


def test_the_compose_file_runs_migrations_alone_then_two_app_containers() -> None:
    services = compose()["services"]
    assert services["db"]["image"].startswith("postgres:")
    check_escp(services["migrate"]["command"])
    assert services["migrate"]["command"][1] == "migrate"
    apps = {name: s for name, s in services.items() if s.get("command", [None, None])[1] == "serve"}
    assert len(apps) == 2
    for name, app in apps.items():
        check_escp(app["command"])
        assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert app["depends_on"]["db"]["condition"] == "service_healthy"
        # One secret and one database for all: a token from one container works on the other.
        assert "ESCP_JWT_SECRET" in app["environment"] and "DATABASE_URL" in app["environment"]
    environments = [app["environment"] for app in apps.values()]
    assert all(env == environments[0] for env in environments)


def test_postgresql_allows_the_connections_every_worker_keeps() -> None:
    services = compose()["services"]
    command = " ".join(services["db"]["command"])
    max_connections = int(re.search(r"max_connections=(\d+)", command).group(1))  # type: ignore[union-attr]
    workers = sum(int(s["command"][s["command"].index("--workers") + 1])
                  for s in services.values() if s.get("command", [None, None])[1] == "serve")
    needed = workers * CONNECTIONS_PER_WORKER
    assert max_connections >= needed + 10, (max_connections, needed)  # psql, pg_dump, migrate
    from db.engine import make_engine

    pool = make_engine("postgresql://u@localhost/x").pool
    assert pool.size() + 1 == CONNECTIONS_PER_WORKER  # the README's figure is still right


def test_the_readme_documents_operating() -> None:
    readme = (ROOT / "README.md").read_text()
    operating = readme[readme.index("## Operating"):]
    for needed in ("docker compose", "escp migrate", "pg_dump", "pg_restore", "max_connections",
                   "ESCP_JWT_SECRET", "--workers"):
        assert needed in operating, needed
    for line in operating.splitlines():
        if line.strip().startswith("escp "):
            assert shlex.split(line.strip())[1] in escp_commands(), line
