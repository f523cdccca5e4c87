"""Nothing secret in the log of a served run that provokes errors: no password hash, no token,
no bound parameters, no email address at INFO or above, no traceback for a client that left."""
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db.engine import Database
from db.settings import Settings
from tests.api.connection_steps import REQUEST
from tests.api.test_accounts import SIGN_UP, sign_up_input
from tests.helpers import Cast, gql
from tests.served import ROOT, free_port

DOWNLOAD_URL = "query($id: ID!) { node(id: $id) { ... on Document { downloadUrl } } }"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


@asynccontextmanager
async def escp_serve(database_url: str, settings: Settings, log: Path) -> AsyncIterator[str]:
    """`escp serve` as an operator runs it (its own logging set-up), its log in `log`; real
    password hashing (the suite's fast profile is unset)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ESCP_PASSWORD_HASH"}
    env |= {"DATABASE_URL": database_url, "ESCP_JWT_SECRET": settings.jwt_secret,
            "ESCP_DATA_DIR": str(settings.data_dir), "ESCP_EXPIRY_SWEEP_SECONDS": "3600"}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        await _ready(base, process)
        yield base
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)


async def _ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the server exited"
            try:
                if (await client.get(base + "/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("the server did not become ready")


PARTS = {
    "/graphql": ("application/json", b'{"query": "{ viewer { '),
    "/documents": ("multipart/form-data; boundary=x",
                   b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
                   b"Content-Type: application/pdf\r\n\r\n%PDF-1.7\n"),
}


async def leave_mid_request(base: str, path: str, token: str) -> None:
    """Send the headers and part of the body, then go away."""
    content_type, part = PARTS[path]
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write((f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                  f"Authorization: Bearer {token}\r\n"
                  "Content-Length: 100000\r\n\r\n").encode() + part)
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.close()
    await writer.wait_closed()


async def provoke(client: httpx.AsyncClient, base: str, cast: Cast) -> None:
    # Sign-ups: a duplicate, two racing twins, and one whose insert the database refuses.
    for _ in range(2):
        await gql(client, SIGN_UP, input=sign_up_input("CUSTOMER", email="dup@brand.test"))
    await asyncio.gather(*(gql(client, SIGN_UP, input=sign_up_input(
        "SUPPLIER", email="twin@maker.test", organization=f"Twin {i}")) for i in range(2)))
    refused = sign_up_input("CUSTOMER", email="nul@brand.test", organization="Nul Ltd")
    await gql(client, SIGN_UP, input=refused | {"name": "Nia\x00"})
    # Bad tokens: garbage, and a real one signed with another secret.
    forged = cast.token("customer_a_user").rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
    for token in ("garbage", forged):
        await client.post("/graphql", json={"query": "{ viewer { user { email } } }"},
                          headers={"Authorization": f"Bearer {token}"})
    # Clients that go away mid-request.
    token = cast.token("supplier_a_user")
    for path in PARTS:
        await leave_mid_request(base, path, token)
    # A download through its signed link (the link's query is its credential).
    upload = await client.post("/documents", headers={"Authorization": f"Bearer {token}"},
                               files={"file": ("a.pdf", b"%PDF-1.7\n%%EOF\n", "application/pdf")})
    body = await gql(client, DOWNLOAD_URL, token, id=upload.json()["id"])
    assert (await client.get(body["data"]["node"]["downloadUrl"])).status_code == 200
    # Mail: a connection request notifies the factory's users (no SMTP: the log-only sender).
    await gql(client, REQUEST, cast.token("customer_a_user"), factoryId=cast.factory_gid("alpha"),
              scopes=["PROFILE"], message=None)
    await asyncio.sleep(2.5)  # the outbox sender polls every second


async def test_the_log_of_a_run_that_provokes_errors_holds_no_secret(
        database: Database, database_url: str, settings: Settings, cast: Cast,
        tmp_path: Path) -> None:
    log = tmp_path / "escp.log"
    async with escp_serve(database_url, settings, log) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await provoke(client, base, cast)

    text = log.read_text(errors="replace")
    # Not a terminal: JSON, one object a line (a trace inside its line), each request's line
    # with its id
    lines = [json.loads(line) for line in text.splitlines()]
    requests = [line for line in lines if line["logger"] == "escp.request"]
    assert requests and all(re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
                            for line in requests)
    assert "outbox:" in text and "serving on" in text  # the run did what it should
    assert "$argon2" not in text
    assert "eyJ" not in text
    assert "[parameters:" not in text and "signature=" not in text
    leaked = [line for line in lines if line["level"] != "DEBUG" and EMAIL.search(str(line))]
    assert leaked == []
    assert "ClientDisconnect" not in text and "Exception in ASGI application" not in text


async def test_a_failing_statement_names_no_bound_value(database: Database) -> None:
    """Whatever input validation lets through, a statement the database refuses does not carry
    its values into the exception (and so into the log of an internal error)."""
    with pytest.raises(DBAPIError) as failed:
        async with database.engine.begin() as conn:
            await conn.execute(text("INSERT INTO users (email, name, password_hash, role) "
                                    "VALUES (:email, :name, :hash, 'CUSTOMER')"),
                               {"email": "someone@brand.test", "name": "Nia\x00",
                                "hash": "$argon2id$v=19$secret"})
    assert "someone@brand.test" not in str(failed.value)
    assert "$argon2" not in str(failed.value)
