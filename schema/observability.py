"""What a GraphQL operation tells the request log and the metrics: its name, type, outcome
and error codes. The HTTP layer (telemetry.py) puts a RequestInfo in the request's scope and
writes the log line; the schema fills it in (Schema.execute, OperationTelemetry)."""
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from strawberry.extensions import SchemaExtension

from infra.metrics import ERRORS, OPERATION_LATENCY, OPERATIONS, operation_label

SCOPE_KEY = "escp.request"


@dataclass
class RequestInfo:
    """One HTTP request as its log line tells it (no emails, no tokens: ids and names only)."""

    request_id: str
    operation: str | None = None
    operation_type: str | None = None
    outcome: str | None = None
    error_codes: list[str] = field(default_factory=list)


def request_info(context: Any) -> RequestInfo | None:
    """The request's RequestInfo, if the operation came over HTTP through telemetry.py."""
    request = getattr(context, "request", None)
    scope = getattr(request, "scope", None)
    return scope.get(SCOPE_KEY) if isinstance(scope, dict) else None


class OperationTelemetry(SchemaExtension):
    """Notes the operation's name and type once the document is parsed (an unnamed operation
    has no name; a document that does not parse, neither)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        info = request_info(context.context)
        if info is not None:
            info.operation = context.operation_name
            try:
                info.operation_type = context.operation_type.value
            except RuntimeError:  # no such operation: validation says so
                info.operation_type = None
        yield


def outcome_of(result: Any) -> str:
    """ok (no errors), partial (data and errors) or error (no data)."""
    if not getattr(result, "errors", None):
        return "ok"
    return "error" if getattr(result, "data", None) is None else "partial"


def error_codes(result: Any) -> list[str]:
    return [str((error.extensions or {}).get("code") or "NO_CODE")
            for error in getattr(result, "errors", None) or ()]


def observe_operation(context: Any, operation_name: str | None, result: Any,
                      seconds: float) -> None:
    """Counts an HTTP operation's result (its errors already masked) and notes it for the log."""
    info = request_info(context) or RequestInfo("")
    info.operation = info.operation or operation_name
    codes = Counter(error_codes(result))
    info.outcome, info.error_codes = outcome_of(result), sorted(codes)  # each code once
    name = operation_label(info.operation)
    OPERATIONS.labels(name, info.operation_type or "unknown", info.outcome).inc()
    OPERATION_LATENCY.labels(name, info.outcome).observe(seconds)
    # Once per code: a dashboard page carries ninety FORBIDDEN errors.
    for code, count in codes.items():
        ERRORS.labels(code).inc(count)
