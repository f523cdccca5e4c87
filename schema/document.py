"""Documents: metadata, and a signed download URL made only where the holding field is visible."""
from typing import Any

import strawberry
from strawberry.types import Info

from auth.permissions import HeldDocument
from db.enums import ShareScope
from overrides.guards import guarded
from resolvers.document import download_path  # noqa: F401  (tests sign links with it)
from resolvers.loaders import DocumentById
from schema.common import Node
from schema.ids import encode_id


@strawberry.type(description="An uploaded file. Reached through the field that holds it (audit "
                             "report, CAP evidence, assessment report), whose scope applies "
                             "again to each of its fields.")
class Document(Node):
    document_id: strawberry.Private[int]
    organization_id: strawberry.Private[int]
    # The holding object's factory and firm, and the scope of the field holding the document;
    # all None for a document reached by id.
    factory_id: strawberry.Private[int | None]
    audit_firm_id: strawberry.Private[int | None]
    held_by: strawberry.Private[ShareScope | None]
    filename: str | None = guarded(HeldDocument(), description=(
        "The file's name as uploaded."))
    content_type: str | None = guarded(HeldDocument(), description=(
        "Its media type: application/pdf, image/png, image/jpeg, the XLSX type or text/csv."))
    size_bytes: int | None = guarded(HeldDocument(), description="Its size, in bytes.")
    sha256: str | None = guarded(HeldDocument(), description=(
        "The SHA-256 of its bytes, in lower-case hex: check a download against it."))

    @guarded(HeldDocument(), description="Signed URL (a path on this server), valid for 15 "
                                         "minutes: GET it to download the file.")
    def download_url(self, info: Info) -> str | None:
        return download_path(info.context.settings, self.document_id)

    @classmethod
    def from_row(cls, row: Any, holder: Any = None,
                 held_by: ShareScope | None = None) -> "Document":
        """`holder` is the object whose field (needing `held_by`) holds the document."""
        return cls(id=strawberry.ID(encode_id("Document", row.id)), document_id=row.id,
                   organization_id=row.organization_id,
                   factory_id=holder.factory_id if holder is not None else None,
                   audit_firm_id=getattr(holder, "audit_firm_id", None), held_by=held_by,
                   filename=row.filename, content_type=row.content_type,
                   size_bytes=row.size_bytes, sha256=row.sha256)


async def document(info: Info, document_id: int | None, holder: Any,
                   held_by: ShareScope) -> Document | None:
    if document_id is None:
        return None
    row = await info.context.loader(DocumentById).load(document_id)
    return Document.from_row(row, holder, held_by) if row else None
