"""The document store in PostgreSQL: chunks in, chunks out, never a whole file in memory, and the
files a host kept on disk before the store moved into it."""
import asyncio
import hashlib
import random
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy import insert
from starlette.applications import Starlette

from app import create_app
from db import Document
from db.document import MAX_DOCUMENT_BYTES
from db.engine import Database
from db.settings import Settings
from infra.document_store import CHUNK_BYTES, Moved, PostgresStore, move_from_disk
from schema.document import download_path
from tests.api.test_documents import refused, send_streamed, spooled, stored
from tests.given import PDF, pk, uploaded
from tests.helpers import Cast


def pdf_of(size: int, seed: int = 0) -> bytes:
    """A PDF-looking file of `size` bytes that differ everywhere (a misordered chunk shows)."""
    return (b"%PDF-" + random.Random(seed).randbytes(size))[:size]


@dataclass
class Streamed:
    """A response read from the ASGI app message by message, its body hashed, not kept."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    pieces: list[int] = field(default_factory=list)  # the size of each body message
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)


async def stream_get(app: Starlette, url: str, method: str = "GET") -> Streamed:
    """GET through the app without buffering the body (httpx's ASGI transport keeps it whole)."""
    parts, result = urlsplit(url), Streamed()

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            result.status = int(message["status"])  # type: ignore[call-overload]
            result.headers = {k.decode(): v.decode()
                              for k, v in message["headers"]}  # type: ignore[attr-defined]
        elif message["type"] == "http.response.body" and message.get("body"):
            result.pieces.append(len(message["body"]))  # type: ignore[arg-type]
            result.digest.update(message["body"])  # type: ignore[arg-type]

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
             "http_version": "1.1", "method": method, "scheme": "http", "path": parts.path,
             "raw_path": parts.path.encode(), "query_string": parts.query.encode(),
             "root_path": "", "headers": [(b"host", b"escp.test")],
             "server": ("escp.test", 80), "client": ("127.0.0.1", 50000)}
    await app(scope, receive, send)
    return result


