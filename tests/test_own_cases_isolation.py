"""Mina ärenden reads across members, for one person only: the ORM criteria of a bound
person (every database) and PostgreSQL's own_cases_of_person policy under the application's
role (raw SQL, no criteria at all) each return that person's cases and nothing else."""

import pytest
import sqlalchemy as sa
from identity_support import SAM, TOLVAN, sign_in
from test_citizen_sign_in import send_felanmalan

from samverkan.cases.models import Case, Draft
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.identity.models import CitizenSession
from samverkan.tenancy.scoping import TenantNotBound, bind_person


@pytest.fixture
def two_people_in_two_members(app, e_id_provider):
    """Tolvan sends a case in Kil and one in Eda, Sam one in Kil, someone anonymous one in
    Eda. Returns each person's key."""
    tolvan, sam, anonymous = app.test_client(), app.test_client(), app.test_client()
    sign_in(tolvan, e_id_provider, "tolvan", TOLVAN)
    sign_in(sam, e_id_provider, "sam", SAM)
    send_felanmalan(tolvan, "kil")
    send_felanmalan(tolvan, "eda")
    send_felanmalan(sam, "kil")
    send_felanmalan(anonymous, "eda")
    with app.app_context(), maintenance_session() as session:
        keys = dict(
            session.execute(sa.select(CitizenSession.name, CitizenSession.person_key)).all()
        )
    return keys["Tolvan Tolvansson"], keys["Sam Ordning"]


def test_a_bound_person_reads_only_their_own_cases(app, two_people_in_two_members):
    tolvan, sam = two_people_in_two_members
    with app.app_context():
        bind_person(db.session, tolvan)
        mine = db.session.scalars(sa.select(Case)).all()  # no filter of our own
        assert len(mine) == 2 and {c.person_key for c in mine} == {tolvan}
        assert len({c.tenant_id for c in mine}) == 2
        counted = db.session.scalar(sa.select(sa.func.count()).select_from(Case))
        assert counted == 2
        db.session.rollback()
    with app.app_context():
        bind_person(db.session, sam)
        assert [c.person_key for c in db.session.scalars(sa.select(Case))] == [sam]


@pytest.mark.parametrize(
    "statement",
    [
        sa.select(Draft),
        sa.update(Case).values(status="closed"),
        sa.delete(Case),
    ],
    ids=["other member table", "update", "delete"],
)
def test_a_bound_person_can_do_nothing_else(app, statement):
    with app.app_context():
        bind_person(db.session, "0" * 64)
        with pytest.raises(TenantNotBound):
            db.session.execute(statement)


def test_postgresql_shows_the_application_role_only_the_bound_persons_rows(
    app, two_people_in_two_members
):
    tolvan, _ = two_people_in_two_members
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("row-level security is PostgreSQL's; SQLite relies on the ORM criteria")
        count = sa.text("SELECT count(*) FROM cases")
        with db.engine.connect() as connection:  # the application's role, no ORM
            assert connection.execute(count).scalar_one() == 0  # nobody bound: nothing
            connection.execute(
                sa.text("SELECT set_config('app.person_key', :k, true)"), {"k": tolvan}
            )
            assert connection.execute(count).scalar_one() == 2
            keys = connection.execute(sa.text("SELECT DISTINCT person_key FROM cases")).all()
            assert keys == [(tolvan,)]
            # Reading is all the person's policy allows.
            changed = connection.execute(sa.text("UPDATE cases SET status = 'closed'"))
            assert changed.rowcount == 0
            connection.rollback()
