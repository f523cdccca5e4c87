"""Documents over HTTP: POST /documents and the signed GET /documents/{id} links."""
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from sqlalchemy import func, select

from db import Document, DocumentChunk, DocumentContent
from db.document import MAX_DOCUMENT_BYTES
from db.engine import Database
from db.settings import Settings
from resolvers.document import incoming_dir
from schema.document import download_path
from schema.ids import encode_id
from tests.given import (
    CSV,
    JPEG,
    PDF,
    PNG,
    XLSX,
    XLSX_TYPE,
    audited_factory,
    connect,
    document_count,
    pk,
    upload,
    uploaded,
)
from tests.helpers import Cast, errors_at, gql

DOCUMENT_URL = """
query($id: ID!) { node(id: $id) { ... on Document { filename contentType sizeBytes sha256
                                                     downloadUrl } } }
"""
AUDIT_REPORT = """
query($id: ID!) { node(id: $id) { ... on Audit { id report { filename downloadUrl } } } }
"""
BOUNDARY = "escp-test-boundary"
CHUNK = 64 * 1024


async def stored(database: Database) -> dict[str, list[int]]:
    """Each stored content's chunk sizes, by sha256."""
    async with database.read() as conn:
        contents = (await conn.scalars(select(DocumentContent.sha256))).all()
        chunks = (await conn.execute(select(DocumentChunk.sha256, func.octet_length(
            DocumentChunk.data)).order_by(DocumentChunk.sha256, DocumentChunk.number))).all()
    return {sha256: [size for digest, size in chunks if digest == sha256] for sha256 in contents}


async def stored_bytes(database: Database, sha256: str) -> bytes:
    async with database.read() as conn:
        return b"".join((await conn.scalars(select(DocumentChunk.data).where(
            DocumentChunk.sha256 == sha256).order_by(DocumentChunk.number))).all())


def spooled(settings: Settings) -> list[Path]:
    """Upload spool files left behind (there should be none once a request is answered)."""
    return list(incoming_dir(settings).iterdir())


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == code


