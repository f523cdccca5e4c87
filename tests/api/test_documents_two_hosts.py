"""Two hosts, one database: `escp serve` on each, with data directories of their own. A document
uploaded through one is downloaded through the other, and a document the first host kept on its
disk before the store existed is moved into it when that host starts."""
import hashlib
from pathlib import Path

import httpx

from db.engine import Database
from db.settings import Settings
from schema.document import download_path
from tests.api.test_document_store import legacy_row, on_disk, pdf_of
from tests.api.test_documents import DOCUMENT_URL
from tests.given import uploaded
from tests.helpers import Cast, gql
from tests.served import escp_served


async def test_a_document_uploaded_through_one_host_downloads_through_the_other(
        database_url: str, database: Database, cast: Cast, settings: Settings,
        tmp_path: Path) -> None:
    # given host A's disk still holds a document uploaded before the store existed
    host_a, host_b = tmp_path / "host-a", tmp_path / "host-b"
    old = pdf_of(1_500_000, seed=3)
    old_file = on_disk(host_a / "documents", old)
    old_id = await legacy_row(database, cast, hashlib.sha256(old).hexdigest(), len(old))
    new = pdf_of(2_500_000, seed=4)
    token = cast.token("supplier_a_user")

    async with escp_served(database_url, settings.jwt_secret, host_a) as a, \
            escp_served(database_url, settings.jwt_secret, host_b) as b, \
            httpx.AsyncClient(base_url=a.http, timeout=30) as to_a, \
            httpx.AsyncClient(base_url=b.http, timeout=30) as to_b:
        # when a document is uploaded through A and its link asked of B
        gid = await uploaded(to_a, token, new, "new.pdf")
        body = await gql(to_b, DOCUMENT_URL, token, id=gid)
        # then B serves its bytes
        response = await to_b.get(body["data"]["node"]["downloadUrl"])
        assert response.status_code == 200, response.text
        assert response.content == new
        # and B serves the document A had on its disk: A moved it into the store as it started
        response = await to_b.get(download_path(settings, old_id))
        assert response.status_code == 200, response.text
        assert response.content == old

    assert not old_file.exists()
    assert "moved 1 document files" in (host_a / "serve.log").read_text()
    assert not (host_b / "documents").exists()  # nothing of B's own on its disk
