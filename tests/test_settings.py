"""Settings read from the environment: the forms each variable accepts, and the defaults."""
from decimal import Decimal
from pathlib import Path

import pytest

from db.settings import Settings, SettingError, readme_table

SECRET = {"ESCP_JWT_SECRET": "settings-secret-" + "s" * 40}


def settings_with(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Settings:
    for name, value in {**SECRET, **variables}.items():
        monkeypatch.setenv(name, value)
    return Settings()


@pytest.mark.parametrize(("value", "expected"), [
    ("on", True), ("true", True), ("1", True), ("yes", True), ("TRUE", True), (" Yes ", True),
    ("off", False), ("false", False), ("0", False), ("no", False), ("OFF", False),
])
def test_booleans_take_on_off_true_false_1_0_yes_no(monkeypatch: pytest.MonkeyPatch, value: str,
                                                     expected: bool) -> None:
    assert settings_with(monkeypatch, ESCP_INTROSPECTION=value).introspection is expected


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ESCP_INTROSPECTION", "ESCP_CORS_ORIGINS", "ESCP_MAX_SOCKETS_PER_USER",
                 "ESCP_JWT_TTL_SECONDS", "ESCP_JWT_MAX_LIFETIME_SECONDS", "ESCP_FEE_SEAL"):
        monkeypatch.delenv(name, raising=False)
    settings = settings_with(monkeypatch, ESCP_FEE_AUDIT_DEFAULT="")  # blank is unset
    assert settings.introspection is True and settings.cors_origins == ()
    assert (settings.max_sockets_per_user, settings.jwt_ttl_seconds,
            settings.jwt_max_lifetime_seconds) == (10, 3600, 86400)
    assert (settings.seal_fee, settings.audit_fee_default) == (Decimal("800.00"),
                                                               Decimal("2500.00"))


def test_cors_origins_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_with(monkeypatch, ESCP_CORS_ORIGINS=" https://app.example.com/, "
                                                            "http://localhost:5173")
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:5173")


@pytest.mark.parametrize(("variables", "message"), [
    ({"ESCP_JWT_TTL_SECONDS": "7200", "ESCP_JWT_MAX_LIFETIME_SECONDS": "3600"},
     "ESCP_JWT_TTL_SECONDS (7200) must not exceed ESCP_JWT_MAX_LIFETIME_SECONDS (3600)"),
    ({"ESCP_JWT_MAX_LIFETIME_SECONDS": "-5"}, "ESCP_JWT_MAX_LIFETIME_SECONDS must be at least 1"),
    ({"ESCP_FEE_REGISTRATION_NEW": "-1"}, "ESCP_FEE_REGISTRATION_NEW must be an amount of at "
                                          "least 0 with at most 2 decimals"),
    ({"ESCP_FEE_AUDIT_DEFAULT": "10.005"}, "ESCP_FEE_AUDIT_DEFAULT must be an amount"),
    ({"ESCP_EXPIRY_SWEEP_SECONDS": "0"}, "ESCP_EXPIRY_SWEEP_SECONDS must be a positive number"),
    ({"ESCP_CORS_ORIGINS": "https://app.example.com/path"}, "ESCP_CORS_ORIGINS must list"),
    ({"ESCP_SMTP_URL": "http://mail.example.com"}, "ESCP_SMTP_URL must start with smtp://"),
])
def test_a_value_that_cannot_be_used_is_refused_naming_the_variable(
        monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str) -> None:
    with pytest.raises(SettingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings_with(monkeypatch, **variables)


def test_sign_in_limits_and_hash_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ESCP_LOGIN_WINDOW_SECONDS", "ESCP_LOGIN_ATTEMPTS_PER_ACCOUNT",
                 "ESCP_LOGIN_ATTEMPTS_PER_ADDRESS", "ESCP_PASSWORD_HASH_THREADS"):
        monkeypatch.delenv(name, raising=False)
    settings = settings_with(monkeypatch)
    assert (settings.login_window_seconds, settings.login_attempts_per_account,
            settings.login_attempts_per_address, settings.password_hash_threads) == (
        900, 10, 100, 2)
    settings = settings_with(monkeypatch, ESCP_LOGIN_WINDOW_SECONDS="60",
                             ESCP_LOGIN_ATTEMPTS_PER_ACCOUNT="5",
                             ESCP_LOGIN_ATTEMPTS_PER_ADDRESS="50", ESCP_PASSWORD_HASH_THREADS="4")
    assert (settings.login_window_seconds, settings.login_attempts_per_account,
            settings.login_attempts_per_address, settings.password_hash_threads) == (60, 5, 50, 4)
    with pytest.raises(SettingError, match="ESCP_PASSWORD_HASH_THREADS must be at least 1"):
        settings_with(monkeypatch, ESCP_PASSWORD_HASH_THREADS="0")


def test_documents_are_stored_in_postgresql_unless_s3_is_configured(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ESCP_DOCUMENT_STORE", "ESCP_S3_BUCKET", "ESCP_S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert settings_with(monkeypatch).document_store == "postgresql"
    s3 = settings_with(monkeypatch, ESCP_DOCUMENT_STORE="S3", ESCP_S3_BUCKET="documents",
                       ESCP_S3_ENDPOINT="http://minio:9000")
    assert (s3.document_store, s3.s3_bucket, s3.s3_endpoint) == ("s3", "documents",
                                                                 "http://minio:9000")


@pytest.mark.parametrize(("variables", "message"), [
    ({"ESCP_DOCUMENT_STORE": "disk"}, "ESCP_DOCUMENT_STORE must be postgresql or s3, not 'disk'"),
    ({"ESCP_DOCUMENT_STORE": "s3"}, "ESCP_DOCUMENT_STORE=s3 needs ESCP_S3_BUCKET"),
    ({"ESCP_S3_BUCKET": "documents"},
     "ESCP_S3_BUCKET and ESCP_S3_ENDPOINT are used only with ESCP_DOCUMENT_STORE=s3"),
    ({"ESCP_DOCUMENT_STORE": "s3", "ESCP_S3_BUCKET": "documents",
      "ESCP_S3_ENDPOINT": "minio:9000"}, "ESCP_S3_ENDPOINT must be an http:// or https:// URL"),
])
def test_an_s3_store_that_is_not_configured_is_refused_at_start(
        monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str) -> None:
    for name in ("ESCP_DOCUMENT_STORE", "ESCP_S3_BUCKET", "ESCP_S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SettingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings_with(monkeypatch, **variables)


def test_the_readme_table_of_variables_is_generated_from_the_model() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert readme_table() in readme, "regenerate the table: python -c 'import db.settings as " \
                                     "s; print(s.readme_table())'"
