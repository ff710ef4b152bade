"""The allocation engine: exact shares in whole öre that always sum to the pool, checked as
properties over any pool and key, on the edge cases one by one, against FACTS' worked
examples, and as stored runs that reproduce and cannot be changed."""

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samverkan.cases.models import Case
from samverkan.costs import allocation, runs
from samverkan.costs.allocation import (
    EQUAL,
    HYBRID,
    PERCENTAGES,
    POPULATION,
    USAGE,
    AllocationError,
    Key,
    Participant,
    allocate,
)
from samverkan.costs.models import AllocationRun, AllocationShare, CostPool, PoolParticipant
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.hub.across import across_members
from samverkan.tenancy.models import Tenant

# FACTS: the 16 members, SCB code and population 31 December 2023.
MEMBERS_2023 = {
    "1715": ("Kils kommun", 12085),
    "1730": ("Eda kommun", 8499),
    "1737": ("Torsby kommun", 11387),
    "1760": ("Storfors kommun", 3801),
    "1761": ("Hammarö kommun", 16940),
    "1762": ("Munkfors kommun", 3669),
    "1763": ("Forshaga kommun", 11538),
    "1764": ("Grums kommun", 9057),
    "1765": ("Årjängs kommun", 9893),
    "1766": ("Sunne kommun", 13366),
    "1780": ("Karlstads kommun", 97233),
    "1781": ("Kristinehamns kommun", 23817),
    "1782": ("Filipstads kommun", 10034),
    "1783": ("Hagfors kommun", 11536),
    "1784": ("Arvika kommun", 25682),
    "1785": ("Säffle kommun", 15011),
}
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def members(**figures) -> list[Participant]:
    return [
        Participant(key=code, name=name, population=population, **figures)
        for code, (name, population) in MEMBERS_2023.items()
    ]


def amounts(shares) -> dict[str, int]:
    return {share.key: share.amount_ore for share in shares}


# -- Properties over any pool and any key -------------------------------------------------


