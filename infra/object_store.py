"""Documents in S3-compatible object storage (ESCP_DOCUMENT_STORE=s3), through obstore.

Objects are keyed by sha256 (`documents/ab/abcdef…`), so a content is stored once however often
it is uploaded, and an object is never changed once written. An upload is put from its spool file
(obstore sends a large one in parts, two at a time, so memory holds at most a few parts) before
the `documents` row is committed: a row never points at an object that is not there, and an
object whose row failed is harmless (the next upload of the same bytes finds it). Downloads are
streamed through the server, so they keep the headers of every download (an attachment, never
sniffed) whatever the bucket's own settings.
"""
import logging
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import Database
from db.settings import Settings
from infra.document_store import CHUNK_BYTES, DocumentRefused

log = logging.getLogger("escp.documents")

PREFIX = "documents"
PARTS_AT_ONCE = 2  # a part is 5 MiB: at most about 10 MiB of an upload in memory
# A request is tried again on connection errors and 5xx answers, within these bounds: an
# unreachable store answers the client in seconds, not after obstore's default 3 minutes.
RETRIES = {"max_retries": 3, "retry_timeout": timedelta(seconds=15)}
CLIENT = {"connect_timeout": timedelta(seconds=5)}
T = TypeVar("T")


class ObjectStore:
    """The bucket ESCP_S3_BUCKET (at ESCP_S3_ENDPOINT if set); credentials and region come from
    the standard AWS_* variables (or the host's role), which obstore reads itself."""

    def __init__(self, settings: Settings) -> None:
        endpoint = settings.s3_endpoint
        options: dict[str, object] = {}
        client: dict[str, object] = dict(CLIENT)
        if endpoint:  # MinIO and the like: path-style requests, plain HTTP if asked for
            options.update(endpoint=endpoint, virtual_hosted_style_request=False)
            client["allow_http"] = endpoint.startswith("http://")
        self.bucket = S3Store(settings.s3_bucket, client_options=client,  # type: ignore[arg-type]
                              retry_config=RETRIES, **options)  # type: ignore[arg-type]

    @staticmethod
    def key(sha256: str) -> str:
        return f"{PREFIX}/{sha256[:2]}/{sha256}"

    async def save(self, session: AsyncSession, sha256: str, size: int,
                   source: Path | bytes) -> bool:
        """Put the content unless it is there already; True if it was new. (`session` is the
        upload's; an object store takes no part in its transaction.)"""
        if await self.has(None, sha256):
            return False
        await reached(obstore.put_async(self.bucket, self.key(sha256), source,
                                        max_concurrency=PARTS_AT_ONCE))
        return True

    async def has(self, database: Database | None, sha256: str) -> bool:
        try:
            await reached(obstore.head_async(self.bucket, self.key(sha256)))
        except FileNotFoundError:  # how obstore reports a missing object
            return False
        return True

    async def read(self, database: Database, sha256: str, size: int) -> AsyncIterator[bytes]:
        result = await obstore.get_async(self.bucket, self.key(sha256))
        async for chunk in result.stream(min_chunk_size=CHUNK_BYTES):
            yield bytes(chunk)


async def reached(request: Awaitable[T]) -> T:
    """The request's answer; a store that cannot be reached (or refuses our credentials) is a
    503 with a stable code, not an internal error. A missing object stays FileNotFoundError."""
    try:
        return await request
    except FileNotFoundError:
        raise
    except (BaseError, OSError) as exc:
        log.warning("document store: %s", str(exc).splitlines()[0] if str(exc) else exc)
        raise DocumentRefused(503, "DOCUMENT_STORE_UNAVAILABLE",
                              "The document store cannot be reached; try again.") from None
