"""Signed, expiring download links for documents (HMAC over id and expiry)."""
import hashlib
import hmac
import time

from db.settings import Settings

LINK_LIFETIME_SECONDS = 15 * 60


def _signature(settings: Settings, document_id: int, expires: int) -> str:
    key = hashlib.sha256(b"documents:" + settings.jwt_secret.encode()).digest()
    message = f"{document_id}:{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed_download_path(settings: Settings, document_id: int, now: float | None = None) -> str:
    # Round the expiry to the minute so one response repeats one URL per document.
    expires = (int(now if now is not None else time.time()) // 60 + 15) * 60
    return f"/documents/{document_id}?expires={expires}&signature={_signature(settings, document_id, expires)}"


def verify_download(settings: Settings, document_id: int, expires: str, signature: str,
                    now: float | None = None) -> bool:
    """True when the link was made by us for this document and has not expired."""
    if not expires.isdigit():
        return False
    current = now if now is not None else time.time()
    if int(expires) < current or int(expires) > current + LINK_LIFETIME_SECONDS + 60:
        return False
    expected = _signature(settings, document_id, int(expires))
    return hmac.compare_digest(expected, signature)