@st.composite
def pools(draw, kinds=(EQUAL, POPULATION, USAGE, PERCENTAGES, HYBRID)):
    """A pool: an amount, participants with figures, and a key with its settings."""
    size = draw(st.integers(1, 24))
    codes = draw(
        st.lists(
            st.text("0123456789", min_size=4, max_size=4), min_size=size, max_size=size, unique=True
        )
    )
    positive_sum = st.lists(st.integers(0, 250_000), min_size=size, max_size=size).filter(
        lambda values: sum(values) > 0
    )
    populations, usages = draw(positive_sum), draw(positive_sum)
    # Percentages in hundredths that sum to exactly 100 %.
    parts = draw(positive_sum)
    hundredths = [part * 10_000 // sum(parts) for part in parts]
    hundredths[0] += 10_000 - sum(hundredths)
    percentages = [f"{h // 100}.{h % 100:02d}" for h in hundredths]
    kind = draw(st.sampled_from(kinds))
    pro_rata = draw(st.booleans())
    period_days = draw(st.sampled_from([28, 30, 31, 365, 366]))
    days = draw(
        st.lists(st.integers(0, period_days), min_size=size, max_size=size).filter(any)
        if pro_rata
        else st.just([None] * size)
    )
    key = Key(
        kind=kind,
        equal_percent=draw(st.integers(0, 1000).map(lambda x: f"{x // 10}.{x % 10}")),
        rest=draw(st.sampled_from([POPULATION, USAGE])),
        pro_rata=pro_rata,
        period_days=period_days,
    )
    participants = [
        Participant(f"{code}", f"Medlem {code}", population, usage, percent, day)
        for code, population, usage, percent, day in zip(
            codes, populations, usages, percentages, days, strict=True
        )
    ]
    amount = draw(st.one_of(st.integers(0, 100), st.integers(0, 10**13)))
    return amount, participants, key


def expected_weights(participants: list[Participant], key: Key) -> dict[str, Fraction]:
    """The weights worked out again, independently of the engine, from the key's definition."""
    n = len(participants)

    def proportional(figure):
        total = sum(getattr(p, figure) for p in participants)
        return {p.key: Fraction(getattr(p, figure), total) for p in participants}

    if key.kind == EQUAL:
        base = {p.key: Fraction(1, n) for p in participants}
    elif key.kind in (POPULATION, USAGE):
        base = proportional(key.kind)
    elif key.kind == PERCENTAGES:
        base = {p.key: Fraction(Decimal(p.percentage)) / 100 for p in participants}
    else:
        equal = Fraction(Decimal(key.equal_percent)) / 100
        rest = proportional(key.rest)
        base = {p.key: equal / n + (1 - equal) * rest[p.key] for p in participants}
    if key.pro_rata:
        base = {p.key: base[p.key] * Fraction(p.days, key.period_days) for p in participants}
        total = sum(base.values())
        base = {k: v / total for k, v in base.items()}
    return base


def weights_and_shares(pool):
    """The reference weights and the engine's shares; None when there is nothing to split
    by (every participant that took part some day weighs 0), which the engine must refuse."""
    amount, participants, key = pool
    try:
        weights = expected_weights(participants, key)
    except ZeroDivisionError:
        with pytest.raises(AllocationError):
            allocate(amount, participants, key)
        return None
    return weights, allocate(amount, participants, key)


@PROPERTY_SETTINGS
@given(pools())
def test_shares_sum_exactly_to_the_pool_and_each_is_within_one_ore_of_exact(pool):
    amount = pool[0]
    allocated = weights_and_shares(pool)
    if allocated is None:
        return
    weights, shares = allocated
    assert sum(share.amount_ore for share in shares) == amount
    assert sum(share.weight for share in shares) == 1
    for share in shares:
        exact = amount * weights[share.key]
        assert share.weight == weights[share.key]
        assert share.exact_ore == exact
        assert abs(share.amount_ore - exact) < 1


@PROPERTY_SETTINGS
@given(pools())
def test_the_leftover_ore_go_to_the_largest_remainders(pool):
    amount, participants, key = pool
    try:
        shares = allocate(amount, participants, key)
    except AllocationError:
        return
    remainder = {
        s.key: s.exact_ore - (s.exact_ore.numerator // s.exact_ore.denominator) for s in shares
    }
    rounded_up = [s for s in shares if s.amount_ore > s.exact_ore]
    rounded_down = [s for s in shares if s.amount_ore <= s.exact_ore]
    for up in rounded_up:
        for down in rounded_down:
            assert remainder[up.key] >= remainder[down.key]
            if remainder[up.key] == remainder[down.key]:  # the tie-break: the lower code first
                assert up.key < down.key


@PROPERTY_SETTINGS
@given(pools(kinds=(EQUAL,)).filter(lambda pool: not pool[2].pro_rata))
def test_equal_shares_differ_by_at_most_one_ore(pool):
    amount, participants, key = pool
    shares = amounts(allocate(amount, participants, key)).values()
    assert max(shares) - min(shares) <= 1
    assert min(shares) == amount // len(participants)


@PROPERTY_SETTINGS
@given(pools(), st.randoms(use_true_random=False))
def test_the_result_does_not_depend_on_the_order_participants_are_listed_in(pool, random):
    amount, participants, key = pool
    shuffled = list(participants)
    random.shuffle(shuffled)
    try:
        first = allocate(amount, participants, key)
    except AllocationError as exc:
        with pytest.raises(AllocationError) as again:
            allocate(amount, shuffled, key)
        assert (again.value.field, again.value.message) == (exc.field, exc.message)
        return
    assert allocate(amount, shuffled, key) == first
    assert [share.key for share in first] == sorted(p.key for p in participants)


def reference_shares(amount: int, weights: dict[str, Fraction]) -> dict[str, int]:
    """The largest-remainder split done the plain way, in Fractions, to hold the engine's
    whole-number arithmetic to: floors, then one öre each by remainder, ties to the lower
    key."""
    exact = {k: amount * w for k, w in weights.items()}
    floors = {k: v.numerator // v.denominator for k, v in exact.items()}
    left = amount - sum(floors.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - floors[k]), k))[:left]:
        floors[k] += 1
    return floors


@st.composite
def tied_pools(draw):
    """Pools where many remainders are equal: the same figure for several participants."""
    amount, participants, key = draw(pools(kinds=(EQUAL, POPULATION, USAGE, HYBRID)))
    same = draw(st.integers(1, 5))
    participants = [
        Participant(p.key, p.name, same, same, p.percentage, p.days) for p in participants
    ]
    return amount, participants, key


@PROPERTY_SETTINGS
@given(st.one_of(pools(), tied_pools()))
def test_the_whole_number_arithmetic_gives_exactly_the_shares_of_plain_fractions(pool):
    amount = pool[0]
    allocated = weights_and_shares(pool)
    if allocated is None:
        return
    weights, shares = allocated
    assert amounts(shares) == reference_shares(amount, weights)
    assert {s.key: s.weight for s in shares} == weights
    assert {s.key: s.exact_ore for s in shares} == {k: amount * w for k, w in weights.items()}
    assert [s.key for s in shares] == sorted(weights)


# -- FACTS' worked checks ------------------------------------------------------------------


def test_a_million_kronor_by_2023_population_gives_karlstad_and_munkfors_what_facts_says():
    shares = allocate(100_000_000, members(), Key(kind=POPULATION))
    by_code = amounts(shares)
    assert sum(by_code.values()) == 100_000_000
    assert by_code["1780"] == 34_291_548  # Karlstad 342 915,48 kr
    assert by_code["1762"] == 1_293_961  # Munkfors 12 939,61 kr
    floors = sum(share.exact_ore.numerator // share.exact_ore.denominator for share in shares)
    assert 100_000_000 - floors == 7  # "leaves 7 öre to hand out"


def test_one_krona_equally_sixteen_ways_gives_twelve_members_6_ore_and_four_7():
    by_code = amounts(allocate(100, members(), Key(kind=EQUAL)))
    assert sorted(by_code.values()) == [6] * 12 + [7] * 4
    # The fixed tie-break: the four lowest SCB codes (Kil, Eda, Torsby, Storfors).
    assert {code for code, ore in by_code.items() if ore == 7} == {"1715", "1730", "1737", "1760"}


# -- Edge cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [EQUAL, POPULATION])
def test_a_pool_of_0_kr_gives_everyone_0(kind):
    shares = allocate(0, members(), Key(kind=kind))
    assert set(amounts(shares).values()) == {0}
    assert sum(share.weight for share in shares) == 1


def test_a_pool_of_one_ore_goes_to_one_member_by_the_key():
    assert [c for c, ore in amounts(allocate(1, members(), Key(kind=EQUAL))).items() if ore] == [
        "1715"  # equal remainders: the lowest SCB code
    ]
    by_population = amounts(allocate(1, members(), Key(kind=POPULATION)))
    assert [c for c, ore in by_population.items() if ore] == ["1780"]  # the largest remainder


@pytest.mark.parametrize("kind", [EQUAL, POPULATION, USAGE])
def test_one_participant_pays_the_whole_pool(kind):
    shares = allocate(
        123_456, [Participant("1784", "Arvika", population=25682, usage=3)], Key(kind)
    )
    assert [(s.key, s.weight, s.amount_ore) for s in shares] == [("1784", 1, 123_456)]


def test_a_participant_with_population_0_pays_nothing_and_the_others_share_the_pool():
    people = [
        Participant("1715", "Kil", population=12085),
        Participant("1762", "Munkfors", population=0),
        Participant("1780", "Karlstad", population=97233),
    ]
    by_code = amounts(allocate(1_000_000, people, Key(kind=POPULATION)))
    assert by_code["1762"] == 0
    assert by_code["1715"] + by_code["1780"] == 1_000_000


def test_a_population_key_where_every_figure_is_0_is_a_clear_error():
    people = [
        Participant("1715", "Kil", population=0),
        Participant("1762", "Munkfors", population=0),
    ]
    with pytest.raises(AllocationError) as error:
        allocate(100, people, Key(kind=POPULATION))
    assert error.value.field == "population"
    assert "Ingen deltagare har någon folkmängd" in error.value.message


def test_a_missing_population_figure_names_the_member():
    people = [Participant("1715", "Kils kommun", population=None)]
    with pytest.raises(AllocationError, match="Kils kommun saknar folkmängd"):
        allocate(100, people, Key(kind=POPULATION))


def test_a_usage_key_in_a_period_with_no_cases_is_a_clear_error():
    with pytest.raises(AllocationError) as error:
        allocate(100_000, members(usage=0), Key(kind=USAGE))
    assert error.value.field == "usage"
    assert error.value.message == (
        "Ingen deltagare har några ärenden under perioden att fördela efter; välj en annan nyckel."
    )


def test_a_hybrid_key_with_no_cases_still_splits_if_the_whole_pool_is_equal():
    shares = allocate(1600, members(usage=0), Key(HYBRID, equal_percent="100", rest=USAGE))
    assert set(amounts(shares).values()) == {100}


def test_a_member_joining_on_the_last_day_pays_one_day_when_the_pool_is_pro_rata():
    people = [Participant("1715", "Kil", days=365), Participant("1795", "Ny medlem", days=1)]
    pro_rata = amounts(allocate(366, people, Key(EQUAL, pro_rata=True, period_days=365)))
    assert pro_rata == {"1715": 365, "1795": 1}
    # Without pro rata the pool says a participant is a participant: equal halves.
    assert amounts(allocate(366, people, Key(EQUAL))) == {"1715": 183, "1795": 183}


def test_days_outside_the_period_are_a_clear_error():
    people = [Participant("1715", "Kil", days=366)]
    with pytest.raises(AllocationError, match="366 dagar ryms inte i periodens 365"):
        allocate(100, people, Key(EQUAL, pro_rata=True, period_days=365))


@pytest.mark.parametrize(
    ("percentages", "shown"), [(["60", "39.5"], "99,5 %"), (["60", "40,01"], "100,01 %")]
)
def test_a_percentage_key_that_does_not_sum_to_100_is_a_clear_error(percentages, shown):
    people = [
        Participant(code, code, percentage=p)
        for code, p in zip(["1715", "1780"], percentages, strict=True)
    ]
    with pytest.raises(AllocationError) as error:
        allocate(100, people, Key(kind=PERCENTAGES))
    assert error.value.field == "percentage"
    assert error.value.message == f"Procentsatserna summerar till {shown}, inte 100 %."


def test_a_percentage_key_with_a_missing_or_bad_figure_names_it():
    with pytest.raises(AllocationError, match="Kils kommun saknar procentsats"):
        allocate(100, [Participant("1715", "Kils kommun")], Key(kind=PERCENTAGES))
    with pytest.raises(AllocationError, match="'sex' är inte en procentsats"):
        allocate(100, [Participant("1715", "Kil", percentage="sex")], Key(kind=PERCENTAGES))


@pytest.mark.parametrize(
    ("key", "field"),
    [
        (Key(HYBRID, equal_percent="120", rest=POPULATION), "equal_percent"),
        (Key(HYBRID, equal_percent=None, rest=POPULATION), "equal_percent"),
        (Key(HYBRID, equal_percent="30", rest="antal datorer"), "rest"),
        (Key("efter humör"), "key"),
        (Key(EQUAL, pro_rata=True, period_days=None), "period"),
    ],
)
def test_a_badly_set_key_names_the_setting_to_correct(key, field):
    with pytest.raises(AllocationError) as error:
        allocate(100, members(), key)
    assert error.value.field == field


def test_amounts_must_be_whole_non_negative_ore():
    with pytest.raises(AllocationError, match="helt antal öre"):
        allocate(10.5, members(), Key(EQUAL))
    with pytest.raises(AllocationError, match="negativt"):
        allocate(-1, members(), Key(EQUAL))


def test_no_participants_or_the_same_one_twice_is_a_clear_error():
    with pytest.raises(AllocationError, match="inga deltagare"):
        allocate(100, [], Key(EQUAL))
    kil = Participant("1715", "Kil")
    with pytest.raises(AllocationError, match="två gånger"):
        allocate(100, [kil, kil], Key(EQUAL))


# -- Stored runs ---------------------------------------------------------------------------

PERIOD = "2031"  # no other test keeps pools or cases in it


@pytest.fixture
def period(app):
    """The test period, emptied of pools afterwards (its runs stay: they cannot be removed)."""
    yield PERIOD
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.delete(CostPool).where(CostPool.period == PERIOD))
        session.commit()


def add_pool(app, name, amount_ore, kind, slugs=None, settings=None, pro_rata=False, **each):
    """A pool in the test period; `each` maps a slug to its participant figures."""
    with app.app_context(), maintenance_session() as session:
        tenants = session.scalars(sa.select(Tenant).order_by(Tenant.scb_code)).all()
        chosen = [t for t in tenants if slugs is None or t.slug in slugs]
        pool = CostPool(
            period=PERIOD,
            name=name,
            category="platform",
            amount_ore=amount_ore,
            key_kind=kind,
            key_settings=settings or {},
            pro_rata=pro_rata,
            participants=[PoolParticipant(tenant_id=t.id, **each.get(t.slug, {})) for t in chosen],
        )
        session.add(pool)
        session.commit()
        return pool.id


def allocate_period(app, period=PERIOD) -> int:
    with app.app_context(), across_members("costs.allocated", f"costs/{period}", actor="test") as s:
        run = runs.run(s, period, created_by="test")
        s.commit()
        return run.id


def stored(app, run_id) -> dict[int, dict[str, int]]:
    with app.app_context(), maintenance_session() as session:
        rows = session.execute(
            sa.select(
                AllocationShare.pool_id, AllocationShare.tenant_slug, AllocationShare.amount_ore
            ).where(AllocationShare.run_id == run_id)
        ).all()
    result: dict[int, dict[str, int]] = {}
    for pool_id, slug, ore in rows:
        result.setdefault(pool_id, {})[slug] = ore
    return result


def test_a_run_stores_its_inputs_and_shares_and_reproduces_them_after_the_pools_change(app, period):
    equal = add_pool(app, "Drift", 100, EQUAL)
    population = add_pool(app, "Utveckling", 100_000_000, POPULATION, settings={"year": 2023})
    agreed = add_pool(
        app,
        "Lönecentrum",
        999_999,
        PERCENTAGES,
        slugs={"karlstad", "arvika"},
        karlstad={"percentage": "60"},
        arvika={"percentage": "40"},
    )
    run_id = allocate_period(app)
    shares = stored(app, run_id)
    assert sum(shares[equal].values()) == 100 and len(shares[equal]) == 16
    assert shares[population]["karlstad"] == 34_291_548
    assert shares[population]["munkfors"] == 1_293_961
    assert shares[agreed] == {"karlstad": 599_999, "arvika": 400_000}

    # The pools change and a member's figure changes; the run still says what it said.
    with app.app_context(), maintenance_session() as session:
        session.get(CostPool, equal).amount_ore = 5_000
        session.execute(
            sa.update(Tenant).where(Tenant.slug == "karlstad").values(population_count=1)
        )
        session.commit()
    try:
        with app.app_context(), maintenance_session() as session:
            run = session.get(AllocationRun, run_id)
            inputs = run.inputs
            assert (
                run.checksum
                == hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
            )
            by_pool = {p["pool_id"]: p for p in inputs["pools"]}
            karlstad = next(
                p for p in by_pool[population]["participants"] if p["slug"] == "karlstad"
            )
            assert karlstad["population"] == 97233 and karlstad["population_year"] == 2023
            assert by_pool[equal]["amount_ore"] == 100
            assert by_pool[agreed]["key"]["kind"] == PERCENTAGES
            again = runs.reproduce(run)
            slugs = {
                p["scb_code"]: p["slug"] for pool in inputs["pools"] for p in pool["participants"]
            }
            assert {
                pool_id: {slugs[s.key]: s.amount_ore for s in pool_shares}
                for pool_id, pool_shares in again.items()
            } == shares
            stored_weights = {(s.pool_id, s.tenant_slug): runs.weight_of(s) for s in run.shares}
            assert all(
                stored_weights[(pool_id, slugs[s.key])] == s.weight
                for pool_id, pool_shares in again.items()
                for s in pool_shares
            )
    finally:
        with app.app_context(), maintenance_session() as session:
            session.execute(
                sa.update(Tenant).where(Tenant.slug == "karlstad").values(population_count=97233)
            )
            session.commit()
    # A new run uses the new amount.
    assert sum(stored(app, allocate_period(app))[equal].values()) == 5_000


def test_a_run_is_audited_as_the_hubs_allocation(app, period):
    add_pool(app, "Drift", 1600, EQUAL)
    allocate_period(app)
    with app.app_context(), maintenance_session() as session:
        entry = session.execute(
            sa.text(
                "SELECT a.action, a.object_ref, t.slug FROM audit_log a "
                "JOIN tenants t ON t.id = a.tenant_id ORDER BY a.id DESC LIMIT 1"
            )
        ).one()
    assert tuple(entry) == ("costs.allocated", f"costs/{PERIOD}", "karlstad")


@pytest.mark.parametrize("verb", ["UPDATE", "DELETE"])
@pytest.mark.parametrize("table", ["allocation_runs", "allocation_shares"])
def test_the_application_cannot_change_or_remove_a_stored_run(app, period, verb, table):
    add_pool(app, "Drift", 1600, EQUAL)
    run_id = allocate_period(app)
    column = "id" if table == "allocation_runs" else "run_id"
    change = {
        "UPDATE": f"UPDATE {table} SET created_by = 'someone' WHERE {column} = :run"
        if table == "allocation_runs"
        else f"UPDATE {table} SET amount_ore = amount_ore + 1 WHERE {column} = :run",
        "DELETE": f"DELETE FROM {table} WHERE {column} = :run",
    }[verb]
    with app.app_context():
        # The application's own connection (on PostgreSQL the role that owns nothing).
        with pytest.raises(sa.exc.DBAPIError) as refused:
            db.session.execute(sa.text(change), {"run": run_id})
        db.session.rollback()
        db.session.remove()
    message = str(refused.value.orig).lower()
    assert "never changed" in message or "permission denied" in message
    assert sum(stored(app, run_id)[next(iter(stored(app, run_id)))].values()) == 1600
    with app.app_context(), maintenance_session() as session:
        assert session.get(AllocationRun, run_id).created_by == "test"


def case_at(client, app, member: str, moment: str) -> None:
    """A case submitted at the member, moved to `moment`."""
    response = client.post(
        f"/api/v1/tenants/{member}/services/synpunkter/submissions",
        json={"kind": "fraga", "area": "annat", "message": "Fråga", "want_reply": "no"},
    )
    assert response.status_code == 201, response.get_json()
    with app.app_context(), maintenance_session() as session:
        latest = session.scalar(sa.select(sa.func.max(Case.id)))
        session.execute(
            sa.update(Case)
            .where(Case.id == latest)
            .values(submitted_at=datetime.fromisoformat(moment))
        )
        session.commit()


def test_a_usage_key_counts_each_members_cases_in_the_period(app, client, period):
    for member in ("arvika", "arvika", "eda"):
        case_at(client, app, member, "2031-06-01T10:00:00+02:00")
    # 00:30 on New Year's Day in Sweden is still 2030 in UTC: the case belongs to 2031.
    case_at(client, app, "arvika", "2030-12-31T23:30:00+00:00")
    pool = add_pool(app, "E-tjänster", 1000, USAGE, slugs={"arvika", "eda", "kil"})
    run_id = allocate_period(app)
    assert stored(app, run_id)[pool] == {"arvika": 750, "eda": 250, "kil": 0}
    with app.app_context(), maintenance_session() as session:
        inputs = session.get(AllocationRun, run_id).inputs["pools"][0]["participants"]
    assert {p["slug"]: p["usage"] for p in inputs} == {"arvika": 3, "eda": 1, "kil": 0}


def test_cases_outside_the_period_do_not_count(app, client, period):
    case_at(client, app, "arvika", "2030-12-31T22:59:59+00:00")  # 23:59:59 in Sweden, 2030
    case_at(client, app, "eda", "2031-12-31T23:00:00+00:00")  # midnight in Sweden, 2032
    add_pool(app, "E-tjänster", 1000, USAGE, slugs={"arvika", "eda"})
    before = _runs(app)
    with pytest.raises(runs.RunError) as error:
        allocate_period(app)
    assert error.value.problems == [
        "E-tjänster: Ingen deltagare har några ärenden under perioden att fördela efter; "
        "välj en annan nyckel."
    ]
    assert _runs(app) == before


def _runs(app) -> int:
    with app.app_context(), maintenance_session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(AllocationRun))


