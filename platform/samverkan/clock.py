"""Swedish time: the municipalities' day, year and dates are Stockholm's, not the server's."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SWEDEN = ZoneInfo("Europe/Stockholm")


def swedish_today() -> date:
    return datetime.now(UTC).astimezone(SWEDEN).date()
