"""Receiving an upload: multipart parsed while it streams in, checked, hashed and spooled to disk.

Nothing is buffered whole: python-multipart hands over the `file` part piece by piece; each piece
is counted (the 25 MB limit stops the upload at the first byte over it), checked against the
declared type (magic bytes, or UTF-8 text for CSV), hashed, and written to a spool file on this
host (resolvers.document.incoming_dir), from which record_upload copies it into the store. The declared type is checked before any byte is stored, the content as it comes.
"""
import asyncio
import codecs
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from db.document import MAX_DOCUMENT_BYTES
from resolvers.document import DocumentRefused, Received

FIELD = "file"
# Room for the multipart boundaries and part headers around a file of the maximum size.
MULTIPART_OVERHEAD = 64 * 1024
UPLOAD_BODY_LIMIT = MAX_DOCUMENT_BYTES + MULTIPART_OVERHEAD
WRITE_BATCH = 1024 * 1024
MAX_FILENAME = 200


@dataclass(frozen=True)
class DocumentType:
    content_type: str
    extensions: tuple[str, ...]
    magic: bytes | None  # None: text, checked as UTF-8 without NUL bytes


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ALLOWED_TYPES = {t.content_type: t for t in (
    DocumentType("application/pdf", (".pdf",), b"%PDF-"),
    DocumentType("image/png", (".png",), b"\x89PNG\r\n\x1a\n"),
    DocumentType("image/jpeg", (".jpg", ".jpeg"), b"\xff\xd8\xff"),
    DocumentType(XLSX, (".xlsx",), b"PK\x03\x04"),  # a ZIP container
    DocumentType("text/csv", (".csv",), None),
)}


def refuse_type(message: str) -> DocumentRefused:
    return DocumentRefused(415, "UNSUPPORTED_TYPE", message)


def too_large() -> DocumentRefused:
    return DocumentRefused(413, "DOCUMENT_TOO_LARGE",
                           f"A document may have at most {MAX_DOCUMENT_BYTES} bytes (25 MB).")


def invalid(message: str) -> DocumentRefused:
    return DocumentRefused(400, "INVALID_UPLOAD", message)


def missing(message: str = f"Send the file as the multipart/form-data field `{FIELD}`."
            ) -> DocumentRefused:
    return DocumentRefused(400, "MISSING_FILE", message)


def declared_type(header: bytes | None) -> DocumentType:
    media_type, _ = parse_options_header(header)
    found = ALLOWED_TYPES.get(media_type.decode("latin-1"))
    if found is None:
        allowed = ", ".join(sorted(ALLOWED_TYPES))
        raise refuse_type(f"Allowed types are PDF, PNG, JPEG, XLSX and CSV ({allowed}).")
    return found


def clean_filename(raw: bytes | None, kind: DocumentType) -> str:
    """The name the file is served under: no path, no control characters or quotes, and the
    extension of its checked type (so `report.html` that is a PDF downloads as a .pdf)."""
    name = (raw or b"").decode("utf-8", errors="replace").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"').strip()[:MAX_FILENAME]
    if not name.lower().endswith(kind.extensions):
        name = (name or "document") + kind.extensions[0]
    return name


class ContentCheck:
    """The content matches its declared type: magic bytes, or UTF-8 text without NUL bytes."""

    def __init__(self, kind: DocumentType) -> None:
        self.kind = kind
        self.head = b""
        self.text = codecs.getincrementaldecoder("utf-8")() if kind.magic is None else None

    def feed(self, data: bytes) -> None:
        if self.text is not None:
            if b"\x00" in data:
                raise refuse_type("A CSV file is text: it holds no NUL bytes.")
            self._decode(data, final=False)
        elif len(self.head) < len(self.kind.magic or b""):
            self.head += data[:len(self.kind.magic or b"") - len(self.head)]
            self._compare(complete=False)

    def finish(self) -> None:
        if self.text is not None:
            self._decode(b"", final=True)
        else:
            self._compare(complete=True)

    def _decode(self, data: bytes, final: bool) -> None:
        try:
            self.text.decode(data, final=final)  # type: ignore[union-attr]
        except UnicodeDecodeError:
            raise refuse_type("A CSV file must be UTF-8 text.") from None

    def _compare(self, complete: bool) -> None:
        magic = self.kind.magic or b""
        if not magic.startswith(self.head) or (complete and self.head != magic):
            raise refuse_type(f"The content is not {self.kind.content_type}.")


