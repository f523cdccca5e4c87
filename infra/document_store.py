"""The document store: where every host reaches a document's bytes. PostgreSQL by default (here),
or an S3-compatible bucket (infra.object_store) when ESCP_DOCUMENT_STORE=s3.

In PostgreSQL, a content is stored once, under its sha256, as numbered chunks of at most CHUNK_BYTES; nothing
here holds more than one chunk of a document at a time, in or out. A content's row in
`document_contents` is written in the same transaction as its chunks, so a content that has a row
is whole. Contents are never changed, so a download may read its chunks on separate short
connections (none is held while a slow client reads) and still see one consistent file.
"""
import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db import DocumentChunk, DocumentContent
from db.document import MAX_DOCUMENT_BYTES
from db.engine import Database
from db.settings import Settings

log = logging.getLogger("escp.documents")

CHUNK_BYTES = 1024 * 1024  # also a CHECK on document_chunks.data
SHA256 = re.compile(r"[0-9a-f]{64}")


class DocumentRefused(Exception):
    """An upload or download refused with an HTTP status and a stable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ContentMismatch(Exception):
    """The bytes do not hash to, or do not have the size of, the content they claim to be."""


class DocumentStore(Protocol):
    """Where document contents live, by sha256: PostgreSQL (here) or S3 (infra.object_store)."""

    async def save(self, session: AsyncSession, sha256: str, size: int,
                   source: Path | bytes) -> bool:
        """Store a content (a spool file, or a few bytes) unless it is stored already; True if
        it was new. Called in the transaction that writes the content's `documents` row."""

    async def has(self, database: Database, sha256: str) -> bool: ...

    def read(self, database: Database, sha256: str, size: int) -> AsyncIterator[bytes]:
        """The content's bytes, a bounded chunk at a time."""


class PostgresStore:
    """The default store: chunks in the database, written in the upload's own transaction."""

    async def save(self, session: AsyncSession, sha256: str, size: int,
                   source: Path | bytes) -> bool:
        chunks = file_chunks(source) if isinstance(source, Path) else _pieces(source)
        return await store(session, sha256, size, chunks)

    async def has(self, database: Database, sha256: str) -> bool:
        return await is_stored(database, sha256)

    def read(self, database: Database, sha256: str, size: int) -> AsyncIterator[bytes]:
        return read_chunks(database, sha256, size)


def document_store(settings: Settings) -> DocumentStore:
    """The store ESCP_DOCUMENT_STORE names (checked when the settings were read)."""
    if settings.document_store == "s3":
        from infra.object_store import ObjectStore

        return ObjectStore(settings)
    return PostgresStore()


async def _pieces(content: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(content), CHUNK_BYTES):
        yield content[start:start + CHUNK_BYTES]


async def store(session: AsyncSession, sha256: str, size: int,
                chunks: AsyncIterator[bytes]) -> bool:
    """Write a content, given in chunks of at most CHUNK_BYTES, in the session's transaction:
    True if new, False if it was stored already (then nothing is written, `chunks` is not read).

    The contents row goes first: a concurrent upload of the same bytes waits for it to commit,
    then finds it and writes nothing (or, if it rolled back, writes the chunks itself).
    """
    claim = (pg_insert(DocumentContent).values(sha256=sha256, size_bytes=size)
             .on_conflict_do_nothing().returning(DocumentContent.sha256))
    if (await session.execute(claim)).first() is None:
        return False
    number = written = 0
    async for chunk in chunks:
        await session.execute(insert(DocumentChunk).values(sha256=sha256, number=number,
                                                           data=chunk))
        number, written = number + 1, written + len(chunk)
    if written != size:
        raise ContentMismatch(f"{sha256}: {written} bytes, not {size}")
    return True


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A file read one chunk of CHUNK_BYTES at a time (the last one shorter), off the loop."""
    f = await asyncio.to_thread(open, path, "rb")
    try:
        while chunk := await asyncio.to_thread(f.read, CHUNK_BYTES):
            yield chunk
    finally:
        f.close()


async def check_hash(path: Path, sha256: str) -> None:
    """ContentMismatch unless the file's bytes hash to `sha256` (read a chunk at a time)."""
    digest = hashlib.sha256()
    async for chunk in file_chunks(path):
        digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise ContentMismatch(f"the bytes hash to {digest.hexdigest()}, not {sha256}")


async def is_stored(database: Database, sha256: str) -> bool:
    async with database.read() as conn:
        found = await conn.scalar(select(DocumentContent.size_bytes)
                                  .where(DocumentContent.sha256 == sha256))
    return found is not None


async def read_chunks(database: Database, sha256: str, size: int) -> AsyncIterator[bytes]:
    """The content's bytes, chunk by chunk, one short read connection per chunk."""
    number = sent = 0
    while sent < size:
        async with database.read() as conn:
            chunk = await conn.scalar(select(DocumentChunk.data).where(
                DocumentChunk.sha256 == sha256, DocumentChunk.number == number))
        if chunk is None:  # a stored content is whole: this is damage, not a race
            log.error("document content %s: chunk %s is missing", sha256, number)
            raise ContentMismatch(f"{sha256}: chunk {number} is missing")
        yield chunk
        number, sent = number + 1, sent + len(chunk)
        del chunk  # not kept while the next one is read


# ---------------------------------------------------------------- from disk into the store

@dataclass
class Moved:
    """What moving one directory's files did."""

    moved: int = 0      # stored now, file removed
    present: int = 0    # stored already (by another host or an earlier run), file removed
    refused: list[Path] = field(default_factory=list)  # damaged: left where they are


async def move_from_disk(database: Database, target: DocumentStore, directory: Path) -> Moved:
    """Move the files the old store kept on this host's disk (`ab/abcdef…`, by sha256) into
    `target`, each in a transaction of its own, and remove each file once its bytes are stored.

    Idempotent: a content stored already is not written again, and a run that stops half-way
    leaves the files not moved yet for the next run. A file whose bytes do not hash to its name
    is left on disk and reported.
    """
    result = Moved()
    for path in sorted(directory.glob("??/*")) if directory.is_dir() else []:
        if not (path.is_file() and SHA256.fullmatch(path.name) and
                path.parent.name == path.name[:2]):
            continue  # not a stored content: leftover spool files, anything else
        try:
            new = await _move_one(database, target, path)
        except ContentMismatch as mismatch:
            log.warning("document file %s not moved: %s", path, mismatch)
            result.refused.append(path)
            continue
        path.unlink()
        result.moved, result.present = result.moved + new, result.present + (not new)
        _remove_if_empty(path.parent)
    return result


async def _move_one(database: Database, target: DocumentStore, path: Path) -> bool:
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise ContentMismatch(f"{size} bytes is more than a document may have")
    await check_hash(path, path.name)
    async with database.unit_of_work() as session:
        return await target.save(session, path.name, size, path)


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass  # not empty
