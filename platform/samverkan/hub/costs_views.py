"""The hub's cost sharing pages at /hub/kostnader: a period's pools (entered, edited,
removed), running an allocation, the stored runs with every member's statement, the SIE
file of the hub's invoices, and two keys compared side by side.

Pools and runs are the hub's own rows and are read with the request's session. Every
write, and every read of members' cases (usage counts), goes through `across_members`.
"""

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import exc as sa_exc

from samverkan.access import hub
from samverkan.accounts.models import HUB_ADMIN
from samverkan.catalogue.models import ServiceDefinition
from samverkan.clock import swedish_today
from samverkan.costs import allocation, runs, sie, statements
from samverkan.costs.membership import membership_text, shares_by_default
from samverkan.costs.models import CATEGORIES, KEYS, AllocationRun, CostPool
from samverkan.costs.runs import period_bounds
from samverkan.extensions import db
from samverkan.hub import costs_chart, costs_fields, costs_forms, costs_operations
from samverkan.hub.across import across_members
from samverkan.hub.views import bp
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.queries import swedish_sort_key

POOL_LABELS = {
    "period": "Period",
    "name": "Namn",
    "category": "Vad poolen betalar för",
    "description": "Beskrivning",
    "amount": "Belopp",
    "key_kind": "Fördelningsnyckel",
    "equal_percent": "Del som delas lika",
    "rest": "Resten fördelas efter",
    "population_year": "Folkmängd per år",
    "usage_service": "Ärenden i e-tjänst",
    "pro_rata": "Pro rata",
    "participants": "Deltagare",
}
FIGURE_LABELS = {
    "percentage": "procentsats",
    "population": "folkmängd",
    "joined_on": "inträde",
    "left_on": "utträde",
}


def _period_or_default() -> tuple[str, dict]:
    """The period asked for in ?period=, or this year; and an error for a malformed one."""
    period = (request.args.get("period") or "").strip()
    if not period:
        return str(swedish_today().year), {}
    try:
        costs_fields.valid_period(period)
    except ValidationError as exc:
        return period, {"period": exc.messages}
    return period, {}


def _pools(period: str) -> list[CostPool]:
    return list(
        db.session.scalars(
            sa.select(CostPool).where(CostPool.period == period).order_by(CostPool.name)
        )
    )


def _runs(period: str) -> list[AllocationRun]:
    return list(
        db.session.scalars(
            sa.select(AllocationRun)
            .where(AllocationRun.period == period)
            .order_by(AllocationRun.id.desc())
        )
    )


def _pool_key_label(pool: CostPool) -> str:
    """The pool's key in words, as a run will state it."""
    settings = pool.key_settings or {}
    return statements.key_label(
        {
            "kind": pool.key_kind,
            "equal_percent": settings.get("equal_percent"),
            "rest": settings.get("rest"),
            "population_year": settings.get("year"),
            "service": settings.get("service"),
            "pro_rata": pool.pro_rata,
        }
    )


def _run_totals(found: list[AllocationRun]) -> dict[int, int]:
    """Each run's total in öre (the sum of its pools, which is the sum of its shares)."""
    return {r.id: sum(p["amount_ore"] for p in r.inputs["pools"]) for r in found}


def _render_pools(period: str, errors: dict | None = None, problems=None, code: int = 200):
    found = _pools(period) if not errors else []
    stored = _runs(period) if not errors else []
    return (
        render_template(
            "hub/costs_pools.html",
            period=period,
            pools=found,
            total=sum(p.amount_ore for p in found),
            stored_runs=stored,
            run_totals=_run_totals(stored),
            out_of_date=bool(stored) and runs.pools_changed_since(db.session, stored[0]),
            categories=CATEGORIES,
            key_label=_pool_key_label,
            errors=errors or {},
            problems=problems or [],
            **_money(),
        ),
        code,
    )


@bp.get("/kostnader")
@hub(HUB_ADMIN)
def costs():
    period, errors = _period_or_default()
    return _render_pools(period, errors, code=422 if errors else 200)


