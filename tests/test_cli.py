"""The `escp` command as an operator runs it."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db import Factory, User
from db.engine import Database


def escp(*args: str, database_url: str | None = None, data_dir: Path | None = None,
         env: dict[str, str] | None = None, timeout: float = 120
         ) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it: without the suite's cheap hash profile (unless
    `env` sets it)."""
    environment = {**os.environ, "XDG_RUNTIME_DIR": "/tmp"}
    environment.pop("ESCP_PASSWORD_HASH", None)
    environment.update(env or {})
    if database_url:
        environment["DATABASE_URL"] = database_url
    if data_dir:  # the demo stores its documents there
        environment["ESCP_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", *args],
                          env=environment, capture_output=True, text=True, timeout=timeout)


def test_unreachable_database_is_one_clear_line_not_a_traceback() -> None:
    result = escp("migrate", database_url="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "escp: cannot reach the database: [Errno 111] Connect call failed ('127.0.0.1', 1)"]


def test_export_schema_prints_the_sdl() -> None:
    result = escp("export-schema")
    assert result.returncode == 0 and "type Query {" in result.stdout


async def test_demo_is_idempotent_and_create_admin_adds_an_admin(
        database_url: str, database: Database, tmp_path: Path) -> None:
    for _ in range(2):
        result = escp("demo", database_url=database_url, data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "admin@escp.example" in result.stdout
    created = escp("create-admin", "--email", "Root@Example.test", "--password", "long enough pw",
                   database_url=database_url)
    assert created.returncode == 0, created.stderr
    async with database.read() as conn:
        factories = (await conn.execute(select(func.count()).select_from(Factory))).scalar_one()
        admin = (await conn.execute(select(User.role).where(
            User.email == "root@example.test"))).scalar_one()
    assert factories == 8 and admin == "ADMIN"
    again = escp("create-admin", "--email", "root@example.test", "--password", "long enough pw",
                 database_url=database_url)
    assert again.returncode == 1 and again.stderr.strip().startswith("escp: ")


@pytest.mark.parametrize("command", [
    ["serve", "--port", "1"], ["create-admin", "--email", "root@example.test", "--password", "x"]])
def test_serve_and_create_admin_refuse_the_test_suites_cheap_hash_profile(
        command: list[str]) -> None:
    # when (with an unreachable database: the refusal comes before anything is started)
    result = escp(*command, database_url="postgresql://nobody@127.0.0.1:1/none",
                  env={"ESCP_PASSWORD_HASH": "fast"})
    # then
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "escp: ESCP_PASSWORD_HASH=fast is the test suite's cheap password hashing and protects "
        f"no password; `escp {command[0]}` refuses to run with it. Unset ESCP_PASSWORD_HASH."]


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("ESCP_INTROSPECTION", "maybe",
     "ESCP_INTROSPECTION must be on or off (true/false, 1/0, yes/no), not 'maybe'"),
    ("ESCP_JWT_TTL_SECONDS", "1h", "ESCP_JWT_TTL_SECONDS must be a whole number, not '1h'"),
    ("ESCP_MAX_SOCKETS_PER_USER", "0", "ESCP_MAX_SOCKETS_PER_USER must be at least 1, not 0"),
    ("ESCP_EXPIRY_SWEEP_SECONDS", "soon",
     "ESCP_EXPIRY_SWEEP_SECONDS must be a number of seconds, not 'soon'"),
    ("ESCP_FEE_SEAL", "eight hundred",
     "ESCP_FEE_SEAL must be an amount like 1500.00, not 'eight hundred'"),
    ("ESCP_CORS_ORIGINS", "https://app.example.com,*", "ESCP_CORS_ORIGINS must list origins "
     "like https://app.example.com (comma-separated), not '*'"),
    ("ESCP_JWT_SECRET", "short", "ESCP_JWT_SECRET must be at least 32 bytes for HS256"),
    ("DATABASE_URL", "mysql://db/escp", "DATABASE_URL must be a postgresql:// URL, not 'mysql'"),
    ("ESCP_LOG_FORMAT", "xml", "ESCP_LOG_FORMAT must be one of json, text, not 'xml'"),
    ("ESCP_APQ_CACHE_SIZE", "0", "ESCP_APQ_CACHE_SIZE must be at least 1, not 0"),
    ("ESCP_TRUSTED_DOCUMENTS", "/nonexistent/trusted.json", "ESCP_TRUSTED_DOCUMENTS must name "
     "a readable JSON manifest ([Errno 2] No such file or directory: "
     "'/nonexistent/trusted.json')"),
])
def test_a_bad_setting_stops_serve_with_one_line_naming_it(variable: str, value: str,
                                                           message: str) -> None:
    result = escp("serve", "--port", "1", env={variable: value}, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"escp: {message}"]
