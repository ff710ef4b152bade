"""Queueing e-mail. A message is a row added in the transaction of the change that causes
it: if the change rolls back, no mail; if it commits, the mail will go (delivery.py)."""

from sqlalchemy import orm

from samverkan.outbox.models import OutboxMessage


def enqueue(
    session: orm.Session,
    event_key: str,
    recipient: str,
    subject: str,
    body: str,
    *,
    language: str,
) -> OutboxMessage:
    """Queue one e-mail for an event, written in `language` (its Content-Language).
    `event_key` is unique per member: one event, one mail."""
    message = OutboxMessage(
        event_key=event_key[:120],
        recipient=recipient,
        subject=subject[:200],
        body=body,
        language=language,
    )
    session.add(message)
    return message
