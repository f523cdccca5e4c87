"""Configuration comes from the environment only: one pydantic-settings model, read once.

Each field names its variable, its type and limits, and the README's line for it (the
Configuration table is generated from this model, see `readme_table`; a test keeps them equal).
A value that cannot be used raises SettingError, whose message is one line naming the variable
(`escp` prints it and stops).

Kept by hand, each for a reason pydantic cannot give: on/off words (pydantic's bool also takes
t/y/n), the comma list of origins, and the messages, which name the variable and what it takes.
"""
import re
import secrets
import sys
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_JWT_SECRET_BYTES = 32  # RFC 7518 section 3.2: an HS256 key at least as long as the hash
_TRUE = frozenset({"on", "true", "1", "yes"})
_FALSE = frozenset({"off", "false", "0", "no"})
_ORIGIN = re.compile(r"https?://[^/?#\s,]+")


class SettingError(ValueError):
    """A variable's value cannot be used. The message names the variable and what it takes."""


def _on_off(value: object) -> object:
    if not isinstance(value, str):
        return value
    if value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise ValueError(f"must be on or off (true/false, 1/0, yes/no), not {value!r}")


def _origins(value: object) -> object:
    """A comma-separated list of browser origins (scheme://host[:port])."""
    if not isinstance(value, str):
        return value
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ValueError("must list origins like https://app.example.com (comma-separated), "
                             f"not {origin!r}")
    return origins


def _amount(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"must be an amount like 1500.00, not {value!r}") from None


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _resolved(path: Path | None) -> Path | None:
    return path.resolve() if path is not None else None


OnOff = Annotated[bool, BeforeValidator(_on_off)]
Count = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Money = Annotated[Decimal, BeforeValidator(_amount), Field(
    ge=0, decimal_places=2, allow_inf_nan=False,
    json_schema_extra={"takes": "an amount of at least 0 with at most 2 decimals"})]
ResolvedPath = Annotated[Path, AfterValidator(_resolved)]

# What pydantic's refusals of numbers (Count, Seconds) say here. A field whose type has other
# limits (Money, choices) says what it takes in its `takes`.
_WORDS = {"int_parsing": "a whole number, not {input!r}",
          "int_from_float": "a whole number, not {input!r}",
          "greater_than_equal": "at least {ge}, not {input}",
          "float_parsing": "a number of seconds, not {input!r}",
          "greater_than": "a positive number of seconds, not {input!r}",
          "finite_number": "a positive number of seconds, not {input!r}"}


def var(name: str, default: Any = None, meaning: str = "", shown: str | None = None,
        takes: str | None = None) -> Any:
    """A field read from the variable `name`; `meaning` and `shown` (the default as the README
    says it, else the default itself) make its line of the README's table."""
    extra: dict[str, Any] = {"meaning": meaning,
                             "shown": shown if shown is not None else f"`{default}`"}
    if takes is not None:
        extra["takes"] = takes
    return Field(default, validation_alias=name, json_schema_extra=extra)


