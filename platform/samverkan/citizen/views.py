"""Thin routes for citizens; the work happens in the form engine and cases.operations."""

import re
from itertools import groupby
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy.orm import exc as orm_exc
from werkzeug.exceptions import RequestEntityTooLarge

from samverkan import memo
from samverkan.access import public
from samverkan.cases import operations
from samverkan.cases import status as case_status
from samverkan.cases.operations import ServiceClosed
from samverkan.casework import operations as casework
from samverkan.casework.schemas import (
    COMPLETION_FILE_MB,
    COMPLETION_FILES_MAX,
    TOO_MANY_FILES,
    CompletionSchema,
)
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.fields import FIELD_TYPES, file_limit_mb
from samverkan.catalogue.models import Category
from samverkan.catalogue.queries import enabled_services, form_for, get_enabled_service_or_404
from samverkan.catalogue.uploads import StoredFile
from samverkan.citizen import completion_errors, drafts, page_cache
from samverkan.db import utcnow
from samverkan.errors import error_response
from samverkan.extensions import db
from samverkan.extracts.content import CITIZEN
from samverkan.extracts.responses import extract_response
from samverkan.i18n import chosen_language, current_language, follow_language, members_language
from samverkan.identity import provider as identity_provider
from samverkan.identity.current import signed_in_person
from samverkan.identity.prefill import (
    lacks_what_the_form_needs,
    needs_sign_in,
    prefilled_answers,
)
from samverkan.links import external_url
from samverkan.outbox import mails
from samverkan.retention.periods import months_text, period_for
from samverkan.retention.queries import find_thinned_by_token
from samverkan.submission_limits import draft_mails_limited, extracts_limited, limited_form
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.queries import active_members
from samverkan.tenancy.request_session import own_transaction
from samverkan.tenancy.snapshot import remembered_member_will_do

bp = Blueprint("citizen", __name__, template_folder="templates")
# The e-service the accessibility statement offers for reporting a problem, when it is on.
FEEDBACK_SERVICE = "synpunkter"
# Pages that are the same for everyone: a shared cache may keep them.
PUBLIC_PAGES = (
    "citizen.index",
    "citizen.home",
    "citizen.theme",
    "citizen.logo",
    "citizen.privacy_notice",
    "citizen.accessibility_statement",
)


@bp.after_request
def _private_pages_are_not_cached(response: Response) -> Response:
    if request.endpoint not in PUBLIC_PAGES:
        response.headers["Cache-Control"] = "no-store"
    return response


# ?fil=for-stor on a step: what was sent from it was over the request's limit.
TOO_LARGE = "for-stor"


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    """A step sent with files over the request's limit (MAX_CONTENT_LENGTH) is refused
    before its body is read, so nothing of it can be kept: the step is shown again, its
    saved answers and the message at its file fields, rather than a bare error page."""
    if request.endpoint == "citizen.completion":
        # Its text goes with the files: back to the status page, which says both were lost.
        # (Refused perhaps before the member is looked up: the page is the path's parent.)
        status_url = request.path.rsplit("/", 1)[0]
        return redirect(f"{status_url}?{urlencode([('fil', TOO_LARGE)])}#komplettera", 303)
    if request.endpoint != "citizen.step" or request.method != "POST":
        return error_response(413)
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "fil"]
    return redirect(f"{request.path}?{urlencode([*query, ('fil', TOO_LARGE)])}", 303)


def _too_large_errors(fields: list[dict]) -> dict[str, list[str]]:
    """The message at each file field of a step whose files were too large to take."""
    files = [f for f in fields if f["type"] == "file"]
    if len(files) == 1:
        limit = file_limit_mb(files[0])
        return {files[0]["name"]: [_("Filen är för stor. Den får vara högst %(mb)s MB.", mb=limit)]}
    total = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    message = _(
        "Filerna var tillsammans för stora för att tas emot: högst %(total)s MB sammanlagt. "
        "Välj mindre filer.",
        total=total,
    )
    return {f["name"]: [message] for f in files}


