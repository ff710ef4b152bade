"""Thin routes for a case worker's day: the inbox, a case, its workflow, notes, export."""

import csv
import io
import re

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup
from marshmallow import ValidationError

from samverkan.access import staff
from samverkan.audit.operations import record
from samverkan.cases import status
from samverkan.cases.models import Case
from samverkan.casework import operations, queries
from samverkan.casework.downloads import attachment_response
from samverkan.casework.export import csv_rows
from samverkan.casework.schemas import AssignSchema, NoteSchema, TransitionSchema
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.fields import localized
from samverkan.catalogue.queries import definition_content, definition_titles
from samverkan.clock import swedish_today
from samverkan.extensions import db
from samverkan.extracts.content import STAFF
from samverkan.extracts.responses import extract_response
from samverkan.i18n import current_language, gettext
from samverkan.memo import Memo
from samverkan.staff_frame import pattern, render_staff_page
from samverkan.templating import html_text, local_datetime
from samverkan.tenancy.request_session import own_transaction
from samverkan.tenancy.scoping import bind_tenant
from samverkan.translatable import N_

bp = Blueprint("casework", __name__, template_folder="templates")


@bp.after_request
def _staff_pages_are_not_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _shown(errors: dict) -> dict[str, list[str]]:
    """What was refused, in the page's language: the messages are the API's Swedish words,
    marked for the catalogue where they are made (N_)."""
    return {name: list(map(gettext, found)) for name, found in errors.items()}


def _filters_or_errors() -> tuple[dict, dict]:
    try:
        return queries.load_filters(request.args, db.session), {}
    except ValidationError as exc:
        return {}, _shown(exc.messages)


def _chosen_filters() -> dict[str, str]:
    """The filters as typed, for links and the form: only the inbox's own names, so nothing
    else in the query string reaches url_for."""
    return {
        name: value
        for name, value in request.args.items()
        if name in queries.FILTER_NAMES and name != "cursor" and value
    }


@bp.get("/<slug:tenant>/staff/")
@staff()
def inbox():
    filters, errors = _filters_or_errors()
    page = None
    if not errors:
        # Core statements only: on PostgreSQL in the member's own transaction unless the
        # session has begun one (request_session.py), as a web submission.
        with own_transaction(db.session, db.engine, g.tenant.id) as connection:
            page = queries.inbox_listing(connection or db.session, filters, current_user.id)
    lang = current_language()  # the filters' choices and the rows in the page's language
    chosen = _chosen_filters()
    older = page.next_cursor if page else None
    # The page's own part is kept per choice of filters (staff_frame.py), unless refused:
    # these four are what differs between requests with the same choice.
    return render_staff_page(
        "casework/inbox.html",
        holes={
            "filter_form": _filter_form(lang, chosen, errors),
            "rows": _inbox_rows(page.cases, lang) if page else "",
            "older_link": html_text(url_for(".inbox", cursor=older, **chosen)) if older else "",
            "newest_link": html_text(url_for(".inbox", **chosen))
            if page and request.args.get("cursor")
            else "",
        },
        kept_by=None if errors else tuple(chosen.items()),
        listed=page is not None,
        errors=errors,
        chosen=chosen,
    ), (422 if errors else 200)


# "ARV-2026-000017", "arv-2026-17" or "2026-17" (this member's series): as a citizen reads
# it out on the phone.
_SPOKEN_REFERENCE = re.compile(r"\s*(?:([A-Za-z]{3})\s*-\s*)?(\d{4})\s*-\s*(\d{1,6})\s*")


@bp.get("/<slug:tenant>/staff/sok")
@staff()
def find_case():
    """A case by its reference: straight to it, or the search again saying none has it."""
    typed = request.args.get("referens", "")[:40]
    found = _SPOKEN_REFERENCE.fullmatch(typed)
    reference = None
    if found:
        prefix, year, number = found.groups()
        reference = f"{(prefix or g.tenant.reference_prefix).upper()}-{year}-{int(number):06d}"
        if queries.find_by_reference(db.session, reference) is not None:
            return redirect(url_for(".case", reference=reference), 303)
    code = 422  # what was typed is no reference; 404: a reference no case here has
    if not typed.strip():
        message = gettext("Skriv ärendenumret, till exempel %(example)s.", example=_example())
    elif reference is None:
        message = gettext(
            "Skriv ärendenumret som %(example)s (bokstäver, år och nummer).", example=_example()
        )
    else:
        code = 404
        message = gettext(
            "%(name)s har inget ärende %(reference)s.", name=g.tenant.name, reference=reference
        )
    errors = {"referens": [message]}
    page = render_staff_page(
        "casework/find.html", typed=typed, errors=errors, not_found=code == 404
    )
    return page, code