class Settings(BaseSettings):
    """Built with no arguments from the environment; arguments by field name (tests) win."""

    model_config = SettingsConfigDict(frozen=True, populate_by_name=True, validate_default=True,
                                      env_ignore_empty=True)

    database_url: str | None = var(
        "DATABASE_URL", shown="unset: embedded PostgreSQL under `ESCP_DATA_DIR`",
        meaning="a `postgresql://` URL of any PostgreSQL server; then nothing is started")
    data_dir: ResolvedPath = var(
        "ESCP_DATA_DIR", Path(".escp"), shown="`./.escp`",
        meaning="embedded database, generated JWT secret, uploads being received (`incoming/`)")
    # Where documents were kept on disk before they went into the database; `escp migrate` (and
    # `escp serve`) move what is left there into it.
    documents_dir_env: str | None = var(
        "ESCP_DOCUMENTS_DIR", shown="`$ESCP_DATA_DIR/documents`",
        meaning="where documents were stored on disk before they went into the database; "
                "`escp migrate` and `escp serve` move what is there into the document store")
    document_store: Annotated[Literal["postgresql", "s3"], BeforeValidator(_lower)] = var(
        "ESCP_DOCUMENT_STORE", "postgresql", takes="postgresql or s3",
        meaning="where document contents are stored: `postgresql` (the database) or `s3` (see "
                "Documents)")
    s3_bucket: str | None = var(
        "ESCP_S3_BUCKET", shown="unset",
        meaning="with `ESCP_DOCUMENT_STORE=s3`: the bucket; credentials in `AWS_ACCESS_KEY_ID` / "
                "`AWS_SECRET_ACCESS_KEY`")
    s3_endpoint: str | None = var(
        "ESCP_S3_ENDPOINT", shown="unset: AWS",
        meaning="with `ESCP_DOCUMENT_STORE=s3`: the endpoint of a store other than AWS")
    jwt_secret_env: str | None = var(
        "ESCP_JWT_SECRET", shown="unset: generated once, kept in the data dir",
        meaning=f"HS256 signing secret (at least {MIN_JWT_SECRET_BYTES} bytes)")
    jwt_ttl_seconds: Count = var(
        "ESCP_JWT_TTL_SECONDS", 3600,
        meaning="access token lifetime (at most `ESCP_JWT_MAX_LIFETIME_SECONDS`)")
    # A correctly signed token that claims to live longer than this is refused.
    jwt_max_lifetime_seconds: Count = var(
        "ESCP_JWT_MAX_LIFETIME_SECONDS", 86400,
        meaning="a token whose `exp - iat` is longer is refused (401 `UNAUTHENTICATED`, socket "
                "4403) even when correctly signed")
    smtp_url: str | None = var(
        "ESCP_SMTP_URL", shown="unset: mail stays in the outbox table (and the DEBUG log)",
        meaning="`smtp://`, `smtp+starttls://` or `smtps://` with optional `user:password@`")
    introspection: OnOff = var("ESCP_INTROSPECTION", True, shown="`on`",
                               meaning="`off` closes introspection in production")
    registration_fee_new: Money = var("ESCP_FEE_REGISTRATION_NEW", Decimal("1500.00"),
                                      meaning="the registration fee of a NEW application (USD)")
    registration_fee_renewal: Money = var(
        "ESCP_FEE_REGISTRATION_RENEWAL", Decimal("1000.00"),
        meaning="the registration fee of a RENEWAL application (USD)")
    audit_fee_default: Money = var("ESCP_FEE_AUDIT_DEFAULT", Decimal("2500.00"),
                                   meaning="an audit's fee when none is given (USD)")
    seal_fee: Money = var("ESCP_FEE_SEAL", Decimal("800.00"),
                          meaning="the seal fee (USD; every fee is an exact decimal: at "
                                  "least 0, at most 2 places)")
    # Reads answered by one compiled SQL statement where the compiler supports the query
    # (resolvers.compiled); off runs every read on the resolver path.
    compiled_reads: OnOff = var(
        "ESCP_COMPILED_READS", True, shown="`on`",
        meaning="`off` answers every query on the resolver path (see Compiled reads)")
    # The most a document may cost (schema/limits.py): field nodes times the list sizes above.
    max_query_cost: Count = var(
        "ESCP_MAX_QUERY_COST", 500000,
        meaning="the most an operation may cost (see Limits); the dashboard costs 14,001")
    # How often each worker looks for certificates and connections that expired by date.
    sweep_interval: Seconds = var(
        "ESCP_EXPIRY_SWEEP_SECONDS", 60.0, shown="`60`",
        meaning="how often each worker announces certificates and connections that expired by "
                "date")
    # How long published events are kept for a worker whose listener was down to replay them
    # (infra.events); an outage longer than this loses the older events for that worker.
    event_retention_seconds: Count = var(
        "ESCP_EVENT_RETENTION_SECONDS", 86400,
        meaning="how long published events are kept for a worker that reconnects to replay; "
                "older ones are pruned")
    # Browser origins allowed to call the API (CORS); none: browsers allow same-origin only.
    cors_origins: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_origins)] = var(
        "ESCP_CORS_ORIGINS", (), shown="unset: CORS off",
        meaning="comma-separated browser origins allowed to call the API, e.g. "
                "`https://app.example.com,http://localhost:5173`")
    # Portal sessions (auth.portal_sessions): one ends after this long without a request, and
    # in any case this long after signing in.
    portal_idle_seconds: Count = var(
        "ESCP_PORTAL_IDLE_SECONDS", 1800,
        meaning="a portal session ends after this long without a request (see The Connect "
                "portal)")
    portal_session_seconds: Count = var(
        "ESCP_PORTAL_SESSION_SECONDS", 43200,
        meaning="a portal session ends this long after signing in, whatever its use; its cookie "
                "lasts as long")
    # Open WebSockets per user (per worker); the next one is closed with 4429.
    max_sockets_per_user: Count = var(
        "ESCP_MAX_SOCKETS_PER_USER", 10,
        meaning="open WebSockets a user may hold on one worker; the next is closed with 4429")
    # Sign-in attempts allowed per account and per client address in one window
    # (auth.login_throttle); the excess is refused without checking the password.
    login_window_seconds: Count = var(
        "ESCP_LOGIN_WINDOW_SECONDS", 900,
        meaning="the window sign-in attempts are counted in (see Signing in)")
    login_attempts_per_account: Count = var(
        "ESCP_LOGIN_ATTEMPTS_PER_ACCOUNT", 10,
        meaning="sign-in attempts per email per window; more are refused with "
                "`TOO_MANY_ATTEMPTS`")
    login_attempts_per_address: Count = var(
        "ESCP_LOGIN_ATTEMPTS_PER_ADDRESS", 100,
        meaning="sign-in attempts per client address per window, whatever the emails")
    # Threads (per worker) that hash and verify passwords, off the event loop; each argon2
    # hash holds 64 MiB while it runs, and a flood of sign-ins queues for these threads.
    password_hash_threads: Count = var(
        "ESCP_PASSWORD_HASH_THREADS", 2,
        meaning="threads per worker hashing and checking passwords (each hash holds 64 MiB "
                "while it runs)")
    # Webhooks (resolvers.webhooks, tasks.webhooks). Allowing insecure receivers (http://,
    # loopback and private addresses) is for development and tests only.
    webhook_allow_insecure: OnOff = var(
        "ESCP_WEBHOOK_ALLOW_INSECURE", False, shown="`off`",
        meaning="`on` accepts http:// and loopback or private receivers (development and tests "
                "only)")
    webhook_retry_seconds: Seconds = var(
        "ESCP_WEBHOOK_RETRY_SECONDS", 5.0, shown="`5`",
        meaning="wait before a failed delivery's first retry, doubled at each further attempt "
                "(at most a day)")
    webhook_max_attempts: Count = var("ESCP_WEBHOOK_MAX_ATTEMPTS", 8,
                                      meaning="attempts before a delivery is `FAILED`")
    webhook_disable_after: Count = var(
        "ESCP_WEBHOOK_DISABLE_AFTER", 20,
        meaning="failed attempts in a row after which an endpoint is disabled")
    webhook_timeout: Seconds = var("ESCP_WEBHOOK_TIMEOUT_SECONDS", 10.0, shown="`10`",
                                   meaning="how long an attempt waits for the receiver")
    webhook_poll_seconds: Seconds = var(
        "ESCP_WEBHOOK_POLL_SECONDS", 1.0, shown="`1`",
        meaning="how often each worker's sender looks for due deliveries")
    # Trusted documents: a JSON manifest of the only documents that may run (schema.persisted).
    trusted_documents: Annotated[Path | None, AfterValidator(_resolved)] = var(
        "ESCP_TRUSTED_DOCUMENTS", shown="unset: any document may run",
        meaning="a JSON manifest of the only documents that may run (see Operating)")
    # Automatic persisted queries each worker keeps (an LRU; also at most 10 MB of text).
    apq_cache_size: Count = var(
        "ESCP_APQ_CACHE_SIZE", 1000,
        meaning="automatic persisted queries each worker keeps (least recently used first out; "
                "also at most 10 MB of text)")
    # The log's form: json (one object a line) or text; unset, text on a terminal, else json.
    log_format: Annotated[Literal["json", "text"], BeforeValidator(_lower)] = Field(
        default_factory=lambda: "text" if sys.stderr.isatty() else "json",
        validation_alias="ESCP_LOG_FORMAT", json_schema_extra={
            "takes": "one of json, text", "shown": "text on a terminal, else `json`",
            "meaning": "`json` (one object a line) or `text` (see Logs)"})

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:  # one line naming the variable, as `escp` prints it
            raise SettingError(_explain(exc)) from None

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: Any) -> Any:
        """Values are trimmed; a blank one is unset (the default applies)."""
        if not isinstance(values, dict):
            return values
        trimmed = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
        return {k: v for k, v in trimmed.items() if v != ""}

    @field_validator("database_url")
    @classmethod
    def _postgresql(cls, url: str | None) -> str | None:
        if url and not url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ValueError(f"must be a postgresql:// URL, not {url.split(':')[0]!r}")
        return url

    @field_validator("jwt_secret_env")
    @classmethod
    def _long_enough(cls, secret: str | None) -> str | None:
        if secret and len(secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(f"must be at least {MIN_JWT_SECRET_BYTES} bytes for HS256")
        return secret

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, url: str | None) -> str | None:
        if url and urlsplit(url).scheme.lower() not in ("smtp", "smtp+starttls", "smtps"):
            raise ValueError("must start with smtp://, smtp+starttls:// or smtps://")
        return url

    @field_validator("s3_endpoint")
    @classmethod
    def _http_endpoint(cls, url: str | None) -> str | None:
        if url and urlsplit(url).scheme.lower() not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return url

    @model_validator(mode="after")
    def _together(self) -> "Settings":
        """What one variable cannot tell alone."""
        if self.jwt_ttl_seconds > self.jwt_max_lifetime_seconds:
            raise ValueError(f"ESCP_JWT_TTL_SECONDS ({self.jwt_ttl_seconds}) must not exceed "
                             f"ESCP_JWT_MAX_LIFETIME_SECONDS ({self.jwt_max_lifetime_seconds})")
        if self.document_store == "s3" and not self.s3_bucket:
            raise ValueError("ESCP_DOCUMENT_STORE=s3 needs ESCP_S3_BUCKET (and the bucket's "
                             "credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
        if self.document_store != "s3" and (self.s3_bucket or self.s3_endpoint):
            raise ValueError("ESCP_S3_BUCKET and ESCP_S3_ENDPOINT are used only with "
                             "ESCP_DOCUMENT_STORE=s3; documents are stored in PostgreSQL")
        return self

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


def variable(field: str) -> str:
    """The environment variable a field is read from."""
    return str(Settings.model_fields[field].validation_alias)


def _explain(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    if not error["loc"]:  # a model validator's message says it all
        return str(error["ctx"]["error"])
    fields = Settings.model_fields
    field = next((name for name, info in fields.items()
                  if error["loc"][0] in (name, info.validation_alias)), None)
    if field is None:  # an argument that is no setting (a caller's mistake, not the environment)
        return f"{error['loc'][0]}: {error['msg']}"
    name, extra = variable(field), fields[field].json_schema_extra
    if error["type"] == "value_error":  # our validators say what they take, and the value
        return f"{name} {error['ctx']['error']}"
    takes = extra.get("takes") if isinstance(extra, dict) else None
    if takes is not None:
        return f"{name} must be {takes}, not {str(error['input'])!r}"
    words = _WORDS.get(error["type"])
    if words is None:  # a refusal of pydantic's own that has no words here
        return f"{name} cannot be {str(error['input'])!r}: {error['msg']}"
    return f"{name} must be " + words.format(input=error["input"], **error.get("ctx", {}))


# Variables read outside this model, each for a reason: listed here so the README's table is
# generated from one place. (variable, default as shown, meaning)
OTHER_VARIABLES = (
    # prometheus-client reads it itself, when resolvers.metrics is imported.
    ("PROMETHEUS_MULTIPROC_DIR", "unset: each worker process counts alone",
     "a directory for prometheus-client's multiprocess mode, so `/metrics` reports every worker "
     "of the host (see Operating)"),
    # Read by the tests' own fixtures (tests/database.py), never by the application.
    ("TEST_DATABASE_URL", "unset: tests start an embedded server",
     "tests only: a server to create test databases on"),
    # Decides the password hasher when auth.passwords is imported, before any Settings exists.
    ("ESCP_PASSWORD_HASH", "unset",
     "tests only: `fast` makes password hashing cheap (argon2's test profile); `escp serve` and "
     "`escp create-admin` refuse to run with it, and a hash made with it is replaced at its "
     "owner's next sign-in"),
)


def readme_table() -> str:
    """The README's Configuration table: `python -c 'import db.settings as s;
    print(s.readme_table())'`."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for field, info in Settings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        rows.append(f"| `{variable(field)}` | {extra['shown']} | {extra['meaning']} |")
    rows += [f"| `{name}` | {shown} | {meaning} |" for name, shown, meaning in OTHER_VARIABLES]
    return "\n".join(rows) + "\n"
