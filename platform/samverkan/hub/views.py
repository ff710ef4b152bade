"""The hub's pages at /hub/: thin routes; the work is in hub/operations.py, hub/archive.py,
hub/statistics.py and costs/. Every read of members' rows goes through across_members."""

import tempfile
from pathlib import Path

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from marshmallow import ValidationError

from samverkan.access import hub
from samverkan.accounts.models import CONTACT_CENTRE, HUB_ADMIN
from samverkan.accounts.views import two_factor_guesses, two_factor_page
from samverkan.clock import swedish_today
from samverkan.db import utcnow
from samverkan.extensions import db
from samverkan.hub import archive, operations, statistics
from samverkan.hub.across import across_members
from samverkan.hub.schemas import (
    MEMBER_FACTS_FIELDS,
    ONBOARDING_EXCLUDE,
    ONBOARDING_FIELDS,
    MemberFactsSchema,
    MoveSchema,
    OnboardingSchema,
)
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.queries import swedish_sort_key

bp = Blueprint("hub", __name__, template_folder="templates", url_prefix="/hub")


@bp.after_request
def _hub_pages_are_not_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _all_members() -> list[Tenant]:
    """Every member, active or closed, in Swedish alphabetical order (the members table is
    the collaboration's own list, not any member's data)."""
    return sorted(db.session.scalars(sa.select(Tenant)), key=lambda t: swedish_sort_key(t.name))


def _member_or_404(slug: str) -> Tenant:
    return db.session.scalar(sa.select(Tenant).where(Tenant.slug == slug)) or abort(404)


@bp.get("/")
@hub(HUB_ADMIN, CONTACT_CENTRE)
def overview():
    if g.hub_membership.role != HUB_ADMIN:
        return render_template("hub/overview.html", figures=None)
    members = _all_members()
    with across_members("hub.overview", "members") as session:
        figures = statistics.overview(session, members, swedish_today())
        session.commit()
    return render_template("hub/overview.html", figures=figures)


def _render_onboarding(values: dict, chosen: list[str], errors: dict, code: int = 200):
    return render_template(
        "hub/members_new.html",
        values=values,
        chosen=chosen,
        errors=errors,
        choices=operations.service_choices(db.session),  # the catalogue is shared
    ), code


@bp.route("/medlemmar/ny", methods=["GET", "POST"])
@hub(HUB_ADMIN)
def onboard():
    if request.method == "GET":
        values = {"kind": "municipality", "member_since": swedish_today().isoformat()}
        return _render_onboarding(values, [], {})
    entered = {name: request.form.get(name, "") for name in ONBOARDING_FIELDS}
    chosen = request.form.getlist("services")
    try:
        data = OnboardingSchema(exclude=ONBOARDING_EXCLUDE).load(entered)
    except ValidationError as exc:
        return _render_onboarding(entered, chosen, exc.messages, 422)
    with across_members(
        "hub.member_onboarded", data["slug"], detail={"services": sorted(chosen)}
    ) as session:
        try:
            member = operations.onboard_member(session, data, chosen, today=swedish_today())
        except operations.HubError as exc:
            session.rollback()
            return _render_onboarding(entered, chosen, exc.errors, 422)
        name = member.name
        session.commit()
    flash(f"{name} är ny medlem.")
    return redirect(url_for(".overview", _anchor=f"medlem-{data['slug']}"), 303)


def _render_facts(target: Tenant, values: dict, errors: dict, code: int = 200):
    return render_template(
        "hub/members_facts.html",
        member=target,
        values=values,
        errors=errors,
        from_file=_from_file(target),
    ), code


def _from_file(member: Tenant) -> bool:
    """Its facts are its file's in tenants/ (the sync writes them from there)."""
    return (Path(current_app.config["TENANTS_DIR"]) / f"{member.slug}.toml").is_file()


@bp.route("/medlemmar/<slug:member>/uppgifter", methods=["GET", "POST"])
@hub(HUB_ADMIN)
def member_facts(member: str):
    """A member's organisation number and population, corrected or brought up to a new
    SCB year (cost sharing by population reads them)."""
    target = _member_or_404(member)
    if request.method == "GET":
        values = {name: getattr(target, name) for name in MEMBER_FACTS_FIELDS}
        return _render_facts(target, {k: "" if v is None else v for k, v in values.items()}, {})
    entered = {name: request.form.get(name, "") for name in MEMBER_FACTS_FIELDS}
    try:
        data = MemberFactsSchema().load(entered)
    except ValidationError as exc:
        return _render_facts(target, entered, exc.messages, 422)
    changes = operations.facts_changes(target, data)
    if not changes:
        flash(f"Inget ändrades för {target.name}.")
        return redirect(url_for(".member_facts", member=target.slug), 303)
    with across_members(
        "hub.member_facts_changed", target.slug, member=target, detail={"changes": changes}
    ) as session:
        try:
            operations.change_member_facts(
                session, session.get(Tenant, target.id), data, from_file=_from_file(target)
            )
        except operations.HubError as exc:
            session.rollback()
            return _render_facts(target, entered, exc.errors, 422)
        session.commit()
    flash(f"{target.name}s uppgifter är sparade.")
    return redirect(url_for(".overview", _anchor=f"medlem-{target.slug}"), 303)


