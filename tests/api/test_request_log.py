"""One log line per request: its id (the client's X-Request-ID or a new one, returned), the
operation, the viewer's organization id, duration and outcome; never an email or a token."""
import io
import json
import logging
import re
import sys

import httpx
import pytest

from app import create_app
from db.settings import Settings
from schema import QUERIES, build_schema
from telemetry import JsonFormatter, TextFormatter, WithRequestId, current_request_id
from tests.api.test_accounts import LOGIN
from tests.api.test_security import BrokenQuery, serving
from tests.helpers import PASSWORD, Cast, WatchedHasher

DIRECTORY = "query Directory { factories(first: 5) { nodes { id name } } }"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "escp.request"]


async def test_a_request_line_names_operation_organization_outcome_and_the_id_returned(
        client: httpx.AsyncClient, cast: Cast, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="escp.request")
    token = cast.token("customer_a_user")
    response = await client.post("/graphql", json={"query": DIRECTORY}, headers={
        "Authorization": f"Bearer {token}", "X-Request-ID": "edge-7f3a.42"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "edge-7f3a.42"
    [record] = request_lines(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "edge-7f3a.42"
    assert line | {"duration_ms": 0, "time": ""} == {
        "time": "", "level": "INFO", "logger": "escp.request", "message": "POST /graphql 200",
        "request_id": "edge-7f3a.42", "method": "POST", "path": "/graphql", "status": 200,
        "duration_ms": 0, "operation": "Directory", "operation_type": "query", "outcome": "ok",
        "organization_id": cast.organizations["customer_a"]}
    assert line["duration_ms"] > 0


@pytest.mark.parametrize("given", [None, "x" * 129, "two words", "quote\"d"])
async def test_without_a_usable_request_id_one_is_made(
        client: httpx.AsyncClient, given: str | None) -> None:
    headers = {"X-Request-ID": given} if given is not None else {}
    response = await client.get("/healthz", headers=headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    again = await client.get("/healthz", headers=headers)
    assert again.headers["X-Request-ID"] != response.headers["X-Request-ID"]


async def test_a_sign_in_is_logged_without_its_email_or_token(
        client: httpx.AsyncClient, cast: Cast, caplog: pytest.LogCaptureFixture,
        hashing: WatchedHasher) -> None:
    caplog.set_level(logging.INFO)
    email = cast.people["customer_a_user"].email
    response = await client.post("/graphql", json={"query": LOGIN, "variables": {
        "email": email, "password": PASSWORD}})
    token = response.json()["data"]["login"]["accessToken"]
    [record] = request_lines(caplog)
    assert record.request["operation"] == "Login" and record.request["outcome"] == "ok"
    assert record.request["organization_id"] is None  # nobody was signed in when it came
    for formatter in (JsonFormatter(), TextFormatter()):
        for logged in caplog.records:
            text = formatter.format(logged)
            assert not EMAIL.search(text) and token not in text and PASSWORD not in text


async def test_an_internal_error_is_logged_with_the_request_id(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """Every line logged while a request runs carries its id (here, an error's trace)."""
    app = create_app(settings, build_schema(settings, queries=(*QUERIES, BrokenQuery)))
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(WithRequestId())
    try:
        async with serving(app) as client:
            response = await client.post("/graphql", json={"query": "{ brokenReport }"},
                                         headers={"X-Request-ID": "trace-me"})
    finally:
        caplog.handler.filters.clear()
    error_id = response.json()["errors"][0]["extensions"]["errorId"]
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.request_id == "trace-me"
    assert json.loads(JsonFormatter().format(record))["request_id"] == "trace-me"
    assert current_request_id.get() is None  # reset once the request ended


async def test_a_browser_app_may_send_and_read_the_request_id(settings: Settings) -> None:
    origin = "https://app.example.com"
    app = create_app(settings.model_copy(update=dict(cors_origins=(origin,))), send_outbox=False)
    async with serving(app) as client:
        preflight = await client.options("/graphql", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-request-id"})
        assert preflight.status_code == 200
        answer = await client.post("/graphql", json={"query": "{ __typename }"},
                                   headers={"Origin": origin, "X-Request-ID": "from-the-app"})
    assert answer.headers["X-Request-ID"] == "from-the-app"
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()


async def test_probes_and_scrapes_are_logged_at_debug_only(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="escp.request")
    for path in ("/healthz", "/readyz", "/metrics", "/graphql?query={__typename}"):
        await client.get(path, headers={"Accept": "application/json"})
    assert [(r.levelname, r.request["path"]) for r in request_lines(caplog)] == [
        ("DEBUG", "/healthz"), ("DEBUG", "/readyz"), ("DEBUG", "/metrics"),
        ("INFO", "/graphql")]


def test_json_lines_are_one_line_each_with_the_trace_inside() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord("escp", logging.ERROR, __file__, 1, "failed %s", ("x",),
                                   sys.exc_info())
    record.request_id = "r-1"
    text = JsonFormatter().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["message"] == "failed x" and line["request_id"] == "r-1"
    assert "ValueError: boom" in line["exception"]


def test_text_on_a_terminal_json_otherwise_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("ESCP_LOG_FORMAT", raising=False)
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert Settings().log_format == "text"
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert Settings().log_format == "json"
    monkeypatch.setenv("ESCP_LOG_FORMAT", "TEXT")
    assert Settings().log_format == "text"
