"""Customer pages: the dashboard of connected factories (live), exports, ending a connection."""
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from auth.socket_tickets import issue_ticket
from auth.viewer import Viewer
from web.exports import ExportRefused, csv_chunks, factory_rows, started, xlsx_chunks
from web.portal.graph import execute
from web.portal.pages import form_of, problems, redirect, refused_form, render, signed_in
from web.portal.session import session_of

DASHBOARD = """
query Dashboard($after: String) {
  factories(first: 50, after: $after, filter: {connectedOnly: true}) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes {
      id name country city certificationStatus certifiedUntil
      viewerAccess { scopes connection { id status expiresAt } }
      address workerCount contactEmail
      currentCertificate { number status validUntil }
      latestAudit {
        type status conductedOn auditFirm { name }
        findingsSummary { zeroTolerance critical major minor total }
        report { filename downloadUrl }
      }
      correctiveActionPlans {
        status dueOn isOverdue
        actions { action status dueDate evidence { filename downloadUrl } }
      }
      environmentalAssessments {
        periodYear energyKwh waterM3 wasteKg ghgTco2e verified report { filename downloadUrl }
      }
    }
  }
}"""
CONNECTIONS = """
query MyConnections {
  viewer { connections { id status requestedScopes grantedScopes requestedAt
                         factory { id name } } }
}"""
END = """
mutation End($input: EndConnectionInput!) {
  endConnection(input: $input) { connection { id status } userErrors { code field message } }
}"""
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


async def _customer(request: Request) -> Viewer | Response:
    viewer = await signed_in(request)
    if isinstance(viewer, Viewer) and not viewer.is_customer:
        return await render(request, "error.html", 403, errors=[{
            "code": "FORBIDDEN", "message": "The dashboard is for customer accounts.",
            "detail": ""}])
    return viewer


async def _rows(request: Request, viewer: Viewer) -> tuple[dict[str, Any], list[Any]]:
    answer = await execute(request, viewer, DASHBOARD, {"after": request.query_params.get(
        "after") or None})
    factories = answer.data.get("factories") or {"nodes": [], "totalCount": 0}
    for node in factories["nodes"]:
        node["open_plans"] = [p for p in node.get("correctiveActionPlans") or []
                              if p["status"] in ("DRAFT", "SUBMITTED", "RETURNED")]
    return factories, problems(answer, "") if answer.unexpected() else []


async def dashboard(request: Request) -> Response:
    viewer = await _customer(request)
    if not isinstance(viewer, Viewer):
        return viewer
    factories, errors = await _rows(request, viewer)
    connections = await execute(request, viewer, CONNECTIONS)
    others = [c for c in (connections.data.get("viewer") or {}).get("connections") or []
              if c["status"] == "PENDING"]
    return await render(request, "dashboard.html", factories=factories, pending=others,
                        errors=errors)


async def dashboard_rows(request: Request) -> Response:
    """The dashboard's table alone: what the page's script fetches when an event arrives."""
    viewer = await _customer(request)
    if not isinstance(viewer, Viewer):
        return viewer
    factories, errors = await _rows(request, viewer)
    return await render(request, "dashboard_rows.html", factories=factories, errors=errors)


async def socket_ticket(request: Request) -> Response:
    """A short-lived ticket for the page's WebSocket (never the session's token)."""
    session = await session_of(request)
    if not session.viewer.is_authenticated or session.id is None:
        return JSONResponse({"error": "UNAUTHENTICATED"}, status_code=401)
    ticket = issue_ticket(request.app.state.settings, session.viewer.user_id or 0, session.id)
    return JSONResponse({"ticket": ticket}, headers={"Cache-Control": "no-store"})


async def export(request: Request) -> Response:
    """The CSV or XLSX of the API's export (web.exports), for the session's viewer."""
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    kind = request.path_params["format"]
    if kind not in EXPORT_TYPES or not (viewer.is_customer or viewer.is_supplier):
        return await render(request, "error.html", 404, errors=[{
            "code": "NOT_FOUND", "message": "There is no such export.", "detail": ""}])
    try:
        rows = await started(factory_rows(request, viewer))
    except ExportRefused as refused:
        return await render(request, "error.html", 503, errors=[{
            "code": "SERVICE_UNAVAILABLE", "message": "The export failed; try again.",
            "detail": str(refused)}])
    chunks = csv_chunks(rows) if kind == "csv" else xlsx_chunks(rows)
    return StreamingResponse(chunks, media_type=EXPORT_TYPES[kind], headers={
        "Content-Disposition": f'attachment; filename="factories.{kind}"',
        "Cache-Control": "no-store"})


async def cancel(request: Request) -> Response:
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    form = await form_of(request)
    if form is None:
        return await refused_form(request)
    answer = await execute(request, viewer, END,
                           {"input": {"connectionId": request.path_params["id"]}})
    errors = problems(answer, "endConnection")
    if errors:
        return await render(request, "error.html", 422, errors=errors)
    return redirect("/portal/dashboard", "cancelled")