def test_a_period_with_problems_names_every_pool_and_stores_nothing(app, period):
    add_pool(app, "Drift", 1600, EQUAL)
    add_pool(app, "Användning", 1600, USAGE)
    add_pool(
        app,
        "Avtal",
        1600,
        PERCENTAGES,
        slugs={"kil", "eda"},
        kil={"percentage": "50"},
        eda={"percentage": "49"},
    )
    before = _runs(app)
    with pytest.raises(runs.RunError) as error:
        allocate_period(app)
    assert error.value.problems == [
        "Användning: Ingen deltagare har några ärenden under perioden att fördela efter; "
        "välj en annan nyckel.",
        "Avtal: Procentsatserna summerar till 99 %, inte 100 %.",
    ]
    assert _runs(app) == before


def test_a_period_with_no_pools_is_a_clear_error(app, period):
    with pytest.raises(runs.RunError, match="inga kostnadspooler för 2031"):
        allocate_period(app)


def test_a_member_joining_on_the_last_day_of_the_period_pays_for_one_day(app, period):
    joined = {"joined_on": date(2031, 12, 31)}
    pro_rata = add_pool(app, "Kontaktcenter", 366, EQUAL, {"kil", "eda"}, pro_rata=True, eda=joined)
    whole = add_pool(app, "Drift", 366, EQUAL, {"kil", "eda"}, eda=joined)
    shares = stored(app, allocate_period(app))
    assert shares[pro_rata] == {"kil": 365, "eda": 1}
    assert shares[whole] == {"kil": 183, "eda": 183}