async def streamed_pdf(size: int, sent: list[int]) -> AsyncIterator[bytes]:
    """A multipart body whose file part has `size` bytes, produced chunk by chunk."""
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"big.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode()
    remaining, first = size, True
    while remaining:
        chunk = (b"%PDF-" if first else b"") + b"x" * (min(CHUNK, remaining) - (5 if first else 0))
        first, remaining = False, remaining - len(chunk)
        sent[0] += len(chunk)
        yield chunk
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def send_streamed(client: httpx.AsyncClient, token: str, size: int,
                        sent: list[int]) -> httpx.Response:
    return await client.post(
        "/documents", content=streamed_pdf(size, sent),
        headers={"Authorization": f"Bearer {token}",
                 "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})


# ---------------------------------------------------------------- upload

async def test_supplier_uploads_a_pdf_and_gets_its_id_hash_and_size(
        client: httpx.AsyncClient, cast: Cast, database: Database, settings: Settings) -> None:
    response = await upload(client, cast.token("supplier_a_user"), PDF)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {"id": body["id"], "sha256": hashlib.sha256(PDF).hexdigest(),
                    "sizeBytes": len(PDF)}
    async with database.read() as conn:
        row = (await conn.execute(select(*Document.__table__.c).where(
            Document.id == pk(body["id"], "Document")))).one()
    assert (row.organization_id, row.uploaded_by_id, row.filename, row.content_type) == (
        cast.organizations["supplier_a"], cast.people["supplier_a_user"].user_id, "report.pdf",
        "application/pdf")
    assert await stored_bytes(database, row.sha256) == PDF
    assert spooled(settings) == []


ALLOWED = [(PNG, "photo.png", "image/png"), (JPEG, "photo.jpg", "image/jpeg"),
           (XLSX, "figures.xlsx", XLSX_TYPE), (CSV, "figures.csv", "text/csv"),
           (CSV, "figures.csv", "text/csv; charset=utf-8")]
REFUSED_TYPES = [
    (PDF, "text/html"),                      # declared type not allowed
    (PDF, "application/octet-stream"),
    (PNG, "application/pdf"),                # declared PDF, PNG bytes
    (b"<html><script>", "image/png"),        # declared PNG, HTML bytes
    (b"\xff\xd8", "image/jpeg"),             # shorter than the JPEG signature
    (PDF, XLSX_TYPE),                        # declared XLSX, not a ZIP
    (b"a,b\n1,\x002\n", "text/csv"),         # NUL byte
    (b"a,b\n\xc3\x28,2\n", "text/csv"),      # invalid UTF-8
    (b"a,b\n1,\xe2\x82", "text/csv"),        # UTF-8 cut off at the end
]


async def test_every_allowed_type_is_accepted(client: httpx.AsyncClient, cast: Cast) -> None:
    for content, filename, content_type in ALLOWED:
        response = await upload(client, cast.token("firm_a_user"), content, filename,
                                content_type)
        assert response.status_code == 201, (content_type, response.text)


async def test_identical_content_is_stored_once_under_its_sha256(
        client: httpx.AsyncClient, cast: Cast, database: Database, settings: Settings) -> None:
    content = PDF + b"% stored once\n"
    first = await uploaded(client, cast.token("supplier_a_user"), content, "a.pdf")
    second = await uploaded(client, cast.token("supplier_b_user"), content, "b.pdf")

    assert first != second  # one row per upload: own filename, own organization
    assert await stored(database) == {hashlib.sha256(content).hexdigest(): [len(content)]}
    assert spooled(settings) == []


async def test_a_file_of_exactly_25_mb_is_accepted(client: httpx.AsyncClient,
                                                   cast: Cast) -> None:
    sent = [0]
    response = await send_streamed(client, cast.token("supplier_a_user"), MAX_DOCUMENT_BYTES,
                                   sent)
    assert response.status_code == 201, response.text
    assert response.json()["sizeBytes"] == MAX_DOCUMENT_BYTES


async def test_one_byte_over_25_mb_is_refused_while_streaming_and_nothing_is_stored(
        client: httpx.AsyncClient, cast: Cast, database: Database, settings: Settings) -> None:
    sent = [0]

    response = await send_streamed(client, cast.token("supplier_a_user"),
                                   MAX_DOCUMENT_BYTES + 1, sent)

    refused(response, 413, "DOCUMENT_TOO_LARGE")
    assert sent[0] == MAX_DOCUMENT_BYTES + 1  # the last chunk carried the byte too many
    assert await document_count(database) == 0
    assert await stored(database) == {}
    assert spooled(settings) == []


async def test_reading_stops_at_the_limit_when_more_is_sent(client: httpx.AsyncClient,
                                                            cast: Cast) -> None:
    sent = [0]
    response = await send_streamed(client, cast.token("supplier_a_user"),
                                   MAX_DOCUMENT_BYTES * 2, sent)
    refused(response, 413, "DOCUMENT_TOO_LARGE")
    assert sent[0] <= MAX_DOCUMENT_BYTES + CHUNK


async def test_a_declared_body_over_the_upload_limit_is_refused_before_reading(
        client: httpx.AsyncClient, cast: Cast) -> None:
    response = await client.post(
        "/documents", content=b"x",
        headers={"Authorization": f"Bearer {cast.token('supplier_a_user')}",
                 "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                 "Content-Length": str(MAX_DOCUMENT_BYTES * 2)})
    refused(response, 413, "DOCUMENT_TOO_LARGE")


async def test_graphql_keeps_its_one_megabyte_limit(client: httpx.AsyncClient,
                                                    database: Database) -> None:
    response = await client.post("/graphql", json={"query": "{ __typename }",
                                                   "padding": "x" * (1024 * 1024)})
    refused(response, 413, "REQUEST_TOO_LARGE")


async def test_wrong_types_are_refused_by_declaration_or_magic_bytes(
        client: httpx.AsyncClient, cast: Cast, database: Database, settings: Settings) -> None:
    for content, content_type in REFUSED_TYPES:
        response = await upload(client, cast.token("supplier_a_user"), content, "x.bin",
                                content_type)
        assert response.status_code == 415, (content, content_type)
        assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_TYPE"
    assert await document_count(database) == 0
    assert await stored(database) == {}
    assert spooled(settings) == []


async def test_anonymous_upload_is_refused_with_401(client: httpx.AsyncClient,
                                                    database: Database,
                                                    settings: Settings) -> None:
    response = await upload(client, None, PDF)
    refused(response, 401, "UNAUTHENTICATED")
    assert await document_count(database) == 0
    assert await stored(database) == {}


async def test_a_bad_token_is_refused_with_401(client: httpx.AsyncClient,
                                               database: Database) -> None:
    response = await upload(client, "not-a-token", PDF)
    refused(response, 401, "UNAUTHENTICATED")


async def test_missing_or_empty_file_is_refused(client: httpx.AsyncClient, cast: Cast,
                                                database: Database) -> None:
    for files in ({"other": ("x.pdf", PDF, "application/pdf")},   # no `file` field
                  {"file": ("x.pdf", b"", "application/pdf")}):    # empty file
        response = await client.post("/documents", files=files, headers={
            "Authorization": f"Bearer {cast.token('supplier_a_user')}"})
        refused(response, 400, "MISSING_FILE")
    assert await document_count(database) == 0


async def test_a_body_that_is_not_multipart_is_refused(client: httpx.AsyncClient,
                                                       cast: Cast) -> None:
    response = await client.post("/documents", json={"file": "x"}, headers={
        "Authorization": f"Bearer {cast.token('supplier_a_user')}"})
    refused(response, 400, "MISSING_FILE")


async def test_two_files_in_one_upload_are_refused(client: httpx.AsyncClient, cast: Cast,
                                                   database: Database) -> None:
    files = [("file", ("a.pdf", PDF, "application/pdf")),
             ("file", ("b.pdf", PDF, "application/pdf"))]
    response = await client.post("/documents", files=files, headers={
        "Authorization": f"Bearer {cast.token('supplier_a_user')}"})
    refused(response, 400, "INVALID_UPLOAD")
    assert await document_count(database) == 0


async def test_the_stored_filename_has_no_path_and_the_extension_of_its_type(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    gid = await uploaded(client, cast.token("supplier_a_user"), PDF, "..\\..\\etc/evil page.html")
    body = await gql(client, DOCUMENT_URL, cast.token("supplier_a_user"), id=gid)
    assert body["data"]["node"]["filename"] == "evil page.html.pdf"


# ---------------------------------------------------------------- download

async def test_download_url_returns_the_exact_bytes_as_an_attachment(
        client: httpx.AsyncClient, cast: Cast) -> None:
    token = cast.token("supplier_a_user")
    gid = await uploaded(client, token, CSV, "figures 2025.csv", "text/csv")
    document = (await gql(client, DOCUMENT_URL, token, id=gid))["data"]["node"]

    response = await client.get(document["downloadUrl"])

    assert response.status_code == 200
    assert response.content == CSV
    assert hashlib.sha256(response.content).hexdigest() == document["sha256"]
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == \
        "attachment; filename*=utf-8''figures%202025.csv"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_an_expired_link_is_refused(client: httpx.AsyncClient, cast: Cast,
                                          settings: Settings) -> None:
    gid = await uploaded(client, cast.token("supplier_a_user"))
    url = download_path(settings, pk(gid, "Document"), now=time.time() - 16 * 60)
    refused(await client.get(url), 403, "LINK_EXPIRED")


async def test_a_tampered_signature_or_expiry_is_refused(client: httpx.AsyncClient,
                                                         cast: Cast, settings: Settings) -> None:
    gid = await uploaded(client, cast.token("supplier_a_user"))
    url = download_path(settings, pk(gid, "Document"))
    path, query = url.split("?")
    expires, signature = (part.split("=")[1] for part in query.split("&"))
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    for bad in (f"{path}?expires={expires}&signature={flipped}",
                f"{path}?expires={int(expires) + 60}&signature={signature}",
                f"{path}?expires={expires}&signature=%C3%A9",
                f"{path}?expires=%C2%B2&signature={signature}",
                f"{path}?expires={expires}", path):
        refused(await client.get(bad), 403, "INVALID_SIGNATURE")


async def test_a_link_does_not_open_another_document(client: httpx.AsyncClient, cast: Cast,
                                                     settings: Settings) -> None:
    mine = await uploaded(client, cast.token("supplier_a_user"), PDF + b"%mine\n")
    other = await uploaded(client, cast.token("supplier_b_user"), PDF + b"%other\n")
    query = download_path(settings, pk(mine, "Document")).split("?")[1]
    refused(await client.get(f"/documents/{other}?{query}"), 403, "INVALID_SIGNATURE")


async def test_unknown_documents_are_404(client: httpx.AsyncClient, database: Database,
                                         settings: Settings) -> None:
    refused(await client.get(download_path(settings, 999_999)), 404, "NOT_FOUND")
    refused(await client.get("/documents/not-an-id?expires=1&signature=x"), 404, "NOT_FOUND")
    factory_gid = encode_id("Factory", 1)
    refused(await client.get(f"/documents/{factory_gid}?expires=1&signature=x"), 404,
            "NOT_FOUND")


async def test_customer_without_audits_gets_forbidden_on_audit_report_and_no_url(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    report = await uploaded(client, cast.token("firm_a_user"), PDF + b"%report\n")
    audit = await audited_factory(database, cast, report_document_id=pk(report, "Document"))
    # CORRECTIVE_ACTIONS reaches the audit (a plan's `audit`), so its id answers, not its report.
    await connect(database, cast, "customer_a", "alpha",
                  ["PROFILE", "CERTIFICATION", "CORRECTIVE_ACTIONS"])

    body = await gql(client, AUDIT_REPORT, cast.token("customer_a_user"), id=audit.audit_gid)

    assert body["data"]["node"] == {"id": audit.audit_gid, "report": None}
    error = errors_at(body)[("node", "report")]
    assert error["extensions"] == {"code": "FORBIDDEN", "requiredScope": "AUDITS"}
    assert "/documents/" not in str(body)


async def test_customer_with_audits_gets_a_url_that_downloads_the_report(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    content = PDF + b"%the audit report\n"
    report = await uploaded(client, cast.token("firm_a_user"), content, "audit.pdf")
    audit = await audited_factory(database, cast, report_document_id=pk(report, "Document"))
    await connect(database, cast, "customer_a", "alpha", ["AUDITS"])

    body = await gql(client, AUDIT_REPORT, cast.token("customer_a_user"), id=audit.audit_gid)

    assert "errors" not in body
    url = body["data"]["node"]["report"]["downloadUrl"]
    response = await client.get(url)  # the link itself is the credential: no token
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-disposition"] == 'attachment; filename="audit.pdf"'