def _render_offboarding(target: Tenant, errors: dict, code: int = 200):
    """The member's leaving page: reads its log and cases, so it is an audited read."""
    with across_members("hub.member_viewed", target.slug, member=target) as session:
        html = render_template(
            "hub/members_offboard.html",
            member=target,
            exported_at=operations.last_export_at(session, target),
            changed_at=operations.last_change_at(session, target),
            case_count=operations.case_count(session, target),
            errors=errors,
        )
        session.commit()
    return html, code


@bp.get("/medlemmar/<slug:member>/avsluta")
@hub(HUB_ADMIN)
def offboard(member: str):
    return _render_offboarding(_member_or_404(member), {})


@bp.post("/medlemmar/<slug:member>/avsluta")
@hub(HUB_ADMIN)
def close(member: str):
    target = _member_or_404(member)
    confirmed = request.form.get("confirm") == "ja"
    errors = None
    with across_members("hub.member_offboarded", target.slug, member=target) as session:
        try:
            operations.close_member(session, target, confirmed, today=swedish_today())
        except operations.HubError as exc:
            session.rollback()
            errors = exc.errors
        else:
            session.commit()
    if errors:
        return _render_offboarding(target, errors, 422)
    flash(f"{target.name} är avslutad. Ärendena kan läsas tills de gallras.")
    return redirect(url_for(".offboard", member=target.slug), 303)


@bp.get("/medlemmar/<slug:member>/export.zip")
@hub(HUB_ADMIN)
def export(member: str):
    """The member's data as a zip archive, written to a temporary file (never all in
    memory) and sent from there; the export is logged only once the archive is whole."""
    target = _member_or_404(member)
    out = tempfile.TemporaryFile()  # noqa: SIM115 - send_file closes it when sent
    try:
        with across_members("hub.member_exported", target.slug, member=target) as session:
            archive.write_archive(
                session,
                target,
                Path(current_app.config["UPLOAD_ROOT"]),
                out,
                exported_by=current_user.email,
                now=utcnow(),
            )
            session.commit()
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return send_file(
        out,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"{target.slug}-export-{swedish_today().isoformat()}.zip",
        max_age=0,
    )


def _render_versions(errors: dict, entered: dict, failed: str | None, code: int = 200):
    members = _all_members()
    detail = {"refused_move": failed} if failed else None
    with across_members("hub.versions_viewed", "catalogue", detail=detail) as session:
        html = render_template(
            "hub/versions.html",
            services=statistics.service_versions(session, members),
            errors=errors,
            entered=entered,
            failed=failed,
        )
        session.commit()
    return html, code


@bp.get("/e-tjanster")
@hub(HUB_ADMIN)
def versions():
    return _render_versions({}, {}, None)


@bp.post("/e-tjanster/<slug:service>/flytta")
@hub(HUB_ADMIN)
def move_versions(service: str):
    if service not in operations.latest_definitions(db.session):
        abort(404)
    entered = {
        "version": request.form.get("version") or None,
        "members": request.form.getlist("members"),
    }
    try:
        data = MoveSchema().load(entered)
    except ValidationError as exc:
        return _render_versions(exc.messages, entered, service, 422)
    errors = None
    with across_members(
        "hub.versions_moved",
        f"{service} v{data['version']}",
        detail={"members": sorted(data["members"])},
    ) as session:
        try:
            move = operations.move_members(session, service, data["version"], data["members"])
        except operations.HubError as exc:
            session.rollback()
            errors = exc.errors
        else:
            names = [m.name for m in move.members]
            title = operations.title_of(move.definition)
            session.commit()
    if errors:
        return _render_versions(errors, entered, service, 422)
    if names:
        flash(f"{', '.join(names)} använder nu version {data['version']} av {title}.")
    else:
        flash(f"Alla valda medlemmar använde redan version {data['version']} av {title}.")
    return redirect(url_for(".versions", _anchor=f"tjanst-{service}"), 303)


@bp.route("/tvastegsverifiering", methods=["GET", "POST"])
@hub(HUB_ADMIN, CONTACT_CENTRE)
@two_factor_guesses
def two_factor():
    """The hub's staff hold the widest rights: their second factor, in the hub's frame."""
    return two_factor_page(
        "hub.two_factor", lambda **page: render_template("hub/two_factor.html", **page)
    )


from samverkan.hub import contact, costs_views, log  # noqa: E402,F401