def test_a_month_period_counts_its_own_days(app):
    start, end = runs.period_bounds("2028-02")
    assert (start, end) == (date(2028, 2, 1), date(2028, 2, 29))
    assert allocation.days_in_period(start, end) == 29
    with pytest.raises(ValueError, match="not a period"):
        runs.period_bounds("2028-13")


@pytest.mark.parametrize("verb", ["UPDATE", "DELETE"])
def test_not_even_the_owner_changes_a_stored_run(app, period, verb):
    """The hub writes runs as the owner (across_members); the owner is held too."""
    add_pool(app, "Drift", 1600, EQUAL)
    run_id = allocate_period(app)
    change = {
        "UPDATE": "UPDATE allocation_shares SET amount_ore = 0 WHERE run_id = :run",
        "DELETE": "DELETE FROM allocation_runs WHERE id = :run",
    }[verb]
    with (
        app.app_context(),
        maintenance_session() as session,
        pytest.raises(sa.exc.DBAPIError, match="never changed"),
    ):
        session.execute(sa.text(change), {"run": run_id})


def test_a_member_that_leaves_during_a_pro_rata_period_pays_only_its_days(app, period):
    """Closing a member sets its leaving day; a pro rata pool made before that still
    charges it only for the days it was a member (the pool's own dates untouched)."""
    add_pool(app, "Drift", 3650_00, EQUAL, slugs=["arvika", "grums"], pro_rata=True)
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Tenant).where(Tenant.slug == "grums").values(left_on=date(2031, 3, 31))
        )
        session.commit()
    try:
        shares = next(iter(stored(app, allocate_period(app)).values()))
    finally:
        with app.app_context(), maintenance_session() as session:
            session.execute(sa.update(Tenant).where(Tenant.slug == "grums").values(left_on=None))
            session.commit()
    # 90 days of Grums against 365 of Arvika: Grums carries 90/455 of the pool.
    assert shares == {"grums": 72198, "arvika": 292802}
    assert sum(shares.values()) == 3650_00