def _example() -> str:
    return f"{g.tenant.reference_prefix}-{swedish_today().year}-000017"


_filter_forms = Memo("KEYED_CACHE_SECONDS")


def _filter_form(lang: str, chosen: dict[str, str], errors: dict) -> Markup:
    """The filters' form, as chosen: kept by the worker per member, language, e-services
    and choice (its key names all it shows), unless a filter was refused. Its texts and
    options were a third of making the inbox, the same on most visits."""
    services = queries.service_choices(db.session, lang)
    key = (g.tenant.id, g.tenant.slug, request.script_root, lang, services, *chosen.items())
    form = None if errors else _filter_forms.get(key)
    if form is None:
        # A rendered template: HTML that autoescape has written, to be put in as it is.
        form = Markup(  # noqa: S704
            render_template(
                "casework/inbox_filters.html",
                errors=errors,
                chosen=chosen,
                statuses=status.choices(lang),
                services=services,
            )
        )
        if not errors:
            _filter_forms.put(key, form)
    return form


_ROW = ("case_link", "reference", "title", "state", "assignee", "submitted")


def _inbox_rows(cases: list, lang: str) -> str:
    """The inbox's rows as HTML (casework/inbox_row.html), each value in `lang` and
    escaped here: reference, e-service, status, case worker, when it came in. Written
    from the template made once with placeholders (staff_frame.pattern): Jinja's loop had
    cost about 19 µs a row, and a page has 25."""
    titles = definition_titles(db.session, {case.definition_id for case in cases})
    row = pattern("casework/inbox_row.html", _ROW)
    case_link = html_text(url_for(".case", reference=""))  # a row's link: this + reference
    # The citizen has answered and no case worker has opened the case since.
    news = gettext("Ny komplettering")  # (not inside the f-string: pybabel would miss it)
    news = f' <strong class="tag">{html_text(news)}</strong>'
    return "\n".join(
        row(
            case_link=case_link,
            reference=html_text(case.reference),
            title=html_text(localized(titles[case.definition_id], lang)),
            state=html_text(status.label(case.status, lang, staff=True))
            + (news if case.unread_completion_at is not None else ""),
            assignee=html_text(case.assignee or "–"),
            submitted=html_text(local_datetime(case.submitted_at, lang)),
        )
        for case in cases
    )


@bp.get("/<slug:tenant>/staff/export.csv")
@staff()
def export():
    filters, errors = _filters_or_errors()
    if errors:
        return redirect(url_for(".inbox", **_chosen_filters()), 303)
    record(db.session, "case.exported", "inbox", "csv", _chosen_filters())
    db.session.commit()
    user_id, tenant_id = current_user.id, g.tenant.id

    def generate():
        # The body is written after the request's own session has ended: this one is bound
        # to the member again and closed when the last row is out.
        bind_tenant(db.session, tenant_id)
        sent = []  # the references that went out, for the log (filters replayed later
        # would find another set: statuses and case workers change)

        def noted(cases):
            for case in cases:
                sent.append(case.reference)
                yield case

        try:
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter=";")
            buffer.write("\ufeff")  # Excel opens UTF-8 with a BOM as UTF-8
            for row in csv_rows(noted(queries.for_export(db.session, filters, user_id))):
                writer.writerow(row)
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        finally:
            # Also when the download stops half-way: then what had been read by then.
            try:
                db.session.rollback()
                record(
                    db.session,
                    "case.export_sent",
                    "inbox",
                    "csv",
                    {"cases": len(sent), "references": sent},
                )
                db.session.commit()
            finally:
                db.session.remove()

    filename = f"arenden-{g.tenant.slug}.csv"
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _case_or_404(reference: str, *, for_update: bool = False) -> Case:
    return queries.find_by_reference(db.session, reference, for_update=for_update) or abort(404)


@bp.get("/<slug:tenant>/staff/arenden/<reference:reference>")
@staff()
def case(reference: str):
    found = _case_or_404(reference)
    # Made before the commit, which would expire the case and have the page load it and
    # its relations all over again; the page goes out only once the view is logged.
    page = _render_case(found, {}, {})
    if request.method == "HEAD":  # (Flask's, for GET) nobody has read anything
        return page
    operations.completion_read(db.session, found)
    record(db.session, "case.viewed", "case", found.reference)
    db.session.commit()
    return page


def _render_case(found: Case, errors: dict, entered: dict, code: int = 200):
    definition = definition_content(db.session, found.definition_id)
    form = ServiceForm(definition, {})
    return render_staff_page(
        "casework/case.html",
        case=found,
        definition=definition,
        summary=form.summary(form.from_json(found.answers), current_language()),
        attachments=found.answer_files(),
        sent_files=found.files_by_event(),
        colleagues=operations.colleagues(db.session),
        next_statuses=_status_choices(found),
        citizen_email=operations.mails.citizen_address(found),
        # What the citizen sees as it stood when the page was made (the decision's basis).
        seen_news=max((e.id for e in found.events if e.visible_to_citizen), default=0),
        errors=errors,
        entered=entered,
    ), code