async def test_a_document_is_stored_and_served_in_chunks_of_at_most_one_mebibyte(
        app: Starlette, client: httpx.AsyncClient, cast: Cast, database: Database,
        settings: Settings) -> None:
    content = pdf_of(2 * CHUNK_BYTES + CHUNK_BYTES // 2)
    digest = hashlib.sha256(content).hexdigest()
    gid = await uploaded(client, cast.token("supplier_a_user"), content, "big.pdf")

    assert await stored(database) == {digest: [CHUNK_BYTES, CHUNK_BYTES, CHUNK_BYTES // 2]}
    response = await stream_get(app, download_path(settings, pk(gid, "Document")))

    assert response.status == 200
    assert response.headers["content-length"] == str(len(content))
    assert response.headers["etag"] == f'"{digest}"'
    assert response.pieces == [CHUNK_BYTES, CHUNK_BYTES, CHUNK_BYTES // 2]
    assert response.digest.hexdigest() == digest


async def test_a_head_request_answers_the_headers_without_reading_the_content(
        app: Starlette, client: httpx.AsyncClient, cast: Cast, settings: Settings) -> None:
    gid = await uploaded(client, cast.token("supplier_a_user"), PDF, "report.pdf")
    response = await stream_get(app, download_path(settings, pk(gid, "Document")), "HEAD")
    assert response.status == 200
    assert response.headers["content-length"] == str(len(PDF))
    assert response.headers["content-disposition"] == 'attachment; filename="report.pdf"'
    assert response.pieces == []


async def test_the_same_content_uploaded_at_once_twice_is_stored_once(
        client: httpx.AsyncClient, cast: Cast, database: Database, settings: Settings) -> None:
    content = pdf_of(3 * CHUNK_BYTES, seed=1)
    first, second = await asyncio.gather(
        uploaded(client, cast.token("supplier_a_user"), content, "a.pdf"),
        uploaded(client, cast.token("supplier_b_user"), content, "b.pdf"))

    assert first != second
    assert await stored(database) == {hashlib.sha256(content).hexdigest(): [CHUNK_BYTES] * 3}
    assert spooled(settings) == []


async def test_a_25_mb_upload_and_its_download_never_hold_the_whole_file_in_memory(
        cast: Cast, database: Database, settings: Settings) -> None:
    # An app of its own, whose pool starts empty: asyncpg keeps each pooled connection's last
    # receive buffers (a few hundred KiB after a chunk) until it next reads, so on the suite's
    # warm pool, whose FIFO order hands each chunk to another connection, the peak would also
    # count up to one such remainder per pooled connection: bounded by the pool, not the file.
    fresh = create_app(settings, send_outbox=False)
    async with fresh.router.lifespan_context(fresh), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fresh), base_url="http://escp.test") as client:
        tracemalloc.start()
        try:
            response = await send_streamed(client, cast.token("supplier_a_user"),
                                           MAX_DOCUMENT_BYTES, [0])
            _, upload_peak = tracemalloc.get_traced_memory()
            assert response.status_code == 201, response.text
            tracemalloc.reset_peak()
            download = await stream_get(fresh, download_path(
                settings, pk(response.json()["id"], "Document")))
            _, download_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert download.status == 200 and sum(download.pieces) == MAX_DOCUMENT_BYTES
    assert max(download.pieces) <= CHUNK_BYTES
    assert download.digest.hexdigest() == response.json()["sha256"]
    # Python's allocations (bytes, buffers, the driver's) at their highest: a few chunks (about
    # 4 MiB measured for each), never the 25 MB file.
    print(f"peak traced memory: upload {upload_peak / 2**20:.1f} MiB, "
          f"download {download_peak / 2**20:.1f} MiB")
    assert upload_peak < MAX_DOCUMENT_BYTES / 3
    assert download_peak < MAX_DOCUMENT_BYTES / 3


async def test_a_document_whose_content_is_not_stored_is_unavailable(
        client: httpx.AsyncClient, cast: Cast, database: Database, settings: Settings) -> None:
    document_id = await legacy_row(database, cast, hashlib.sha256(b"elsewhere").hexdigest(), 9)
    refused(await client.get(download_path(settings, document_id)), 500, "DOCUMENT_UNAVAILABLE")


# ---------------------------------------------------------------- from disk into the store

async def legacy_row(database: Database, cast: Cast, sha256: str, size: int) -> int:
    """A documents row written before the store existed: its bytes are on some host's disk."""
    async with database.unit_of_work() as session:
        return int(await session.scalar(insert(Document).values(
            organization_id=cast.organizations["supplier_a"], filename="old.pdf",
            content_type="application/pdf", size_bytes=size, sha256=sha256
        ).returning(Document.id)))


def on_disk(directory: Path, content: bytes, name: str | None = None) -> Path:
    """A file where the old store kept it: `ab/abcdef…` by sha256 (or under a wrong name)."""
    name = name or hashlib.sha256(content).hexdigest()
    path = directory / name[:2] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


async def test_files_on_disk_move_into_the_store_once_and_damaged_ones_stay(
        app: Starlette, client: httpx.AsyncClient, cast: Cast, database: Database,
        settings: Settings, tmp_path: Path) -> None:
    # given a host's old documents directory: a large file and a small one, the small one's
    # content uploaded again since (so stored already), one file whose bytes are not its name,
    # and an upload spool file left by a crash
    legacy, small = pdf_of(CHUNK_BYTES + 10, seed=2), PDF + b"%old\n"
    large_path, small_path = on_disk(tmp_path, legacy), on_disk(tmp_path, small)
    damaged = on_disk(tmp_path, b"%PDF-damaged", hashlib.sha256(b"something else").hexdigest())
    (tmp_path / ".incoming").mkdir()
    (tmp_path / ".incoming" / "upload-x1").write_bytes(b"%PDF-half")
    document_id = await legacy_row(database, cast, hashlib.sha256(legacy).hexdigest(),
                                   len(legacy))
    await uploaded(client, cast.token("supplier_b_user"), small)
    refused(await client.get(download_path(settings, document_id)), 500, "DOCUMENT_UNAVAILABLE")

    # when they are moved
    first = await move_from_disk(database, PostgresStore(), tmp_path)

    # then the two good ones are in the store and gone from disk, the others are left alone
    assert first == Moved(moved=1, present=1, refused=[damaged])
    assert not large_path.exists() and not large_path.parent.exists()
    assert not small_path.exists()
    assert damaged.exists() and (tmp_path / ".incoming" / "upload-x1").exists()
    assert await stored(database) == {hashlib.sha256(legacy).hexdigest(): [CHUNK_BYTES, 10],
                                      hashlib.sha256(small).hexdigest(): [len(small)]}
    download = await stream_get(app, download_path(settings, document_id))
    assert download.status == 200
    assert download.digest.hexdigest() == hashlib.sha256(legacy).hexdigest()

    # and moving again changes nothing
    before = await stored(database)
    assert await move_from_disk(database, PostgresStore(), tmp_path) == Moved(refused=[damaged])
    assert await stored(database) == before


async def test_moving_from_a_directory_that_is_not_there_does_nothing(
        database: Database, tmp_path: Path) -> None:
    assert await move_from_disk(database, PostgresStore(), tmp_path / "none") == Moved()
    assert await stored(database) == {}
