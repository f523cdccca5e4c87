"""Factory (supplier) pages: their factories, each one's certification progress with the
actions of each step, connection requests and connections, the access log, and uploads."""
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from auth.viewer import Viewer
from infra.document_store import DocumentRefused
from resolvers.ids import decode_as, encode_id
from web.documents import store_upload
from web.portal.graph import execute
from web.portal.pages import (
    checked_scopes,
    form_of,
    problems,
    redirect,
    refused_form,
    render,
    signed_in,
)
from web.portal.session import csrf_valid

MINE = """
query Mine {
  viewer {
    organization { name }
    factories(first: 100) { nodes {
      id name country city certificationStatus certifiedUntil listed
      viewerAccess { isOwner }
      connections(status: PENDING) { id }
    } }
  }
}"""
PROGRESS = """
query Progress($id: ID!) {
  factory(id: $id) {
    id name country city certificationStatus certifiedUntil listed
    viewerAccess { isOwner }
    currentCertificate { number status issuedOn validUntil }
    applications {
      id kind status submittedAt assignedAt auditFirm { name }
      fees { kind round amount currency status paidAt payee { name } }
      audits {
        id type announcement status windowStart windowEnd plannedDate conductedOn reviewedAt
        reportDueOn isReportOverdue leadAuditor { name }
        findingsSummary { zeroTolerance critical major minor total }
        findings { id clause category severity description }
        report { filename downloadUrl }
        correctiveActionPlan {
          id status dueOn isOverdue submittedAt
          actions { action dueDate status agreesWithFinding factoryComment finding { id }
                    evidence { filename downloadUrl } }
        }
      }
      transitions { toStatus occurredAt note }
    }
    environmentalAssessments {
      periodYear energyKwh waterM3 wasteKg ghgTco2e verified report { filename downloadUrl }
    }
    connections {
      id status requestedScopes grantedScopes message requestedAt respondedAt expiresAt
      customer { name }
    }
    accessLog(first: 50) { totalCount nodes { viewedAt scope organization { name } } }
  }
}"""
APPLY = """
mutation Apply($input: SubmitApplicationInput!) {
  submitApplication(input: $input) { application { id } userErrors { code field message } }
}"""
CAP = """
mutation Cap($input: SubmitCorrectiveActionPlanInput!) {
  submitCorrectiveActionPlan(input: $input) {
    correctiveActionPlan { id } userErrors { code field message } }
}"""
ENVIRONMENT = """
mutation Environment($input: SubmitEnvironmentalAssessmentInput!) {
  submitEnvironmentalAssessment(input: $input) {
    environmentalAssessment { id } userErrors { code field message }
  }
}"""
RESPOND = """
mutation Respond($input: RespondToConnectionRequestInput!) {
  respondToConnectionRequest(input: $input) { connection { id } userErrors { code field message } }
}"""
NARROW = """
mutation Narrow($input: UpdateConnectionScopesInput!) {
  updateConnectionScopes(input: $input) { connection { id } userErrors { code field message } }
}"""
END = """
mutation End($input: EndConnectionInput!) {
  endConnection(input: $input) {
    connection { id factory { id } } userErrors { code field message } }
}"""


async def _supplier(request: Request) -> Viewer | Response:
    viewer = await signed_in(request)
    if isinstance(viewer, Viewer) and not viewer.is_supplier:
        return await render(request, "error.html", 403, errors=[{
            "code": "FORBIDDEN", "message": "These pages are for factory (supplier) accounts.",
            "detail": ""}])
    return viewer


async def my_factories(request: Request) -> Response:
    viewer = await _supplier(request)
    if not isinstance(viewer, Viewer):
        return viewer
    answer = await execute(request, viewer, MINE)
    me = answer.data.get("viewer") or {}
    factories = [f for f in (me.get("factories") or {}).get("nodes", [])
                 if f["viewerAccess"]["isOwner"]]
    return await render(request, "mine.html", factories=factories,
                        organization=me.get("organization"), errors=problems(answer, ""))


def steps(factory: dict[str, Any]) -> list[dict[str, Any]]:
    """The latest application as the five steps of certification, each with its state."""
    applications = factory.get("applications") or []
    app = max(applications, key=lambda a: a["submittedAt"] or "", default=None)
    if app is None:
        return []
    fees = {f["kind"]: f for f in app.get("fees") or []}  # the latest round of each kind wins
    audit = latest_audit(app)
    plan = (audit or {}).get("correctiveActionPlan")
    return [
        {"name": "Application", "fee": fees.get("REGISTRATION"), "application": app},
        {"name": "Audit firm", "fee": fees.get("AUDIT"), "application": app},
        {"name": "Audit and report", "audit": audit, "plan": plan},
        {"name": "Review", "audit": audit, "note": review_note(app)},
        {"name": "Certificate", "fee": fees.get("SEAL"),
         "certificate": factory.get("currentCertificate")},
    ]


def latest_audit(application: dict[str, Any]) -> dict[str, Any] | None:
    """The application's current round: its latest audit that was not cancelled."""
    audits = [a for a in application.get("audits") or [] if a["status"] != "CANCELLED"]
    return max(audits, key=lambda a: decode_as(a["id"], "Audit") or 0, default=None)


def review_note(application: dict[str, Any]) -> str | None:
    notes = [t["note"] for t in application.get("transitions") or []
             if t["toStatus"] in ("APPROVED", "FOLLOW_UP_REQUIRED", "REJECTED") and t["note"]]
    return notes[-1] if notes else None


