"""Configuration comes from the environment only; read once into an immutable object."""
import os
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path


def _env_decimal(name: str, default: str) -> Decimal:
    return Decimal(os.environ.get(name, default))


def _env_int(name: str, default: str) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL"))
    data_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("ESCP_DATA_DIR", ".escp")).resolve()
    )
    documents_dir_env: str | None = field(
        default_factory=lambda: os.environ.get("ESCP_DOCUMENTS_DIR")
    )
    jwt_secret_env: str | None = field(default_factory=lambda: os.environ.get("ESCP_JWT_SECRET"))
    jwt_ttl_seconds: int = field(
        default_factory=lambda: int(os.environ.get("ESCP_JWT_TTL_SECONDS", "3600"))
    )
    smtp_url: str | None = field(default_factory=lambda: os.environ.get("ESCP_SMTP_URL"))
    introspection: bool = field(
        default_factory=lambda: os.environ.get("ESCP_INTROSPECTION", "on").lower() != "off"
    )
    registration_fee_new: Decimal = field(
        default_factory=lambda: _env_decimal("ESCP_FEE_REGISTRATION_NEW", "1500.00"))
    registration_fee_renewal: Decimal = field(
        default_factory=lambda: _env_decimal("ESCP_FEE_REGISTRATION_RENEWAL", "1000.00"))
    audit_fee_default: Decimal = field(
        default_factory=lambda: _env_decimal("ESCP_FEE_AUDIT_DEFAULT", "2500.00"))
    seal_fee: Decimal = field(default_factory=lambda: _env_decimal("ESCP_FEE_SEAL", "800.00"))
    # Reads answered by one compiled SQL statement where the compiler supports the query
    # (resolvers.compiled); off runs every read on the resolver path.
    compiled_reads: bool = field(
        default_factory=lambda: os.environ.get("ESCP_COMPILED_READS", "on").lower() != "off"
    )
    # How often each worker looks for certificates and connections that expired by date.
    sweep_interval: float = field(
        default_factory=lambda: float(os.environ.get("ESCP_EXPIRY_SWEEP_SECONDS", "60")))
    # Sign-in attempts allowed per account and per client address in one window
    # (auth.login_throttle); the excess is refused without checking the password.
    login_window_seconds: int = field(
        default_factory=lambda: _env_int("ESCP_LOGIN_WINDOW_SECONDS", "900"))
    login_attempts_per_account: int = field(
        default_factory=lambda: _env_int("ESCP_LOGIN_ATTEMPTS_PER_ACCOUNT", "10"))
    login_attempts_per_address: int = field(
        default_factory=lambda: _env_int("ESCP_LOGIN_ATTEMPTS_PER_ADDRESS", "100"))
    # Threads (per worker) that hash and verify passwords, off the event loop; each argon2
    # hash holds 64 MiB while it runs, and a flood of sign-ins queues for these threads.
    password_hash_threads: int = field(
        default_factory=lambda: _env_int("ESCP_PASSWORD_HASH_THREADS", "2"))

    @property
    def documents_dir(self) -> Path:
        return Path(self.documents_dir_env).resolve() if self.documents_dir_env else (
            self.data_dir / "documents")

    @cached_property
    def jwt_secret(self) -> str:
        """ESCP_JWT_SECRET, or a secret generated once and kept in the data dir."""
        if self.jwt_secret_env:
            return self.jwt_secret_env
        path = self.data_dir / "jwt_secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # Exclusive create: two workers starting at once agree on one secret.
            try:
                with open(path, "x") as f:
                    f.write(secrets.token_urlsafe(48))
                path.chmod(0o600)
            except FileExistsError:
                pass
        return path.read_text().strip()