@bp.post("/kostnader/kor")
@hub(HUB_ADMIN)
def costs_run_allocation():
    period = (request.form.get("period") or "").strip()
    try:
        costs_fields.valid_period(period)
    except ValidationError as exc:
        return _render_pools(period, {"period": exc.messages}, code=422)
    try:
        logged = {"period": period}
        with across_members(
            "costs.allocated", period, detail=logged, logged_at_commit=True
        ) as session:
            stored = runs.run(session, period, created_by=current_user.email)
            run_id = logged["run"] = stored.id
            session.commit()
    except runs.RunError as exc:
        return _render_pools(period, problems=exc.problems, code=422)
    flash(f"Fördelningen för {period} är körd och sparad.")
    return redirect(url_for("hub.costs_run", run_id=run_id), 303)


# -- pools ---------------------------------------------------------------------------------


def _members(pool: CostPool | None = None) -> list[Tenant]:
    """Who may be chosen: every member there is or was (a pool of an earlier period may
    need one that has left); the form refuses one that was no member in the pool's period."""
    found = db.session.scalars(sa.select(Tenant))
    return sorted(found, key=lambda t: swedish_sort_key(t.name))


def _services() -> dict[str, str]:
    """E-service slug → its title (the newest version's)."""
    titles = {}
    for slug, content in db.session.execute(
        sa.select(ServiceDefinition.slug, ServiceDefinition.content).order_by(
            ServiceDefinition.slug, ServiceDefinition.version
        )
    ):
        titles[slug] = content["title"]["sv"]
    return dict(sorted(titles.items(), key=lambda item: item[1]))


def _render_form(pool, members, entered, chosen, errors=None, code=200):
    labels = dict(POOL_LABELS)
    for m in members:
        for name, label in FIGURE_LABELS.items():
            labels[costs_forms.field_name(name, m.slug)] = f"{m.name}, {label}"
    return (
        render_template(
            "hub/costs_pool_form.html",
            pool=pool,
            members=members,
            entered=entered,
            chosen=set(chosen),
            errors=errors or {},
            labels=labels,
            categories=CATEGORIES,
            keys=KEYS,
            services=_services(),
            field_name=costs_forms.field_name,
            membership_text=membership_text,
            today=swedish_today(),
            **_money(),
        ),
        code,
    )


def _pool_or_404(pool_id: int) -> CostPool:
    return db.session.get(CostPool, pool_id) or abort(404)


@bp.get("/kostnader/ny")
@hub(HUB_ADMIN)
def costs_new_pool():
    period, errors = _period_or_default()
    members = _members()
    entered = {
        "period": "" if errors else period,
        "category": "platform",
        "key_kind": "equal",
    }
    chosen = []
    if not errors:  # the municipalities that were members in the period; a region when named
        start, end = period_bounds(period)
        chosen = [m.slug for m in members if shares_by_default(m, start, end)]
    return _render_form(None, members, entered, chosen)


@bp.get("/kostnader/pool/<int:pool_id>")
@hub(HUB_ADMIN)
def costs_edit_pool(pool_id: int):
    pool = _pool_or_404(pool_id)
    entered, chosen = costs_forms.pool_entered(pool)
    return _render_form(pool, _members(pool), entered, chosen)


@bp.post("/kostnader/ny")
@hub(HUB_ADMIN)
def costs_create_pool():
    return _save(None)


@bp.post("/kostnader/pool/<int:pool_id>")
@hub(HUB_ADMIN)
def costs_save_pool(pool_id: int):
    return _save(_pool_or_404(pool_id))


def _save(pool: CostPool | None):
    members = _members(pool)
    form = costs_forms.read_pool_form(request.form, members, set(_services()))
    if form.errors:
        return _render_form(pool, members, form.entered, form.chosen, form.errors, 422)
    data = form.data
    detail = {
        "change": "updated" if pool else "created",
        "period": data["period"],
        "name": data["name"],
        "amount_ore": data["amount_ore"],
        "key": data["key_kind"],
        "key_settings": data["key_settings"],
        "participants": sorted(data["participants"]),
    }
    if pool is not None:
        detail["before"] = costs_operations.summary(pool)
    try:
        with across_members(
            "costs.pools_changed", f"{data['period']}: {data['name']}", detail=detail
        ) as session:
            target = None
            if pool is not None:
                target = session.get(CostPool, pool.id) or abort(404)
            saved = costs_operations.save_pool(session, target, data)
            period = saved.period
            problem = runs.pool_problem(session, saved)
            session.commit()
    except costs_operations.PoolError as exc:
        errors = {exc.field: [exc.message]}
        return _render_form(pool, members, form.entered, form.chosen, errors, 422)
    except sa_exc.IntegrityError:  # the same name saved at the same moment in another tab
        errors = {
            "name": [f"Det finns redan en pool som heter {data['name']} för {data['period']}."]
        }
        return _render_form(pool, members, form.entered, form.chosen, errors, 422)
    if problem:
        # Saved all the same: figures are often entered before the committee has agreed
        # them all, but the hub hears now, not when the period is run.
        flash(f"Poolen {data['name']} är sparad, men den kan inte fördelas än: {problem}")
    else:
        flash(f"Poolen {data['name']} är sparad.")
    return redirect(url_for("hub.costs", period=period), 303)