async def progress(request: Request, errors: list[dict[str, Any]] | None = None,
                   status: int = 200) -> Response:
    viewer = await _supplier(request)
    if not isinstance(viewer, Viewer):
        return viewer
    answer = await execute(request, viewer, PROGRESS, {"id": request.path_params["id"]})
    factory = answer.data.get("factory")
    if factory is None or not factory["viewerAccess"]["isOwner"]:
        return await render(request, "error.html", 404, errors=[{
            "code": "NOT_FOUND", "message": "None of your factories has that id.", "detail": ""}])
    # The plan to write: that of each application's current round, while DRAFT or RETURNED.
    rounds = [latest_audit(app) for app in factory.get("applications") or []]
    plans = [a["correctiveActionPlan"] | {"audit": a} for a in rounds
             if a and a.get("correctiveActionPlan")
             and a["correctiveActionPlan"]["status"] in ("DRAFT", "RETURNED")]
    connections = factory.get("connections") or []
    return await render(
        request, "progress.html", status, factory=factory, steps=steps(factory),
        plans=plans, errors=(errors or []) + (problems(answer, "") if answer.unexpected() else []),
        pending=[c for c in connections if c["status"] == "PENDING"],
        active=[c for c in connections if c["status"] == "ACCEPTED"],
        ended=[c for c in connections if c["status"] not in ("PENDING", "ACCEPTED")])


async def _mutate(request: Request, query: str, payload: str,
                  build: Any, done: str) -> Response:
    """Run a mutation from a form of the progress page; back to the page with its outcome."""
    viewer = await _supplier(request)
    if not isinstance(viewer, Viewer):
        return viewer
    form = await form_of(request)
    if form is None:
        return await refused_form(request)
    answer = await execute(request, viewer, query, {"input": build(form)})
    errors = problems(answer, payload)
    back = str(form.get("back") or "")
    if errors:
        if back:
            request.path_params["id"] = back
        return await progress(request, errors, 422)
    return redirect(f"/portal/mine/{back or request.path_params['id']}", done)


async def apply(request: Request) -> Response:
    return await _mutate(request, APPLY, "submitApplication", lambda form: {
        "factoryId": request.path_params["id"],
        "kind": "RENEWAL" if form.get("kind") == "RENEWAL" else "NEW"}, "applied")


def _ids(value: object) -> list[str]:
    return [i for i in str(value or "").split(",") if i]


def _cap_input(form: FormData) -> dict[str, Any]:
    """One action per finding, from fields named by the finding's id."""
    actions = []
    for finding in form.getlist("finding"):
        actions.append({
            "findingId": finding, "action": str(form.get(f"action-{finding}") or ""),
            "dueDate": str(form.get(f"due-{finding}") or ""),
            "agreesWithFinding": form.get(f"agrees-{finding}") == "yes",
            "comment": str(form.get(f"comment-{finding}") or "") or None,
            "evidenceDocumentIds": _ids(form.get(f"evidence-{finding}")) or None})
    return {"auditId": str(form.get("audit") or ""), "actions": actions}


async def submit_cap(request: Request) -> Response:
    return await _mutate(request, CAP, "submitCorrectiveActionPlan", _cap_input, "cap")


def _number(value: object) -> float | None:
    try:
        return float(str(value)) if str(value or "").strip() else None
    except ValueError:
        return None


def _environment_input(request: Request, form: FormData) -> dict[str, Any]:
    year = str(form.get("periodYear") or "")
    return {"factoryId": request.path_params["id"],
            "periodYear": int(year) if year.isdigit() else 0,
            **{name: _number(form.get(name))
               for name in ("energyKwh", "waterM3", "wasteKg", "ghgTco2e")},
            "reportDocumentId": next(iter(_ids(form.get("report"))), None)}


async def submit_environment(request: Request) -> Response:
    return await _mutate(request, ENVIRONMENT, "submitEnvironmentalAssessment",
                         lambda form: _environment_input(request, form), "environment")


def _response(request: Request, form: FormData) -> dict[str, Any]:
    accept = form.get("answer") == "accept"
    return {"connectionId": request.path_params["id"], "accept": accept,
            **({"scopes": checked_scopes(form)} if accept else {})}


async def respond(request: Request) -> Response:
    accepted = (await request.form()).get("answer") == "accept"  # (read once, kept)
    return await _mutate(request, RESPOND, "respondToConnectionRequest",
                         lambda form: _response(request, form),
                         "accepted" if accepted else "declined")


async def narrow(request: Request) -> Response:
    return await _mutate(request, NARROW, "updateConnectionScopes", lambda form: {
        "connectionId": request.path_params["id"], "scopes": checked_scopes(form)}, "narrowed")


async def end(request: Request) -> Response:
    return await _mutate(request, END, "endConnection", lambda form: {
        "connectionId": request.path_params["id"]}, "ended")


async def upload(request: Request) -> Response:
    """A document for a form of this portal (CAP evidence, an assessment's report), uploaded by
    the page's script with its progress shown; answers its id. Signed in, with the CSRF token
    in X-CSRF-Token. The same checks and store as POST /documents."""
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return JSONResponse({"code": "UNAUTHENTICATED"}, status_code=401)
    if not csrf_valid(request, request.headers.get("x-csrf-token")):
        return JSONResponse({"code": "CSRF_FAILED"}, status_code=403)
    try:
        row = await store_upload(request, viewer)
    except DocumentRefused as refused:
        return JSONResponse({"code": refused.code, "message": refused.message},
                            status_code=refused.status)
    return JSONResponse({"id": encode_id("Document", row.id), "filename": row.filename},
                        status_code=201)
