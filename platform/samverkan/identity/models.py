from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from samverkan.db import Base, Timestamp, utcnow


class CitizenSession(Base):
    """A citizen signed in with e-ID. The browser holds only a random token (in the signed
    session cookie); this row, found by the token's SHA-256, holds who they are, so the
    personnummer never leaves the server. Signing out deletes the row."""

    __tablename__ = "citizen_sessions"
    __table_args__ = (sa.Index("ix_citizen_sessions_expires", "expires_at"),)

    digest: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    person_key: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    # "personnummer" (a Swedish personnummer or samordningsnummer, 12 digits) or "foreign"
    # (an eIDAS user: the provider's identifier for them).
    identifier_kind: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    identifier: orm.Mapped[str] = orm.mapped_column(sa.String(200))
    name: orm.Mapped[str | None] = orm.mapped_column(sa.String(200))
    given_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(200))
    family_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(200))
    signed_in_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
    last_seen_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp, default=utcnow)
    expires_at: orm.Mapped[datetime] = orm.mapped_column(Timestamp)

    @property
    def display_name(self) -> str | None:
        """The name the e-ID gave: its full name, else given and family name together."""
        both = " ".join(n for n in (self.given_name, self.family_name) if n)
        return self.name or both or None
