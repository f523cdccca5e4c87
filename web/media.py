"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): which media type
answers a request, and the status code a GraphQL answer gets in it.

`application/json` answers every well-formed request with 200, request errors included (the
legacy type: a client cannot tell a proxy's 4xx from ours). `application/graphql-response+json`
answers a request error (unparsable, invalid, no operation to run, bad variables) with 400 and
no `data` entry, and anything that executed with 200."""
from typing import Any

from graphql import GraphQLError

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
OFFERED = (JSON, GRAPHQL_RESPONSE)  # in this order: a wildcard alone gets the legacy type


def response_media_type(accept: str | None) -> str | None:
    """The media type to answer in, by the request's Accept header; None when it accepts
    neither (406). No Accept header means application/json, as older clients expect."""
    if accept is None or not accept.strip():
        return JSON
    ranges = _ranges(accept)

    def preference(media: str) -> tuple[float, int, int]:
        # The most specific range naming the type decides its quality (RFC 9110 12.5.1);
        # between equals, a type named outright beats a wildcard, then the one listed first.
        if media in ranges:
            quality, position = ranges[media]
            return quality, 1, -position
        quality = ranges.get("application/*", ranges.get("*/*", (0.0, 0)))[0]
        return quality, 0, 0

    best = max(OFFERED, key=preference)
    return best if preference(best)[0] > 0 else None


def _ranges(accept: str) -> dict[str, tuple[float, int]]:
    """Media range -> (quality, position), the first mention of each range kept."""
    ranges: dict[str, tuple[float, int]] = {}
    for position, part in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0  # an unreadable weight accepts nothing
        ranges.setdefault(media.lower(), (quality, position))
    return ranges


def content_type(media: str) -> str:
    return f"{media}; charset=utf-8" if media == GRAPHQL_RESPONSE else media


def is_request_error(data: Any, errors: list[GraphQLError] | None) -> bool:
    """Nothing was executed: no data, and no error belongs to a field (parse, validation,
    operation and variable errors, and our limits, have no path)."""
    return data is None and bool(errors) and all(not error.path for error in errors or ())


def error_status(answer: dict[str, Any]) -> int:
    """The status of an answer without `data` in application/graphql-response+json."""
    codes = {(error.get("extensions") or {}).get("code") for error in answer.get("errors", ())}
    if "SERVICE_UNAVAILABLE" in codes:
        return 503
    if "INTERNAL_SERVER_ERROR" in codes:
        return 500
    return 400
