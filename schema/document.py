"""Documents: metadata, and a signed download URL made only where the holding field is visible."""
from typing import Any

import strawberry
from strawberry.types import Info

from db.settings import Settings
from resolvers.document import download_query
from resolvers.loaders import DocumentById
from schema.common import Node
from schema.ids import encode_id


@strawberry.type(description="An uploaded file. Reached only through the field that holds it "
                             "(audit report, CAP evidence, assessment report), whose rule applies.")
class Document(Node):
    document_id: strawberry.Private[int]
    filename: str
    content_type: str
    size_bytes: int
    sha256: str

    @strawberry.field(description="Signed URL (a path on this server), valid for 15 minutes: "
                                  "GET it to download the file.")
    def download_url(self, info: Info) -> str:
        return download_path(info.context.settings, self.document_id)

    @classmethod
    def from_row(cls, row: Any) -> "Document":
        return cls(id=strawberry.ID(encode_id("Document", row.id)), document_id=row.id,
                   filename=row.filename, content_type=row.content_type,
                   size_bytes=row.size_bytes, sha256=row.sha256)


def download_path(settings: Settings, document_id: int, now: float | None = None) -> str:
    """`/documents/{global id}?expires=…&signature=…`, served by app.download_document."""
    return f"/documents/{encode_id('Document', document_id)}?" + download_query(
        settings, document_id, now)


async def document(info: Info, document_id: int | None) -> Document | None:
    if document_id is None:
        return None
    row = await info.context.loader(DocumentById).load(document_id)
    return Document.from_row(row) if row else None
