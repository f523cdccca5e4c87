"""Persisted queries: Apollo's automatic persisted queries (APQ) and trusted documents.

APQ: a client sends `extensions.persistedQuery.sha256Hash` alone; an unknown hash is answered
PERSISTED_QUERY_NOT_FOUND (message "PersistedQueryNotFound", as Apollo clients expect), and the
client sends the hash with the document, which is checked against the hash, stored and run.
Documents are kept in a bounded LRU in each worker (a worker that has not seen a hash asks for the
document once).

Trusted documents (ESCP_TRUSTED_DOCUMENTS, a JSON manifest): only the registered documents run,
named by their id or sent in full (exactly as registered); anything else is refused with
DOCUMENT_NOT_TRUSTED, over HTTP and WebSocket alike, and APQ registers nothing.
"""
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import GraphQLError

from db.settings import SettingError, Settings
from infra.metrics import PERSISTED

APQ_MAX_CHARACTERS = 10_000_000  # all stored documents of a worker together


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


_OUTCOMES = {"DOCUMENT_NOT_TRUSTED": "refused", "PERSISTED_QUERY_NOT_FOUND": "miss"}


def refusal(code: str, message: str) -> GraphQLError:
    PERSISTED.labels(_OUTCOMES.get(code, "invalid")).inc()
    return GraphQLError(message, extensions={"code": code})


def load_manifest(path: Path) -> dict[str, str]:
    """Document by id, from Apollo's manifest (`{"format": "apollo-persisted-query-manifest",
    "operations": [{"id", "body", ...}]}`) or a plain `{"id": "document"}` map (GraphQL
    Codegen's persisted documents, Relay's persisted queries)."""
    name = "ESCP_TRUSTED_DOCUMENTS"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SettingError(f"{name} must name a readable JSON manifest ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("operations"), list):
        data = {op.get("id"): op.get("body") for op in data["operations"]
                if isinstance(op, dict)}
    if not isinstance(data, dict) or not data or not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in data.items()):
        raise SettingError(f"{name} must hold documents by id: Apollo's persisted query "
                           "manifest or a JSON object of id to document")
    return data


@dataclass
class PersistedDocuments:
    trusted: dict[str, str] | None = None  # by id; None: any document may run
    apq_size: int = 1000
    apq: "OrderedDict[str, str]" = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.trusted_hashes = frozenset(sha256_hex(d) for d in (self.trusted or {}).values())
        self._characters = 0

    @classmethod
    def of(cls, settings: Settings) -> "PersistedDocuments":
        manifest = settings.trusted_documents
        return cls(load_manifest(manifest) if manifest else None, settings.apq_cache_size)

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The document to run, or a GraphQLError (raised) refusing the request."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if self.trusted is not None and query is not None:
                self.check_trusted(query)
            return query
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if not isinstance(digest, str) or persisted.get("version", 1) != 1:
            raise refusal("PERSISTED_QUERY_INVALID", "extensions.persistedQuery must hold "
                          "version 1 and a sha256Hash.")
        if self.trusted is not None:
            return self._trusted(digest, query)
        return self._automatic(digest, query)

    def check_trusted(self, query: str) -> None:
        if sha256_hex(query) not in self.trusted_hashes:
            raise refusal("DOCUMENT_NOT_TRUSTED", "Only registered documents run here; this "
                          "one is not.")

    def _trusted(self, digest: str, query: str | None) -> str:
        body = self.trusted.get(digest) if self.trusted else None
        if body is None:
            if query is None:
                raise refusal("DOCUMENT_NOT_TRUSTED", "No registered document has that id.")
            self.check_trusted(query)  # a registered document sent under another id
            return query
        if query is not None and query != body:
            raise refusal("PERSISTED_QUERY_HASH_MISMATCH",
                          "The document is not the one registered under that id.")
        PERSISTED.labels("hit").inc()
        return body

    def _automatic(self, digest: str, query: str | None) -> str:
        digest = digest.lower()
        if query is None:
            found = self.apq.get(digest)
            if found is None:
                raise refusal("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
            self.apq.move_to_end(digest)
            PERSISTED.labels("hit").inc()
            return found
        if sha256_hex(query) != digest:
            raise refusal("PERSISTED_QUERY_HASH_MISMATCH",
                          "extensions.persistedQuery.sha256Hash is not the document's SHA-256.")
        self._store(digest, query)
        return query

    def _store(self, digest: str, query: str) -> None:
        if digest not in self.apq:
            self.apq[digest] = query
            self._characters += len(query)
            PERSISTED.labels("registered").inc()
        self.apq.move_to_end(digest)
        while len(self.apq) > self.apq_size or self._characters > APQ_MAX_CHARACTERS:
            _, evicted = self.apq.popitem(last=False)
            self._characters -= len(evicted)