@bp.get("/")
@public
def index():
    return render_template("citizen/index.html", members=active_members())


@bp.get("/<slug:tenant>/")
@public
def home():
    # The same for every visitor: rendered once per worker per few seconds (page_cache.py).
    return page_cache.serve(("home", g.tenant.id, g.tenant.updated_at), _render_home)


def _render_home() -> str:
    services = enabled_services()
    categories = {
        c.key: c for c in db.session.scalars(sa.select(Category).order_by(Category.position))
    }
    grouped = [
        (categories[key], list(items))
        for key, items in groupby(services, key=lambda s: s.definition.category_key)
    ]
    return render_template("citizen/home.html", grouped=grouped)


@bp.get("/<slug:tenant>/theme.css")
@public
def theme():
    """The member's colours as CSS variables: a file, so no inline styles are needed."""
    css = render_template("citizen/theme.css")
    response = Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/<slug:tenant>/logotyp")
@public
def logo():
    """The member's logo, as the type its content was sniffed as when it was uploaded (only
    PNG, JPEG or WebP: never SVG, which can carry script)."""
    tenant = g.tenant
    if not tenant.logo_storage_name:
        abort(404)
    response = send_from_directory(
        _upload_root() / str(tenant.id),
        tenant.logo_storage_name,
        mimetype=tenant.logo_content_type,
        max_age=300,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/<slug:tenant>/integritet")
@public
def privacy_notice():
    """How the member, as controller, handles the personal data in the cases it receives:
    built from what the platform does and the member's own settings, with the text its
    administrators wrote (if any) after it."""
    services = enabled_services()
    hub = db.session.scalar(sa.select(Tenant).where(Tenant.is_hub.is_(True)))
    periods = []
    for item in services:
        period = period_for(g.tenant, item.service_slug)
        periods.append(
            (
                item.definition.content["title"],
                months_text(period.months) if period.is_set else None,
            )
        )
    return render_template(
        "citizen/privacy.html",
        hub=hub,
        periods=periods,
        any_decided=any(months for _, months in periods),
        own_text=_paragraphs(g.tenant.privacy_notice),
    )


@bp.get("/<slug:tenant>/tillganglighet")
@public
def accessibility_statement():
    """The accessibility statement DOS-lagen asks of every public e-service: how well it
    conforms, what is known not to, how to report a problem and where to turn after that."""
    feedback = next((s for s in enabled_services() if s.service_slug == FEEDBACK_SERVICE), None)
    return render_template(
        "citizen/accessibility.html",
        feedback=feedback,
        own_text=_paragraphs(g.tenant.accessibility_statement),
    )


def _paragraphs(text: str | None) -> list[str]:
    """A text the member's administrators wrote: plain text, a blank line between paragraphs."""
    return [p.strip() for p in re.split(r"\r?\n\s*\n", text or "") if p.strip()]


@bp.get("/<slug:tenant>/e/<slug:service>")
@public
def start(service: str):
    tenant_service = get_enabled_service_or_404(service)
    form = form_for(tenant_service)
    draft = drafts.current_draft(tenant_service)
    resuming = draft is not None and bool(draft.completed_steps)
    first_url = url_for(".step", service=service, step_id=form.steps[0]["id"])
    return render_template(
        "citizen/start.html",
        service=tenant_service,
        form=form,
        first_url=first_url,
        # Where they stopped: the first step not done, or their answers to check.
        start_url=_continue_url(service, form, draft) if resuming else first_url,
        resuming=resuming,
        sign_in_first=needs_sign_in(form) and signed_in_person() is None,
        no_sign_in_here=needs_sign_in(form) and not identity_provider.enabled(),
    )


@bp.post("/<slug:tenant>/e/<slug:service>/borja-om")
@public
def start_over(service: str):
    """Throw this browser's answers to the e-service away, files and all (a wrongly chosen
    document need not wait for the draft to expire), and start again."""
    tenant_service = get_enabled_service_or_404(service)
    draft = drafts.current_draft(tenant_service)
    if draft is not None:
        operations.discard_draft(db.session, draft, _upload_root())
        db.session.commit()
        flash(_("Dina svar och filer är borttagna. Du kan börja om från början."))
    drafts.forget(service)
    return redirect(url_for(".start", service=service), 303)


def _sign_in_first(form: ServiceForm, service: str):
    """An e-service that needs e-ID sends anyone not signed in to sign in first, and then
    back where they were going (after a posted form: to the e-service's first page)."""
    if not needs_sign_in(form):
        return None
    if not identity_provider.enabled():  # nobody can sign in here: the start page says so
        return redirect(url_for(".start", service=service), 303)
    person = signed_in_person()
    if person is not None:
        if lacks_what_the_form_needs(form, person):
            return error_response(
                403,
                _(
                    "E-tjänsten behöver ditt svenska personnummer från e-legitimationen, och "
                    "din e-legitimation har inget. Kontakta kommunen, så hjälper de dig."
                ),
            )
        return None
    back = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(
        url_for("identity.sign_in", next=back or url_for(".start", service=service)), 303
    )


@bp.route("/<slug:tenant>/e/<slug:service>/steg/<slug:step_id>", methods=["GET", "POST"])
@public
@remembered_member_will_do  # it writes only the draft; submitting checks afresh
def step(service: str, step_id: str):
    tenant_service = get_enabled_service_or_404(service)
    form = form_for(tenant_service)
    spec = form.step(step_id) or abort(404)
    if gate := _sign_in_first(form, service):
        return gate
    prefill = prefilled_answers(form, signed_in_person())
    draft = drafts.current_draft(tenant_service)
    context = form.from_json(draft.answers) if draft else {}
    done = draft.completed_steps if draft else []
    missing = _first_unfinished(form, context, done, before=step_id)
    if missing is not None:
        return redirect(url_for(".step", service=service, step_id=missing))
    if not form.fields_on_page(spec, context):  # nothing to answer here, given earlier answers
        return redirect(_next_url(service, form, context, done, step_id))
    # The busiest public page: the request and member taken once, not through Flask's
    # proxies at each use; `in` first, as werkzeug's get() of an absent key raises inside.
    current, tenant = request._get_current_object(), g.tenant
    changing = "andra" in current.args and current.args["andra"] == "1"
    too_large = "fil" in current.args and current.args["fil"] == TOO_LARGE
    on_this_step = [f["name"] for f in spec["fields"] if f["name"] in prefill]
    first_visit = draft is None and not (changing or too_large or on_this_step)
    if current.method == "GET" and first_visit:
        # A first visit: the same page for everyone but the CSRF token (page_cache.py).
        # The key names all the page is built from: the member's and e-service's rows as
        # of their last change, the definition version and the step.
        key = (
            "step", tenant.id, tenant.updated_at, service, tenant_service.definition_id,
            tenant_service.updated_at, step_id,
        )  # fmt: skip
        return page_cache.serve(
            key,
            lambda: _render_step(tenant_service, form, spec, {}, {}, False),
            with_csrf=True,
            complete_key=True,
        )
    if current.method == "GET":
        values = {**context, **prefill}
        errors = _too_large_errors(form.fields_on_page(spec, values)) if too_large else {}
        return _render_step(tenant_service, form, spec, values, errors, changing, prefill)

    saving = request.form.get("action") == "spara"  # "Spara och fortsätt senare"
    raw = {
        field["name"]: FIELD_TYPES[field["type"]].from_form(field, request.form, request.files)
        for field in spec["fields"]
    }
    # A file chosen earlier stays unless a new one is chosen, or (optional) it is removed.
    removing = request.form.getlist("ta_bort")
    removed = set()
    for field in spec["fields"]:
        if field["type"] == "file" and raw[field["name"]] is None:
            if field["name"] in removing and not field["required"]:
                removed.add(field["name"])
            else:
                raw[field["name"]] = context.get(field["name"])
    raw.update({name: prefill[name] for name in on_this_step})  # the e-ID's, never the form's
    result = form.validate(spec["fields"], raw, context)
    draft = drafts.draft_for_writing(tenant_service)
    answers = operations.store_files(db.session, result.answers, _upload_root(), g.tenant.id)
    if saving:  # what is valid is kept, complete or not; the link is on the next page
        operations.save_for_later(draft, form, step_id, answers, result.errors, _upload_root())
        drafts.resume_token_for(service, draft)
        db.session.commit()
        return redirect(url_for(".saved", service=service), 303)
    if not result.ok:
        operations.keep_files(draft, form, answers, _upload_root(), removed)
        db.session.commit()
        # A file kept from before stays shown when a new one is refused: it is still kept.
        values = {**context, **raw, **answers} | {
            name: context[name]
            for name in result.errors
            if isinstance(context.get(name), StoredFile) and name not in answers
        }
        code = 503 if result.scanner_unavailable else 422  # 503: the scanner, not the citizen
        page = _render_step(tenant_service, form, spec, values, result.errors, changing, prefill)
        return page, code
    operations.save_step(draft, form, step_id, answers, _upload_root())
    db.session.commit()
    return redirect(
        _next_url(service, form, form.from_json(draft.answers), draft.completed_steps, step_id),
        303,
    )


def _first_unfinished(form: ServiceForm, answers: dict, done, before: str | None = None):
    """The first step that has something to answer and is not complete (before a step)."""
    for spec in form.applicable_steps(answers):
        if spec["id"] == before:
            return None
        if spec["id"] not in done:
            return spec["id"]
    return None


def _next_url(service: str, form: ServiceForm, answers: dict, done, after: str) -> str:
    """Onwards from a step: the next one with something to answer, else check answers."""
    later = form.steps[form.step_index(after) + 1 :]
    for spec in later:
        if spec["id"] not in done and form.fields_on_page(spec, answers):
            return url_for(".step", service=service, step_id=spec["id"])
    return url_for(".check", service=service)


def _render_step(tenant_service, form, spec, values, errors, changing, prefilled=()):
    index = form.step_index(spec["id"])
    earlier = [s for s in form.applicable_steps(values) if form.step_index(s["id"]) < index]
    return render_template(
        "citizen/step.html",
        service=tenant_service,
        form=form,
        step=spec,
        step_number=index + 1,
        step_count=len(form.steps),
        fields=form.fields_on_page(spec, values),
        values=values,
        errors=errors,
        changing=changing,
        previous=earlier[-1]["id"] if earlier else None,
        prefilled=tuple(prefilled),
    )


@bp.get("/<slug:tenant>/e/<slug:service>/kontrollera")
@public
def check(service: str):
    tenant_service = get_enabled_service_or_404(service)
    form = form_for(tenant_service)
    if gate := _sign_in_first(form, service):
        return gate
    draft = drafts.current_draft(tenant_service)
    answers = form.from_json(draft.answers) if draft else {}
    prefill = prefilled_answers(form, signed_in_person()) if draft else {}
    answers.update(prefill)  # as sent
    unfinished = _first_unfinished(form, answers, draft.completed_steps if draft else [])
    if draft is None or unfinished:
        return redirect(
            url_for(".step", service=service, step_id=unfinished or form.steps[0]["id"])
        )
    return render_template(
        "citizen/check.html",
        service=tenant_service,
        form=form,
        summary=[s for s in form.summary(answers, current_language()) if s["rows"]],
        prefilled=tuple(prefill),  # the e-ID's answers: not for changing here
    )


@bp.post("/<slug:tenant>/e/<slug:service>/spara")
@public
def save_for_later(service: str):
    """Spara och fortsätt senare on the check-answers page: every answer is already kept."""
    tenant_service = get_enabled_service_or_404(service)
    if gate := _sign_in_first(form_for(tenant_service), service):
        return gate
    draft = drafts.current_draft(tenant_service)
    if draft is None:
        return redirect(url_for(".start", service=service), 303)
    drafts.resume_token_for(service, draft)
    db.session.commit()
    return redirect(url_for(".saved", service=service), 303)


@bp.route("/<slug:tenant>/e/<slug:service>/sparat", methods=["GET", "POST"])
@public
@draft_mails_limited
def saved(service: str):
    """The private link to continue later, and (POST) the same link sent by e-mail."""
    tenant_service = get_enabled_service_or_404(service)
    form = form_for(tenant_service)
    if gate := _sign_in_first(form, service):
        return gate
    draft = drafts.current_draft(tenant_service)
    if draft is None:
        return redirect(url_for(".start", service=service), 303)
    token = drafts.resume_token_for(service, draft)
    link = external_url("citizen.resume", service=service, token=token)
    if (chosen := chosen_language()) and chosen != members_language():
        # Opened in another browser (the mail's), it is in the language chosen here.
        path = url_for("citizen.resume", service=service, token=token)
        link = external_url("i18n.switch", lang=chosen, next=path)
    expires_at = draft.expires_at
    errors, email, code = {}, "", 200
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        error = drafts.address_error(email)
        if error:
            errors, code = {"email": [error]}, 422
        else:
            mails.draft_link(db.session, g.tenant, form.definition, email, link, expires_at)
            db.session.commit()
            # Then the page by GET: reloading it sends no second mail.
            flash(_("Vi har skickat länken till %(address)s.", address=email))
            return redirect(url_for(".saved", service=service), 303)
    db.session.commit()  # a new link's digest
    return render_template(
        "citizen/saved.html",
        service=tenant_service,
        form=form,
        link=link,
        expires_at=expires_at,
        errors=errors,
        email=email,
        continue_url=_continue_url(service, form, draft),
    ), code


@bp.route("/<slug:tenant>/e/<slug:service>/fortsatt/<token:token>", methods=["GET", "POST"])
@public
def resume(service: str, token: str):
    """A resume link. The browser that holds the draft already goes on where it was left.
    Another one is asked first (GET: a link checker that opens every link in a mail takes
    nothing up) and takes the draft up by POST: it alone holds it from then on, under a
    new link (operations.take_up_draft). An unknown link is a 404 and an expired one a
    410, both with a page that says so; a draft begun on an earlier version of the
    e-service is carried over to the version the member runs now (drafts.carry_over)."""
    tenant_service = get_enabled_service_or_404(service)
    form = form_for(tenant_service)
    if gate := _sign_in_first(form, service):
        return gate
    draft = operations.find_draft_by_resume_token(db.session, token, service)
    # A second click on "Fortsätt med svaren": the first took the draft up already.
    if draft is None and request.method == "POST" and (taken := _taken_up_here(token, form)):
        return taken
    if draft is None or draft.expires_at < utcnow():
        # A link this browser took the draft up with has stopped working: it goes on here.
        held = drafts.current_draft(tenant_service) if draft is None else None
        page = render_template(
            "citizen/draft_gone.html",
            service=tenant_service,
            form=form,
            known=draft is not None,
            continue_url=held and _continue_url(service, form, held),
        )
        return page, 404 if draft is None else 410
    if draft.definition_id != tenant_service.definition_id:
        drafts.carry_over(draft, tenant_service)  # a new version since: the answers follow
    if drafts.remembered_draft_id(service) != draft.id:
        new_id, new_token = drafts.take_up_plan(token, make=True)
        if request.method == "GET":
            return render_template(
                "citizen/take_up.html", service=tenant_service, form=form, draft=draft
            )
        operations.take_up_draft(draft, form, new_id, new_token)
        try:
            db.session.commit()
        except orm_exc.StaleDataError:
            # Both clicks at once: the other one's commit gave the draft its new id.
            db.session.rollback()
            return _taken_up_here(token, form) or abort(404)
        token = new_token
    drafts.bind(service, draft, resume_token=token)
    return redirect(_continue_url(service, form, draft), 303)


def _taken_up_here(old_token: str, form: ServiceForm):
    """This browser's take-up of the draft from `old_token`, if it happened already: the
    draft under the planned id and link, bound here, and on to where it was left."""
    plan = drafts.take_up_plan(old_token, make=False)
    service = request.view_args["service"]
    draft = plan and operations.find_draft(db.session, plan[0], service)
    if not draft or draft.resume_digest != operations.resume_digest(plan[1]):
        return None
    drafts.bind(service, draft, resume_token=plan[1])
    return redirect(_continue_url(service, form, draft), 303)


def _continue_url(service: str, form: ServiceForm, draft) -> str:
    """The first unfinished step, or check answers when every step is done."""
    answers = form.from_json(draft.answers)
    unfinished = _first_unfinished(form, answers, draft.completed_steps)
    if unfinished is None:
        return url_for(".check", service=service)
    return url_for(".step", service=service, step_id=unfinished)


@bp.post("/<slug:tenant>/e/<slug:service>")
@public
@limited_form
@remembered_member_will_do  # the numbering statement checks member and e-service itself
def submit(service: str):
    tenant_service = get_enabled_service_or_404(service)
    form = form_for(tenant_service)
    if gate := _sign_in_first(form, service):
        return gate
    person = signed_in_person()
    # On PostgreSQL in the member's own transaction, not the session's (request_session.py).
    with own_transaction(db.session, db.engine, g.tenant.id) as connection:
        # Taken now and deleted with the case's commit; every refusal rolls it back.
        draft = drafts.claim_draft(tenant_service, connection)
        if draft is not None:
            return _submit_draft(tenant_service, form, person, draft, connection)
    # A second click after the first one went through: show the same receipt, to the
    # browser whose session holds the draft's id (the receipt's link is that case's
    # private key; a browser that took a draft up from its link gave it a new id).
    draft_id = drafts.remembered_draft_id(service)
    earlier = draft_id and operations.find_by_idempotency_key(db.session, drafts.web_key(draft_id))
    if earlier:
        # Only the browser that held the draft knows its id (a browser that took it up
        # from its link gave it a new one): its receipt shows the answers.
        return redirect(url_for(".receipt", token=earlier.status_token), 303)
    if not draft_id:
        return redirect(url_for(".start", service=service), 303)
    # Where the claim ran in the session's transaction (SQLite), its DELETE is undone.
    db.session.rollback()
    if (held := drafts.current_draft(tenant_service)) is not None:
        # A new version of the e-service since the check page: the answers followed
        # (drafts.carry_over says so), and the citizen checks them before sending.
        return redirect(_continue_url(service, form, held), 303)
    # Answers this browser had could not be sent (gone, or sent from another browser that
    # took them up): the start page says so rather than starting over silently.
    flash(
        _(
            "Dina svar kunde inte skickas in: de har skickats in eller tagits bort "
            "sedan du började. Fyll i den här igen."
        )
    )
    return redirect(url_for(".start", service=service), 303)


def _submit_draft(tenant_service, form: ServiceForm, person, draft, connection):
    """The claimed draft registered as a case and committed, in the member's own
    transaction (`connection`) or the session's (None); or the page that says why not."""
    service = tenant_service.service_slug
    # What the e-ID fills in is its own, even in a draft saved under another sign-in.
    answers = {**form.from_json(draft.answers), **prefilled_answers(form, person)}
    unfinished = _first_unfinished(form, answers, draft.completed_steps)
    if unfinished:
        return redirect(url_for(".step", service=service, step_id=unfinished), 303)
    result = form.validate(form.all_fields(), answers)
    if not result.ok:
        # Something that was right is no longer (a wished date has passed, a member's
        # list changed): show the step with the message, not a silent redirect.
        spec = next(s for s in form.steps if any(f["name"] in result.errors for f in s["fields"]))
        errors = {
            f["name"]: result.errors[f["name"]]
            for f in spec["fields"]
            if f["name"] in result.errors
        }
        prefill = prefilled_answers(form, person)
        return _render_step(tenant_service, form, spec, answers, errors, True, prefill), 422
    try:
        submission = operations.submit_case(
            db.session,
            g.tenant,
            tenant_service,
            form,
            result.answers,
            channel="web",
            upload_root=_upload_root(),
            idempotency_key=drafts.web_key(draft.id),
            key_is_new=True,  # the claimed draft is this key's only source
            person_key=person.person_key if person else None,  # in their Mina ärenden
            language=current_language(),
            connection=connection,
        )
    except ServiceClosed:
        # Closed, switched off or a new version seconds ago, after this worker last looked:
        # it forgets what it remembered, and the page says what is open now.
        memo.forget_all()
        return redirect(url_for(".start", service=service), 303)
    token = submission.status_token  # the receipt needs no more of the case
    receipt_url = url_for(".receipt", token=token)
    (db.session if connection is None else connection).commit()
    # The session keeps the draft's id, which shows this browser the receipt's answers
    # (drafts.submitted_here): the cookie stays as it is.
    if g.get("receipt_held"):
        flash(
            _(
                "Vi skickade inget kvitto med e-post den här gången: adressen har fått många "
                "kvitton från oss den senaste tiden. Spara länken nedan för att följa ärendet."
            )
        )
    return redirect(receipt_url, 303)


def _case_for_token(token: str):
    """The case a status link opens, its pages in the language it was sent in unless the
    visitor chose one. A thinned case's old link no longer opens it: 410 with a page that
    says so, rather than a puzzling 404."""
    case = operations.find_case_by_token(db.session, token)
    if case is not None:
        follow_language(case.language)
        return case
    thinned = find_thinned_by_token(db.session, token)
    if thinned is None:
        abort(404)
    page = render_template("citizen/thinned.html", case=thinned)
    abort(make_response(page, 410))


@bp.get("/<slug:tenant>/arende/<token:token>/kvitto")
@public
def receipt(token: str):
    case = _case_for_token(token)
    form = ServiceForm(case.definition.content, {})
    return render_template(
        "citizen/receipt.html",
        case=case,
        definition=case.definition.content,
        summary=form.summary(form.from_json(case.answers), current_language())
        if _answers_shown(case, token)
        else [],
        status_url=url_for(".status", token=token, _external=True),
    )


@bp.get("/<slug:tenant>/arende/<token:token>")
@public
def status(token: str):
    case = _case_for_token(token)
    if request.args.get("fil") == TOO_LARGE:  # a completion over the request's limit
        if case.status == case_status.WAITING:
            return _status_page(token, case, completion_errors.too_large())
        # Unread, and no longer waiting for it either: it was not sent, whatever it held.
        too_late = _(
            "Det du skickade var för stort för att tas emot, och ärendet väntar inte längre "
            "på någon komplettering från dig."
        )
        return _status_page(token, case, unsent={"reason": too_late, "files": []})
    return _status_page(token, case)


def _status_page(
    token: str, case, errors: dict | None = None, entered: str = "", code=200, unsent=None
):
    """The status page; `unsent`: a completion that came too late ({"reason", "files"})."""
    answers_shown = _answers_shown(case, token)
    return render_template(
        "citizen/status.html",
        case=case,
        definition=case.definition.content,
        events=[e for e in case.events if e.visible_to_citizen],
        extract_url=url_for(".extract", token=token),
        # Where the answers are, for whom they are shown (the sending browser, the person
        # signed in with e-ID who sent it: Mina ärenden leads here).
        answers_url=url_for(".receipt", token=token) if answers_shown else None,
        # The files' names too (a name may itself be personal data, as the extract says).
        answers_shown=answers_shown,
        # Asked to complete the case: the answer goes from this page.
        completion_open=case.status == case_status.WAITING
        and case.thinned_at is None
        and g.tenant.status == "active",
        # The files sent with each completion, by its history entry.
        sent_files=case.files_by_event(),
        completion_files=COMPLETION_FILES_MAX,
        completion_spec={"max_size_mb": COMPLETION_FILE_MB},  # as a file field's
        too_many_files=_(TOO_MANY_FILES),
        errors=errors or {},
        entered=entered,
        unsent=unsent,
    ), code


@bp.post("/<slug:tenant>/arende/<token:token>/komplettering")
@public
@limited_form  # as a submission: it writes to a case
def completion(token: str):
    """The citizen's answer to 'Väntar på komplettering', from the status page (the mail
    asking for it cannot be answered): text, files or both. Whoever holds the status link
    may answer, as they may read the case's messages."""
    case = _case_for_token(token)
    text = request.form.get("completion", "")
    chosen = [f for f in request.files.getlist("completion_files") if f.filename]
    try:
        answer = CompletionSchema().load({"completion": text, "completion_files": chosen})
    except ValidationError as exc:
        if case.status != case_status.WAITING:  # no form to correct any more: as below
            return _not_sent(token, case, text, chosen, None)
        # 503 when a file was refused only because it could not be scanned: not theirs.
        code = 503 if completion_errors.unscannable(exc.messages) else 422
        return _status_page(
            token, case, completion_errors.by_field(exc.messages, chosen), text, code
        )
    try:
        casework.add_completion(
            db.session,
            case,
            answer["completion"],
            answer["completion_files"],
            upload_root=Path(current_app.config["UPLOAD_ROOT"]),
        )
    except casework.CaseworkError as exc:
        db.session.rollback()
        case = _case_for_token(token)
        if exc.field != "completion":
            # No longer waiting (a case worker changed it meanwhile, or their own answer
            # did): the page says so and keeps what they wrote, which was not sent.
            return _not_sent(token, case, text, chosen, exc.shown if exc.field == "sent" else None)
        return _status_page(token, case, {"completion": [_(exc.shown)]}, text, 422)
    db.session.commit()
    flash(_("Tack! Din komplettering är skickad till handläggaren."))
    return redirect(url_for(".status", token=token), 303)


def _not_sent(token: str, case, text: str, chosen: list, reason: str | None):
    """409: the answer came when the case no longer waited for it. `reason` when it was the
    citizen's own answer that moved it on (else: a case worker did)."""
    unsent = {
        "reason": _(reason) if reason else None,
        "files": completion_errors.file_names(chosen),
    }
    return _status_page(token, case, {}, text, 409, unsent=unsent)


@bp.get("/<slug:tenant>/arende/<token:token>/registerutdrag")
@public
@extracts_limited
def extract(token: str):
    return _extract(token, as_json=False)


@bp.get("/<slug:tenant>/arende/<token:token>/registerutdrag.json")
@public
@extracts_limited
def extract_json(token: str):
    return _extract(token, as_json=True)


def _extract(token: str, *, as_json: bool):
    """The citizen's own register extract. The answers only as on the receipt
    (_answers_shown); never the internal notes."""
    case = _case_for_token(token)
    return extract_response(
        db.session,
        case,
        g.tenant,
        audience=CITIZEN,
        answers_shown=_answers_shown(case, token),
        as_json=as_json,
        template="extract/citizen.html",
        actor="den sökande (statuslänken)",
        status_url=url_for(".status", token=token),
        json_url=url_for(".extract_json", token=token),
    )


def _answers_shown(case, token: str) -> bool:
    """The answers are shown to the browser that sent the case and to the person signed in
    with e-ID who sent it; whoever else holds the status link sees only the status."""
    if drafts.submitted_here(case, token):
        return True
    person = signed_in_person()
    return person is not None and case.person_key == person.person_key


def _upload_root() -> Path:
    return Path(current_app.config["UPLOAD_ROOT"])
