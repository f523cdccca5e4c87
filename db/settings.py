"""Configuration comes from the environment only; read once into an immutable object.

Every variable is checked when the object is made: a value that cannot be used raises
SettingError, whose message is one line naming the variable (`escp` prints it and stops)."""
import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

MIN_JWT_SECRET_BYTES = 32  # RFC 7518 section 3.2: an HS256 key at least as long as the hash
_TRUE = frozenset({"on", "true", "1", "yes"})
_FALSE = frozenset({"off", "false", "0", "no"})
_ORIGIN = re.compile(r"https?://[^/?#\s,]+")


class SettingError(ValueError):
    """A variable's value cannot be used. The message names the variable and what it takes."""


def _raw(name: str) -> str | None:
    """The variable's value; unset or blank is None (the default applies)."""
    value = os.environ.get(name, "").strip()
    return value or None


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise SettingError(f"{name} must be on or off (true/false, 1/0, yes/no), not {value!r}")


def env_int(name: str, default: int, minimum: int = 1) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingError(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise SettingError(f"{name} must be at least {minimum}, not {number}")
    return number


def env_seconds(name: str, default: float) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise SettingError(f"{name} must be a number of seconds, not {value!r}") from None
    if not 0 < seconds < float("inf"):
        raise SettingError(f"{name} must be a positive number of seconds, not {value!r}")
    return seconds


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() not in choices:
        raise SettingError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value.lower()


def env_money(name: str, default: str) -> Decimal:
    value = _raw(name) or default
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise SettingError(f"{name} must be an amount like 1500.00, not {value!r}") from None
    places = amount.as_tuple().exponent  # a letter ('n', 'F') when not finite
    if not amount.is_finite() or amount < 0 or (isinstance(places, int) and places < -2):
        raise SettingError(f"{name} must be an amount of at least 0 with at most 2 decimals, "
                           f"not {value!r}")
    return amount


def env_origins(name: str) -> tuple[str, ...]:
    """A comma-separated list of browser origins (scheme://host[:port]); none by default."""
    origins = tuple(o.strip().rstrip("/") for o in (_raw(name) or "").split(",") if o.strip())
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise SettingError(f"{name} must list origins like https://app.example.com "
                               f"(comma-separated), not {origin!r}")
    return origins


@dataclass(frozen=True)
class Settings:
    database_url: str | None = field(default_factory=lambda: _raw("DATABASE_URL"))
    data_dir: Path = field(
        default_factory=lambda: Path(_raw("ESCP_DATA_DIR") or ".escp").resolve()
    )
    # Where documents were kept on disk before they went into the database; `escp migrate` (and
    # `escp serve`) move what is left there into it.
    documents_dir_env: str | None = field(default_factory=lambda: _raw("ESCP_DOCUMENTS_DIR"))
    # Where document contents are stored: `postgresql` (the default: the database itself) or
    # `s3` (the bucket ESCP_S3_BUCKET, at ESCP_S3_ENDPOINT if given; credentials and region from
    # the standard AWS_* variables).
    document_store: str = field(
        default_factory=lambda: (_raw("ESCP_DOCUMENT_STORE") or "postgresql").lower())
    s3_bucket: str | None = field(default_factory=lambda: _raw("ESCP_S3_BUCKET"))
    s3_endpoint: str | None = field(default_factory=lambda: _raw("ESCP_S3_ENDPOINT"))
    jwt_secret_env: str | None = field(default_factory=lambda: _raw("ESCP_JWT_SECRET"))
    jwt_ttl_seconds: int = field(default_factory=lambda: env_int("ESCP_JWT_TTL_SECONDS", 3600))
    # A correctly signed token that claims to live longer than this is refused.
    jwt_max_lifetime_seconds: int = field(
        default_factory=lambda: env_int("ESCP_JWT_MAX_LIFETIME_SECONDS", 86400))
    smtp_url: str | None = field(default_factory=lambda: _raw("ESCP_SMTP_URL"))
    introspection: bool = field(default_factory=lambda: env_bool("ESCP_INTROSPECTION", True))
    registration_fee_new: Decimal = field(
        default_factory=lambda: env_money("ESCP_FEE_REGISTRATION_NEW", "1500.00"))
    registration_fee_renewal: Decimal = field(
        default_factory=lambda: env_money("ESCP_FEE_REGISTRATION_RENEWAL", "1000.00"))
    audit_fee_default: Decimal = field(
        default_factory=lambda: env_money("ESCP_FEE_AUDIT_DEFAULT", "2500.00"))
    seal_fee: Decimal = field(default_factory=lambda: env_money("ESCP_FEE_SEAL", "800.00"))
    # Reads answered by one compiled SQL statement where the compiler supports the query
    # (resolvers.compiled); off runs every read on the resolver path.
    compiled_reads: bool = field(default_factory=lambda: env_bool("ESCP_COMPILED_READS", True))
    # The most a document may cost (schema/limits.py): field nodes times the list sizes above.
    max_query_cost: int = field(default_factory=lambda: env_int("ESCP_MAX_QUERY_COST", 500000))
    # How often each worker looks for certificates and connections that expired by date.
    sweep_interval: float = field(
        default_factory=lambda: env_seconds("ESCP_EXPIRY_SWEEP_SECONDS", 60))
    # How long published events are kept for a worker whose listener was down to replay them
    # (infra.events); an outage longer than this loses the older events for that worker.
    event_retention_seconds: int = field(
        default_factory=lambda: env_int("ESCP_EVENT_RETENTION_SECONDS", 86400))
    # Browser origins allowed to call the API (CORS); none: browsers allow same-origin only.
    cors_origins: tuple[str, ...] = field(default_factory=lambda: env_origins("ESCP_CORS_ORIGINS"))
    # Open WebSockets per user (per worker); the next one is closed with 4429.
    max_sockets_per_user: int = field(
        default_factory=lambda: env_int("ESCP_MAX_SOCKETS_PER_USER", 10))
    # Portal sessions (auth.portal_sessions): one ends after this long without a request, and
    # in any case this long after signing in.
    portal_idle_seconds: int = field(
        default_factory=lambda: env_int("ESCP_PORTAL_IDLE_SECONDS", 1800))
    portal_session_seconds: int = field(
        default_factory=lambda: env_int("ESCP_PORTAL_SESSION_SECONDS", 43200))
    # Sign-in attempts allowed per account and per client address in one window
    # (auth.login_throttle); the excess is refused without checking the password.
    login_window_seconds: int = field(
        default_factory=lambda: env_int("ESCP_LOGIN_WINDOW_SECONDS", 900))
    login_attempts_per_account: int = field(
        default_factory=lambda: env_int("ESCP_LOGIN_ATTEMPTS_PER_ACCOUNT", 10))
    login_attempts_per_address: int = field(
        default_factory=lambda: env_int("ESCP_LOGIN_ATTEMPTS_PER_ADDRESS", 100))
    # Threads (per worker) that hash and verify passwords, off the event loop; each argon2
    # hash holds 64 MiB while it runs, and a flood of sign-ins queues for these threads.
    password_hash_threads: int = field(
        default_factory=lambda: env_int("ESCP_PASSWORD_HASH_THREADS", 2))
    # Webhooks (resolvers.webhooks). Allowing insecure receivers (http://, loopback and private
    # addresses) is for development and tests only.
    webhook_allow_insecure: bool = field(
        default_factory=lambda: env_bool("ESCP_WEBHOOK_ALLOW_INSECURE", False))
    webhook_retry_seconds: float = field(
        default_factory=lambda: env_seconds("ESCP_WEBHOOK_RETRY_SECONDS", 5))
    webhook_max_attempts: int = field(
        default_factory=lambda: env_int("ESCP_WEBHOOK_MAX_ATTEMPTS", 8))
    webhook_disable_after: int = field(
        default_factory=lambda: env_int("ESCP_WEBHOOK_DISABLE_AFTER", 20))
    webhook_timeout: float = field(
        default_factory=lambda: env_seconds("ESCP_WEBHOOK_TIMEOUT_SECONDS", 10))
    webhook_poll_seconds: float = field(
        default_factory=lambda: env_seconds("ESCP_WEBHOOK_POLL_SECONDS", 1))

    # Trusted documents: a JSON manifest of the only documents that may run (schema.persisted).
    trusted_documents: Path | None = field(default_factory=lambda: (
        Path(_raw("ESCP_TRUSTED_DOCUMENTS")).resolve() if _raw("ESCP_TRUSTED_DOCUMENTS")
        else None))
    # Automatic persisted queries each worker keeps (an LRU; also at most 10 MB of text).
    apq_cache_size: int = field(default_factory=lambda: env_int("ESCP_APQ_CACHE_SIZE", 1000))
    # The log's form: json (one object a line) or text; unset, text on a terminal, else json.
    log_format: str = field(default_factory=lambda: env_choice(
        "ESCP_LOG_FORMAT", ("json", "text"), "text" if sys.stderr.isatty() else "json"))

    def __post_init__(self) -> None:
        """What one variable cannot tell alone, and the forms the other variables take."""
        if self.database_url and not self.database_url.startswith(
                ("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise SettingError("DATABASE_URL must be a postgresql:// URL, not "
                               f"{self.database_url.split(':')[0]!r}")
        if self.jwt_secret_env and len(self.jwt_secret_env.encode()) < MIN_JWT_SECRET_BYTES:
            raise SettingError(f"ESCP_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes "
                               "for HS256")
        if self.jwt_ttl_seconds > self.jwt_max_lifetime_seconds:
            raise SettingError(f"ESCP_JWT_TTL_SECONDS ({self.jwt_ttl_seconds}) must not exceed "
                               f"ESCP_JWT_MAX_LIFETIME_SECONDS ({self.jwt_max_lifetime_seconds})")
        self._check_document_store()
        if self.smtp_url and urlsplit(self.smtp_url).scheme.lower() not in (
                "smtp", "smtp+starttls", "smtps"):
            raise SettingError("ESCP_SMTP_URL must start with smtp://, smtp+starttls:// or "
                               "smtps://")

    def _check_document_store(self) -> None:
        if self.document_store not in ("postgresql", "s3"):
            raise SettingError("ESCP_DOCUMENT_STORE must be postgresql or s3, not "
                               f"{self.document_store!r}")
        if self.document_store == "s3" and not self.s3_bucket:
            raise SettingError("ESCP_DOCUMENT_STORE=s3 needs ESCP_S3_BUCKET (and the bucket's "
                               "credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
        if self.document_store != "s3" and (self.s3_bucket or self.s3_endpoint):
            raise SettingError("ESCP_S3_BUCKET and ESCP_S3_ENDPOINT are used only with "
                               "ESCP_DOCUMENT_STORE=s3; documents are stored in PostgreSQL")
        if self.s3_endpoint and urlsplit(self.s3_endpoint).scheme.lower() not in ("http",
                                                                                 "https"):
            raise SettingError("ESCP_S3_ENDPOINT must be an http:// or https:// URL")

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
