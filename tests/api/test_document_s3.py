"""Documents in S3-compatible object storage (ESCP_DOCUMENT_STORE=s3), against moto's S3 server
(a real HTTP server speaking the S3 API, as MinIO would)."""
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import obstore
import pytest
from moto.server import ThreadedMotoServer
from starlette.applications import Starlette

from app import create_app
from db.engine import Database
from db.settings import Settings
from infra.document_store import Moved, move_from_disk
from infra.object_store import ObjectStore
from schema.document import download_path
from tests.api.test_document_store import legacy_row, on_disk, pdf_of, stream_get
from tests.api.test_documents import spooled, stored
from tests.given import PDF, document_count, pk, upload, uploaded
from tests.helpers import Cast
from tests.served import free_port

BUCKET = "escp-documents"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    httpx.put(f"{endpoint}/{BUCKET}").raise_for_status()  # create the bucket
    yield endpoint
    server.stop()


@pytest.fixture
def s3_settings(settings: Settings, s3_endpoint: str,
                monkeypatch: pytest.MonkeyPatch) -> Settings:
    # Credentials and region as an operator gives them: the standard AWS variables.
    for name, value in {"AWS_ACCESS_KEY_ID": "escp-test", "AWS_SECRET_ACCESS_KEY": "escp-test",
                        "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    return settings.model_copy(update=dict(document_store="s3", s3_bucket=BUCKET,
                                           s3_endpoint=s3_endpoint))


@pytest.fixture
async def s3_app(s3_settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(s3_settings, send_outbox=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def s3_client(s3_app: Starlette, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=s3_app),
                                 base_url="http://escp.test") as client:
        yield client


async def objects(s3_settings: Settings) -> dict[str, int]:
    """The bucket's objects and their sizes."""
    listed = obstore.list(ObjectStore(s3_settings).bucket, prefix="documents/")
    return {meta["path"]: meta["size"] async for page in listed for meta in page}


async def test_an_upload_is_stored_once_in_the_bucket_and_downloads_from_it(
        s3_app: Starlette, s3_client: httpx.AsyncClient, s3_settings: Settings, cast: Cast,
        database: Database) -> None:
    content = pdf_of(7 * 1024 * 1024, seed=5)  # more than one 5 MiB part
    digest = hashlib.sha256(content).hexdigest()
    first = await uploaded(s3_client, cast.token("supplier_a_user"), content, "a.pdf")
    second = await uploaded(s3_client, cast.token("supplier_b_user"), content, "b.pdf")

    assert first != second
    assert await objects(s3_settings) == {f"documents/{digest[:2]}/{digest}": len(content)}
    assert await stored(database) == {}  # nothing in PostgreSQL's store
    assert spooled(s3_settings) == []
    download = await stream_get(s3_app, download_path(s3_settings, pk(first, "Document")))
    assert download.status == 200
    assert download.headers["content-disposition"] == 'attachment; filename="a.pdf"'
    assert download.digest.hexdigest() == digest and sum(download.pieces) == len(content)


async def test_a_document_not_in_the_bucket_is_unavailable(
        s3_client: httpx.AsyncClient, s3_settings: Settings, cast: Cast,
        database: Database) -> None:
    gid = await uploaded(s3_client, cast.token("supplier_a_user"), PDF + b"%gone\n")
    digest = hashlib.sha256(PDF + b"%gone\n").hexdigest()
    await obstore.delete_async(ObjectStore(s3_settings).bucket, ObjectStore.key(digest))
    response = await s3_client.get(download_path(s3_settings, pk(gid, "Document")))
    assert response.status_code == 500
    assert response.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_UNAVAILABLE"


async def test_files_on_disk_move_into_the_bucket(s3_settings: Settings, database: Database,
                                                  tmp_path: Path) -> None:
    content = pdf_of(100_000, seed=6)
    path = on_disk(tmp_path, content)
    store = ObjectStore(s3_settings)
    assert await move_from_disk(database, store, tmp_path) == Moved(moved=1)
    assert not path.exists()
    assert await store.has(database, hashlib.sha256(content).hexdigest())
    on_disk(tmp_path, content)
    assert await move_from_disk(database, store, tmp_path) == Moved(present=1)


async def test_an_unreachable_store_is_a_503_and_the_upload_records_nothing(
        s3_settings: Settings, cast: Cast, database: Database) -> None:
    nowhere = s3_settings.model_copy(update=dict(s3_endpoint=f"http://127.0.0.1:{free_port()}"))
    application = create_app(nowhere, send_outbox=False)
    async with application.router.lifespan_context(application), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://escp.test") as client:
        response = await upload(client, cast.token("supplier_a_user"), PDF)
        assert response.status_code == 503, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_STORE_UNAVAILABLE"
        assert await document_count(database) == 0
        assert spooled(nowhere) == []
        document_id = await legacy_row(database, cast, hashlib.sha256(PDF).hexdigest(), len(PDF))
        response = await client.get(download_path(nowhere, document_id))
        assert response.status_code == 503, response.text