def _status_choices(found: Case) -> list[tuple[str, str]]:
    """The statuses the case may move to and, last, its own (a message to the citizen
    without moving the case), while it is open."""
    lang = current_language()
    choices = [(s, status.label(s, lang, staff=True)) for s in status.allowed_next(found.status)]
    if not choices:
        return []
    now = status.label(found.status, lang, staff=True)
    keep = gettext("Oförändrad (%(status)s): bara meddelandet", status=now)
    return [*choices, (found.status, keep)]


@bp.get("/<slug:tenant>/staff/arenden/<reference:reference>/bilagor/<int:attachment_id>")
@staff()
def attachment(reference: str, attachment_id: int):
    return attachment_response(_case_or_404(reference), attachment_id)


@bp.get("/<slug:tenant>/staff/arenden/<reference:reference>/registerutdrag")
@staff()
def extract(reference: str):
    return _extract(reference, as_json=False)


@bp.get("/<slug:tenant>/staff/arenden/<reference:reference>/registerutdrag.json")
@staff()
def extract_json(reference: str):
    return _extract(reference, as_json=True)


def _extract(reference: str, *, as_json: bool):
    """The complete register extract, internal notes marked, for a citizen who asks."""
    found = _case_or_404(reference)
    return extract_response(
        db.session,
        found,
        g.tenant,
        audience=STAFF,
        answers_shown=True,
        as_json=as_json,
        template="extract/staff.html",
    )


@bp.post("/<slug:tenant>/staff/arenden/<reference:reference>/tilldela")
@staff()
def assign(reference: str):
    def apply(found, data):
        assignee = current_user.id if data["assignee"] == "me" else data["assignee"]
        seen = data["seen_assignee"]
        if not operations.assign(db.session, found, assignee, by=current_user, seen_assignee=seen):
            return N_("Ingen ändring: ärendet har redan den handläggaren.")
        return None

    return _change(reference, AssignSchema(), apply, N_("Handläggaren är ändrad."), anchor=None)


@bp.post("/<slug:tenant>/staff/arenden/<reference:reference>/status")
@staff()
def transition(reference: str):
    if request.form.get("status") == status.CLOSED and request.form.get("bekrafta") != "ja":
        # Closing is for good (no status follows it, and thinning counts from it): asked
        # once more, with what would be sent, before anything is written.
        found = _case_or_404(reference)
        if status.CLOSED in status.allowed_next(found.status):
            return render_staff_page(
                "casework/confirm_close.html", case=found, entered=request.form
            )

    def apply(found, data):
        event = operations.transition(
            db.session,
            g.tenant,
            found,
            data["status"],
            data["message"],
            by=current_user,
            seen_status=data["seen_status"] or None,  # none sent: unchecked
            seen_news=data["seen_news"],
        )
        if event is not None and event.kind == "message":
            return N_("Meddelandet till den sökande är skickat.")
        return None

    return _change(reference, TransitionSchema(), apply, N_("Statusen är sparad."))


@bp.post("/<slug:tenant>/staff/arenden/<reference:reference>/anteckning")
@staff()
def note(reference: str):
    def apply(found, data):
        operations.add_note(db.session, found, data["note"], by=current_user)

    return _change(reference, NoteSchema(), apply, N_("Anteckningen är sparad."))


def _change(reference: str, schema, apply, done: str, anchor: str | None = "historik"):
    """One change to a case: its row locked, the form validated, the change applied and
    committed, then back to the case saying it is `done`, or what `apply` returned instead
    (a status message a screen reader announces); a refusal re-shows the page with what
    was typed."""
    found = _case_or_404(reference, for_update=True)
    if found.thinned_at is not None:  # its personal data is gone: none may come back
        return _refused(
            reference, {"thinned": [gettext("Ärendet är gallrat och kan inte ändras.")]}
        )
    try:
        said = apply(found, schema.load(request.form)) or done  # or what it said instead
    except ValidationError as exc:
        return _refused(reference, _shown(exc.messages))
    except operations.CaseworkError as exc:
        return _refused(reference, _shown({exc.field: [exc.shown]}))
    db.session.commit()
    flash(gettext(said))
    return redirect(url_for(".case", reference=reference, _anchor=anchor), 303)


def _refused(reference: str, errors: dict):
    """Nothing of the refused change is kept; the page comes back with what was typed."""
    db.session.rollback()
    return _render_case(_case_or_404(reference), errors, request.form, 422)
