"""Exports: a customer's connected factories (a supplier's own) as CSV or XLSX.

The rows are the answer to a GraphQL query of our own schema, executed as the signed-in viewer
and paged through with its cursor: permissions (a denied field is an empty cell) and the access
log come from the normal read path, so an export shows and logs exactly what the dashboard does.
"""
import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from auth.viewer import Viewer
from resolvers.context import Context
from web.responses import attachment, json_error, viewer_of

PAGE = 100
FIELDS = ("name", "country", "city", "certificationStatus", "certifiedUntil", "address",
          "workerCount", "contactEmail")
QUERY = """
query Export($first: Int!, $after: String, $connectedOnly: Boolean) {
  factories(first: $first, after: $after, filter: {connectedOnly: $connectedOnly}) {
    pageInfo { hasNextPage endCursor }
    nodes { id viewerAccess { isOwner scopes } %s }
  }
}
""" % " ".join(FIELDS)
HEADER = ["id", *FIELDS, "scopes"]


class ExportRefused(Exception):
    pass


async def factory_rows(request: Request, viewer: Viewer) -> AsyncIterator[list[str]]:
    """The header, then one row per factory the viewer exports, page by page. The first page is
    read before the header is given, so a failure to read it can still be a status code."""
    after = None
    while True:
        page = await _page(request, viewer, after)
        if after is None:
            yield HEADER
        for node in page["nodes"]:
            if viewer.is_supplier and not node["viewerAccess"]["isOwner"]:
                continue  # a supplier exports its own factories only
            yield [node["id"], *(_cell(node.get(f)) for f in FIELDS),
                   " ".join(node["viewerAccess"]["scopes"])]
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


async def _page(request: Request, viewer: Viewer, after: str | None) -> dict[str, Any]:
    state = request.app.state
    ctx = Context(database=state.database, settings=state.settings, viewer=viewer,
                  request=request, response=Response(), services=state.services)
    result = await state.schema.execute(QUERY, {"first": PAGE, "after": after,
                                                "connectedOnly": viewer.is_customer},
                                        context_value=ctx, operation_name="Export")
    page = (result.data or {}).get("factories")
    if page is None:
        raise ExportRefused("; ".join(e.message for e in result.errors or ()))
    return page  # type: ignore[no-any-return]


async def started(rows: AsyncIterator[list[str]]) -> AsyncIterator[list[str]]:
    """The rows, their first page already read (ExportRefused raised here, not mid-stream)."""
    header = await anext(rows)

    async def chained() -> AsyncIterator[list[str]]:
        yield header
        async for row in rows:
            yield row
    return chained()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)  # denied (null) values are empty cells


async def csv_chunks(rows: AsyncIterator[list[str]]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    async for row in rows:
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


async def xlsx_chunks(rows: AsyncIterator[list[str]]) -> AsyncIterator[bytes]:
    """openpyxl's write-only workbook keeps little in memory; an XLSX is a zip whose directory
    comes last, so it is written to a temporary file, then streamed from it."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Factories")
    async for row in rows:
        sheet.append(row)
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        workbook.save(path)
        with open(path, "rb") as saved:
            while chunk := saved.read(64 * 1024):
                yield chunk
    finally:
        os.remove(path)


EXPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


async def export_factories(request: Request) -> Response:
    """GET /exports/factories.csv|.xlsx: a customer's connected factories, a supplier's own,
    as the dashboard shows them (web.exports), streamed."""
    viewer = viewer_of(request)
    if not viewer.is_authenticated:
        return json_error(401, "UNAUTHENTICATED", "Sign in first.",
                          headers={"WWW-Authenticate": "Bearer"})
    if not (viewer.is_customer or viewer.is_supplier):
        return json_error(403, "FORBIDDEN", "Only customers and suppliers export factories.")
    kind = request.path_params["format"]
    if kind not in EXPORT_TYPES:
        return json_error(404, "NOT_FOUND", "Exports are factories.csv and factories.xlsx.")
    try:
        rows = await started(factory_rows(request, viewer))
    except ExportRefused as refused:  # e.g. the database went away: to be asked again
        return json_error(503, "SERVICE_UNAVAILABLE", f"The export failed: {refused}",
                          headers={"Retry-After": "1"})
    chunks = csv_chunks(rows) if kind == "csv" else xlsx_chunks(rows)
    return StreamingResponse(chunks, media_type=EXPORT_TYPES[kind], headers={
        "Content-Disposition": attachment(f"factories.{kind}"), "Cache-Control": "no-store"})

