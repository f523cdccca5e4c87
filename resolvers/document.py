"""Documents: the upload record, and signed, expiring download links.

Bytes live in the database's document store (infra.document_store) by sha256, so identical
content is stored once however often it is uploaded; each upload still gets its own `documents`
row (its own filename and uploading organization). A link is an HMAC (itsdangerous) over the
document id and the expiry; it is made only by the schema field that holds the document, so only a
viewer allowed to see that field ever receives one.
"""
import enum
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import Signer
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from db import Document
from db.engine import Database
from db.settings import Settings
from infra.document_store import DocumentRefused, DocumentStore
from resolvers.errors import not_found
from resolvers.ids import encode_id

log = logging.getLogger("escp.documents")

LINK_LIFETIME_SECONDS = 15 * 60
INCOMING = "incoming"


# ---------------------------------------------------------------- signed links

class LinkCheck(enum.Enum):
    VALID = "VALID"
    INVALID = "INVALID"
    EXPIRED = "EXPIRED"


def _signer(settings: Settings) -> Signer:
    """itsdangerous signs (HMAC-SHA256 under a key derived from the secret and a salt of its
    own, so a link signature is never a token signature) and compares in constant time. Its
    TimestampSigner is not used: it stamps the signing time, while a link carries its expiry,
    rounded to the minute so one response repeats one URL per document; and the signature is
    written in hex, as links always were, not in itsdangerous's base64."""
    return Signer(settings.jwt_secret, salt="escp.documents", digest_method=hashlib.sha256)


def _signature(settings: Settings, document_id: int, expires: int) -> str:
    signer = _signer(settings)
    return signer.algorithm.get_signature(signer.derive_key(),
                                          f"{document_id}:{expires}".encode()).hex()


def _signed(settings: Settings, document_id: int, expires: str, signature: str) -> bool:
    try:
        raw = bytes.fromhex(signature)
    except ValueError:  # not hex (a query string may hold anything)
        return False
    signer = _signer(settings)
    return signer.algorithm.verify_signature(signer.derive_key(),
                                             f"{document_id}:{expires}".encode(), raw)


def download_query(settings: Settings, document_id: int, now: float | None = None) -> str:
    """`expires=…&signature=…` for the document's download path, valid for 14 to 15 minutes."""
    # Rounding the expiry to the minute makes one response repeat one URL per document.
    expires = (int(now if now is not None else time.time()) // 60 + 15) * 60
    return f"expires={expires}&signature={_signature(settings, document_id, expires)}"


def download_path(settings: Settings, document_id: int, now: float | None = None) -> str:
    """`/documents/{global id}?expires=…&signature=…`, served by app.download_document."""
    return f"/documents/{encode_id('Document', document_id)}?" + download_query(
        settings, document_id, now)


def check_download(settings: Settings, document_id: int, expires: str | None,
                   signature: str | None, now: float | None = None) -> LinkCheck:
    """VALID when we signed this link for this document and it has not expired yet."""
    if not expires or not signature or len(expires) > 12 or not (
            expires.isascii() and expires.isdigit()):
        return LinkCheck.INVALID
    if not _signed(settings, document_id, expires, signature):
        return LinkCheck.INVALID
    current = now if now is not None else time.time()
    if int(expires) < current:
        return LinkCheck.EXPIRED
    return LinkCheck.VALID


# ---------------------------------------------------------------- storage

def incoming_dir(settings: Settings) -> Path:
    """Where this host spools an upload while it is received and checked (ESCP_DATA_DIR/incoming):
    the request's bytes are never held in memory, and the database transaction that stores
    them lasts as long as copying a local file, not as long as a slow client takes to send it."""
    path = settings.data_dir / INCOMING
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Received:
    """An upload spooled to disk, checked and hashed, not yet stored or recorded."""

    path: Path
    filename: str
    content_type: str
    size_bytes: int
    sha256: str


async def record_upload(database: Database, documents: DocumentStore, viewer: Viewer,
                        received: Received) -> Any:
    """Store the bytes (unless the same content is stored already) and write the row, in one
    transaction: a row never points at bytes that are not there. The spool file goes either way.
    """
    statement = insert(Document).values(
        organization_id=viewer.organization_id, uploaded_by_id=viewer.user_id,
        filename=received.filename, content_type=received.content_type,
        size_bytes=received.size_bytes, sha256=received.sha256,
    ).returning(*Document.__table__.c)
    try:
        async with database.unit_of_work() as session:
            await documents.save(session, received.sha256, received.size_bytes, received.path)
            return (await session.execute(statement)).one()
    finally:
        received.path.unlink(missing_ok=True)


async def document_for_download(database: Database, documents: DocumentStore,
                                document_id: int) -> Any:
    """The row of a document whose link was already checked, once its content is known stored."""
    async with database.read() as conn:
        row = (await conn.execute(select(*Document.__table__.c)
                                  .where(Document.id == document_id))).first()
    if row is None:
        raise DocumentRefused(404, "NOT_FOUND", "No document with that id.")
    if not await documents.has(database, row.sha256):
        # Uploaded before the store, on a host whose `escp migrate` has not moved it yet.
        log.error("document %s: content %s is not in the store", row.id, row.sha256)
        raise DocumentRefused(500, "DOCUMENT_UNAVAILABLE", "The document's content is missing.")
    return row


async def require_own_documents(session: AsyncSession, viewer: Viewer,
                                wanted: list[tuple[int | None, list[str]]]) -> None:
    """Each document id (with its input field) was uploaded by the viewer's organization.

    A document of another organization is as unknown as one that does not exist (NOT_FOUND):
    attaching it would hand its bytes to whoever may see the new holder.
    """
    ids = [pk for pk, _ in wanted if pk is not None]
    statement = select(Document.id).where(Document.id.in_(ids),
                                          Document.organization_id == viewer.organization_id)
    found = set((await session.scalars(statement)).all()) if ids else set()
    for pk, field in wanted:
        if pk not in found:
            raise not_found("document", field)
