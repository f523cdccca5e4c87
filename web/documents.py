"""The document endpoints: POST /documents (upload), GET /documents/{id} (download)."""
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from auth.viewer import Viewer
from infra.document_store import DocumentRefused
from resolvers.document import (
    LinkCheck,
    check_download,
    document_for_download,
    incoming_dir,
    record_upload,
)
from resolvers.ids import decode_as, encode_id
from web.responses import attachment, json_error, viewer_of
from web.upload import receive_upload


async def store_upload(request: Request, viewer: Viewer) -> Any:
    """Receive the request's multipart `file` and record it as the viewer's upload, or raise
    DocumentRefused: the one path of POST /documents and of the portal's uploads."""
    state = request.app.state
    received = await receive_upload(request.headers.get("content-type"), request.stream(),
                                    incoming_dir(state.settings))
    return await record_upload(state.database, state.documents, viewer, received)


async def upload_document(request: Request) -> JSONResponse:
    """POST /documents: multipart field `file`, signed in; 201 {id, sha256, sizeBytes}."""
    viewer = viewer_of(request)
    if not viewer.is_authenticated:
        return json_error(401, "UNAUTHENTICATED", "Sign in to upload documents.",
                          headers={"WWW-Authenticate": "Bearer"})
    try:
        row = await store_upload(request, viewer)
    except DocumentRefused as refused:
        return json_error(refused.status, refused.code, refused.message)
    return JSONResponse({"id": encode_id("Document", row.id), "sha256": row.sha256,
                         "sizeBytes": row.size_bytes}, status_code=201)


async def download_document(request: Request) -> Response:
    """GET /documents/{id}?expires=…&signature=…: the link Document.downloadUrl made."""
    state, params = request.app.state, request.query_params
    document_id = decode_as(request.path_params["id"], "Document")
    if document_id is None:
        return json_error(404, "NOT_FOUND", "No document with that id.")
    check = check_download(state.settings, document_id, params.get("expires"),
                           params.get("signature"))
    if check is LinkCheck.EXPIRED:
        return json_error(403, "LINK_EXPIRED", "This download link has expired; ask for a new one.")
    if check is not LinkCheck.VALID:
        return json_error(403, "INVALID_SIGNATURE", "This download link is not valid.")
    try:
        row = await document_for_download(state.database, state.documents, document_id)
    except DocumentRefused as refused:
        return json_error(refused.status, refused.code, refused.message)
    # Always an attachment, never sniffed: an uploaded file must not render as a page of ours.
    headers = {"Content-Disposition": attachment(row.filename),
               "Content-Length": str(row.size_bytes), "ETag": f'"{row.sha256}"',
               "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    if request.method == "HEAD":
        return Response(headers=headers, media_type=row.content_type)
    return StreamingResponse(state.documents.read(state.database, row.sha256, row.size_bytes),
                             media_type=row.content_type, headers=headers)

