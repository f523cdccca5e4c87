"""Customer connections: reading their effective state."""
from datetime import UTC, datetime
from typing import Any

from db.enums import ConnectionStatus


def effective_status(row: Any, now: datetime | None = None) -> ConnectionStatus:
    """An ACCEPTED connection past its expiresAt reads EXPIRED: expiry needs no job."""
    status = ConnectionStatus(row.status)
    current = now or datetime.now(UTC)
    if status is ConnectionStatus.ACCEPTED and row.expires_at and row.expires_at <= current:
        return ConnectionStatus.EXPIRED
    return status
