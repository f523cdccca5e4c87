"""Uploaded documents: one row per upload, the bytes once per content, in PostgreSQL.

Content is addressed by its sha256: `document_contents` says a content is stored whole (it is
written in the same transaction as its chunks), `document_chunks` holds its bytes in numbered
chunks of at most infra.document_store.CHUNK_BYTES, so no statement moves a whole file.
`documents.sha256` has no foreign key to the contents: documents uploaded before the store
existed keep their rows while their bytes wait on a host's disk for `escp migrate` to move them,
and with ESCP_DOCUMENT_STORE=s3 the bytes are objects in a bucket (these two tables stay empty).
"""
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, LargeBinary, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, pk

MAX_DOCUMENT_BYTES = 25 * 1024 * 1024  # 25 MB, the CHECKs below
SHA256_HEX = "sha256 ~ '^[0-9a-f]{64}$'"


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("size_bytes >= 0 AND size_bytes <= 26214400", name="size_limit"),
        CheckConstraint(SHA256_HEX, name="sha256_hex"),
    )

    id: Mapped[int] = pk()
    organization_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    uploaded_by_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    filename: Mapped[str] = mapped_column(Text, nullable=False)
    content_type: Mapped[str] = mapped_column(Text, nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at()


class DocumentContent(Base):
    """A content stored whole: its chunks were written in the transaction that wrote this row."""

    __tablename__ = "document_contents"
    __table_args__ = (
        CheckConstraint("size_bytes >= 0 AND size_bytes <= 26214400", name="size_limit"),
        CheckConstraint(SHA256_HEX, name="sha256_hex"),
    )

    sha256: Mapped[str] = mapped_column(Text, primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = created_at()


class DocumentChunk(Base):
    __tablename__ = "document_chunks"
    __table_args__ = (
        CheckConstraint("number >= 0", name="number"),
        # 1 MiB: infra.document_store.CHUNK_BYTES, so a chunk is never a whole large file.
        CheckConstraint("octet_length(data) BETWEEN 1 AND 1048576", name="chunk_size"),
    )

    sha256: Mapped[str] = mapped_column(
        Text, ForeignKey("document_contents.sha256", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
