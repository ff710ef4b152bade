"""A case's attachment handed out to staff, from the case page or the staff API: only as
a file to save (never rendered by the browser), and logged as read."""

from pathlib import Path

from flask import Response, abort, current_app, request, send_file

from samverkan.audit.operations import record
from samverkan.cases.models import Case
from samverkan.catalogue import uploads
from samverkan.extensions import db


def attachment_response(found: Case, attachment_id: int, **logged) -> Response:
    """The file, after its read is logged and committed; 404 when the case has no such
    attachment or its file is gone from disk (a restored backup, retention)."""
    file = next((a for a in found.attachments if a.id == attachment_id), None) or abort(404)
    path = uploads.path_of(Path(current_app.config["UPLOAD_ROOT"]), found.tenant_id, file)
    if not path.is_file():
        abort(404)  # nothing to log as read
    # The attachment by its id and field: the citizen's file name may itself be personal
    # data, and the append-only log outlives the case's thinning (retention/). A HEAD
    # (Flask answers it with this view) reads nothing: nothing to log.
    if request.method != "HEAD":
        record(
            db.session,
            "attachment.downloaded",
            "case",
            found.reference,
            {"attachment": file.id, "field": file.field_name, **logged},
        )
        db.session.commit()
    response = send_file(
        path,
        mimetype="application/octet-stream",  # never rendered by the browser
        as_attachment=True,
        download_name=uploads.saved_name(file.filename, file.content_type),
        max_age=0,
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
