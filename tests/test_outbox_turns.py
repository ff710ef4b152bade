"""The outbox worker takes members in turns: a member with a long queue on a deadline day
does not keep another member's receipts waiting until its own queue is empty."""

import sqlalchemy as sa

from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.outbox import delivery
from samverkan.outbox.models import SENT, OutboxMessage
from samverkan.tenancy.models import Tenant

SENDER = "Samverkan <no-reply@samverkan.invalid>"


class Recorder:
    def __init__(self):
        self.recipients: list[str] = []

    def describe(self) -> str:
        return "a list"

    def send(self, message) -> None:
        self.recipients.append(str(message["To"]))


def test_a_small_members_receipt_goes_out_in_the_first_round_not_after_a_busy_queue(app):
    busy = 2 * delivery.TURN + 5
    with app.app_context(), maintenance_session() as session:
        ids = dict(session.execute(sa.select(Tenant.slug, Tenant.id)).all())
        for i in range(busy):  # Arvika (an earlier member in the order) has a long queue
            session.add(
                OutboxMessage(
                    tenant_id=ids["arvika"],
                    event_key=f"busy:{i}",
                    recipient=f"arvika{i}@exempel.se",
                    subject="Kvitto",
                    body="Hej!",
                )
            )
        session.add(
            OutboxMessage(
                tenant_id=ids["torsby"],
                event_key="quiet:0",
                recipient="torsby@exempel.se",
                subject="Kvitto",
                body="Hej!",
            )
        )
        session.commit()
    server = Recorder()
    with app.app_context():
        report = delivery.deliver_due(db.engine, server, SENDER)
    assert report.sent == busy + 1
    assert server.recipients.index("torsby@exempel.se") <= delivery.TURN  # one turn at most
    with app.app_context(), maintenance_session() as session:
        assert set(session.scalars(sa.select(OutboxMessage.status))) == {SENT}