@bp.get("/kostnader/pool/<int:pool_id>/ta-bort")
@hub(HUB_ADMIN)
def costs_confirm_pool_removal(pool_id: int):
    return render_template(
        "hub/costs_pool_delete.html", pool=_pool_or_404(pool_id), keys=KEYS, **_money()
    )


@bp.post("/kostnader/pool/<int:pool_id>/ta-bort")
@hub(HUB_ADMIN)
def costs_remove_pool(pool_id: int):
    pool = _pool_or_404(pool_id)
    detail = {"change": "deleted", **costs_operations.summary(pool)}
    with across_members(
        "costs.pools_changed", f"{pool.period}: {pool.name}", detail=detail
    ) as session:
        target = session.get(CostPool, pool_id) or abort(404)
        period, name = target.period, target.name
        costs_operations.delete_pool(session, target)
        session.commit()
    flash(f"Poolen {name} är borttagen. Sparade körningar påverkas inte.")
    return redirect(url_for("hub.costs", period=period), 303)


# -- runs and statements -------------------------------------------------------------------


def _run_or_404(run_id: int) -> AllocationRun:
    return db.session.get(AllocationRun, run_id) or abort(404)


def _attachment(body: str | bytes, content_type: str, filename: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/kostnader/korning/<int:run_id>")
@hub(HUB_ADMIN)
def costs_run(run_id: int):
    stored = _run_or_404(run_id)
    rows = statements.run_table(stored)
    pools = sorted(stored.inputs["pools"], key=lambda p: (p["name"], p["pool_id"]))
    members = statements.member_totals(stored)
    cells = {(row.tenant_id, row.pool_id): row for row in rows}
    pool_sums = {p["pool_id"]: 0 for p in pools}
    for row in rows:
        pool_sums[row.pool_id] += row.amount_ore
    is_latest = runs.latest_run(db.session, stored.period).id == stored.id
    return render_template(
        "hub/costs_run.html",
        run=stored,
        pools=pools,
        members=members,
        cells=cells,
        pool_sums=pool_sums,
        total=sum(p["amount_ore"] for p in pools),
        shares_total=sum(row.amount_ore for row in rows),
        is_latest=is_latest,
        out_of_date=is_latest and runs.pools_changed_since(db.session, stored),
        key_label=statements.key_label,
        **_money(),
    )


@bp.get("/kostnader/korning/<int:run_id>.csv")
@hub(HUB_ADMIN)
def costs_run_csv(run_id: int):
    stored = _run_or_404(run_id)
    filename = f"kostnadsfordelning-{stored.period}-korning-{stored.id}.csv"
    return _attachment(statements.run_csv(stored), "text/csv; charset=utf-8", filename)


@bp.get("/kostnader/korning/<int:run_id>.se")
@hub(HUB_ADMIN)
def costs_run_sie(run_id: int):
    stored = _run_or_404(run_id)
    body = sie.sie_for_run(stored, g.hub, current_app.config)
    # text/plain: SIE is tagged text; the charset says how a browser should show it.
    return _attachment(body, "text/plain; charset=cp437", sie.sie_filename(stored))


def _statement_or_404(run_id: int, member: str) -> statements.Statement:
    stored = _run_or_404(run_id)
    share = next((s for s in stored.shares if s.tenant_slug == member), None)
    if share is None:  # not a participant in this run
        abort(404)
    return statements.member_statement(stored, share.tenant_id)


@bp.get("/kostnader/korning/<int:run_id>/<slug:member>")
@hub(HUB_ADMIN)
def costs_statement(run_id: int, member: str):
    statement = _statement_or_404(run_id, member)
    # Who invoiced, as the run kept it (as its SIE file says): a hub renamed since does
    # not change an old statement. Runs from before it was kept: today's hub.
    issuer = (_run_or_404(run_id).inputs.get("invoicing") or {}).get("issuer") or {
        "name": g.hub.name,
        "orgnr": g.hub.orgnr,
    }
    return render_template(
        "hub/costs_statement.html",
        statement=statement,
        issuer=issuer,
        # The hub's own share is not invoiced (the SIE file leaves it out): it bears it.
        own_share=statement.tenant_id == g.hub.id,
        **_money(),
    )


@bp.get("/kostnader/korning/<int:run_id>/<slug:member>.csv")
@hub(HUB_ADMIN)
def costs_statement_csv(run_id: int, member: str):
    statement = _statement_or_404(run_id, member)
    return _attachment(
        statements.statement_csv(statement),
        "text/csv; charset=utf-8",
        statements.statement_filename(statement, "csv"),
    )


# -- two keys compared ---------------------------------------------------------------------


@bp.get("/kostnader/jamfor")
@hub(HUB_ADMIN)
def costs_compare():
    defaults = {
        "period": str(swedish_today().year),
        "amount": "1 000 000,00",
        "a": "equal",
        "b": "population",
        "equal_percent": "30",
        "rest": "population",
    }
    # Asked when a key is chosen: the costs page links here with its period alone.
    asked = "a" in request.args or "b" in request.args
    # The hybrid settings keep their defaults unless given; the rest is as asked.
    entered = {
        name: request.args.get(name, "" if asked and name not in HYBRID_DEFAULTS else default)
        for name, default in defaults.items()
    }
    if not asked and request.args.get("period"):
        entered["period"] = request.args["period"]
    context = {"entered": entered, "keys": costs_forms.COMPARABLE, "errors": {}, "rows": None}
    if not asked:
        return render_template("hub/costs_compare.html", **context, **_money())
    try:
        data = costs_forms.CompareSchema().load(entered)
    except ValidationError as exc:
        context["errors"] = exc.messages
        return render_template("hub/costs_compare.html", **context, **_money()), 422
    # A hybrid setting left empty took its default: the form shows what was used.
    entered.update(equal_percent=data["equal_percent"].replace(".", ","), rest=data["rest"])
    key_a = costs_forms.CompareSchema.key(data, "a")
    key_b = costs_forms.CompareSchema.key(data, "b")
    start, end = period_bounds(data["period"])
    member_ids = [
        t.id for t in db.session.scalars(sa.select(Tenant)) if shares_by_default(t, start, end)
    ]
    detail = {
        "period": data["period"],
        "amount_ore": data["amount"],
        "a": data["a"],
        "b": data["b"],
    }
    try:
        with across_members("costs.counted", data["period"], detail=detail) as session:
            compared = statements.compare_keys(
                session, data["period"], data["amount"], member_ids, key_a, key_b
            )
            # Plain values: the session's objects are gone once it closes.
            rows = [(c.tenant.name, c.ore_a, c.ore_b, c.difference) for c in compared]
            session.commit()
    except allocation.AllocationError as exc:
        field = "period" if exc.field == "participants" else getattr(exc, "which", "a")
        context["errors"] = {field: [exc.message]}
        return render_template("hub/costs_compare.html", **context, **_money()), 422
    label_a = statements.key_label(_key_json(key_a))
    label_b = statements.key_label(_key_json(key_b))
    chart = costs_chart.comparison_chart(
        [(name, a, b) for name, a, b, _ in rows], statements.kronor, label_a, label_b
    )
    context.update(
        rows=rows,
        label_a=label_a,
        label_b=label_b,
        chart=chart,
        amount_ore=data["amount"],
        period=data["period"],
    )
    return render_template("hub/costs_compare.html", **context, **_money())


HYBRID_DEFAULTS = ("equal_percent", "rest")


def _key_json(key: allocation.Key) -> dict:
    """A key as statements.key_label reads a stored one."""
    return {"kind": key.kind, "equal_percent": key.equal_percent, "rest": key.rest}


def _money() -> dict:
    return {
        "kronor": statements.kronor,
        "amount_text": statements.amount_text,
        "thousands": statements.grouped,
    }