class Spool:
    """The file part on its way to disk: counted, checked, hashed, written in batches."""

    def __init__(self, directory: Path, kind: DocumentType, filename: str) -> None:
        self.kind, self.filename = kind, filename
        self.check = ContentCheck(kind)
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.buffer = bytearray()
        fd, name = tempfile.mkstemp(dir=directory, prefix="upload-")
        self.path = Path(name)
        self.file = os.fdopen(fd, "wb")

    async def take(self, data: bytes) -> None:
        self.check.feed(data)
        self.sha256.update(data)
        self.buffer += data
        if len(self.buffer) >= WRITE_BATCH:
            await self.flush()

    async def flush(self) -> None:
        if self.buffer:
            chunk, self.buffer = self.buffer, bytearray()  # handed over, not copied
            await asyncio.to_thread(self.file.write, chunk)

    async def complete(self) -> Received:
        if self.size == 0:
            raise missing("The file is empty.")
        self.check.finish()
        await self.flush()
        # No fsync: the spool is only read back by this process; the store's commit is durable.
        await asyncio.to_thread(self.file.close)
        return Received(path=self.path, filename=self.filename,
                        content_type=self.kind.content_type, size_bytes=self.size,
                        sha256=self.sha256.hexdigest())

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


class Parts:
    """python-multipart callbacks (synchronous): find the one `file` part, queue its bytes.

    The size is counted here, before a byte is copied, so an oversized upload stops at once.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.spool: Spool | None = None
        self.pending: list[bytes] = []
        self.header_name = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.in_file = False
        self.file_ended = False

    def callbacks(self) -> Any:
        return {"on_part_begin": self.on_part_begin, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished,
                "on_part_data": self.on_part_data, "on_part_end": self.on_part_end}

    def on_part_begin(self) -> None:
        self.headers, self.in_file = {}, False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_name.lower()] = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition"))
        if options.get(b"name") != FIELD.encode():
            return  # other fields are ignored (and bounded by the route's body limit)
        if self.spool is not None:
            raise invalid("Send one file per upload.")
        kind = declared_type(self.headers.get(b"content-type"))
        self.spool = Spool(self.directory, kind, clean_filename(options.get(b"filename"), kind))
        self.in_file = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            return
        assert self.spool is not None
        self.spool.size += end - start
        if self.spool.size > MAX_DOCUMENT_BYTES:
            raise too_large()
        self.pending.append(data[start:end])

    def on_part_end(self) -> None:
        if self.in_file:
            self.file_ended, self.in_file = True, False

    async def drain(self) -> None:
        pending, self.pending = self.pending, []
        for data in pending:
            await self.spool.take(data)  # type: ignore[union-attr]


def boundary_of(content_type: str | None) -> bytes:
    media_type, params = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise missing()
    if not params.get(b"boundary"):
        raise invalid("The multipart body has no boundary.")
    return params[b"boundary"]


async def receive_upload(content_type: str | None, body: AsyncIterator[bytes],
                         directory: Path) -> Received:
    """Read the request body and return the spooled, checked file (the caller places it).

    Raises DocumentRefused; on any failure the spool file is removed and reading stops.
    """
    parts = Parts(directory)
    parser = MultipartParser(boundary_of(content_type), parts.callbacks())
    try:
        async for chunk in body:
            parser.write(chunk)
            await parts.drain()
        parser.finalize()
        if parts.spool is None:
            raise missing()
        if not parts.file_ended:
            raise invalid("The multipart body ended inside the file.")
        return await parts.spool.complete()
    except BaseException as exc:
        if parts.spool is not None:
            parts.spool.discard()
        if isinstance(exc, FormParserError):
            raise invalid("The multipart body is malformed.") from None
        raise
