"""Swedish identity numbers, checked with python-stdnum.

stdnum knows personnummer, organisationsnummer and postnummer. It refuses
samordningsnummer (day of month + 60), so those are checked here: the same Luhn digit
over the same ten digits, and a real date once 60 is taken off the day.
"""

from datetime import date

from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.se import orgnr, personnummer, postnummer


class InvalidNumber(ValueError):
    pass


def normalize_personnummer(value: str, today: date | None = None) -> str:
    """Return the number as YYYYMMDD-NNNN, or raise InvalidNumber.

    Accepts 10 or 12 digits, with or without '-' or '+' before the last four. With ten
    digits, '+' means the person has turned 100, which decides the century.
    """
    today = today or date.today()
    try:
        compact = personnummer.compact(value)
    except StdnumError as exc:  # pragma: no cover - compact only strips characters
        raise InvalidNumber(str(exc)) from exc
    if len(compact) not in (11, 13) or compact[-5] not in "-+":
        raise InvalidNumber("length")
    digits = compact[:-5] + compact[-4:]
    if not digits.isdigit():
        raise InvalidNumber("format")
    date_part = compact[:-5]
    day = int(date_part[-2:])
    if day > 60:  # samordningsnummer: the day is the birth day plus 60
        date_part = f"{date_part[:-2]}{day - 60:02d}"
    try:
        birth = personnummer.get_birth_date(date_part + compact[-5:])
        luhn.validate(digits[-10:])
    except StdnumError as exc:
        raise InvalidNumber(str(exc)) from exc
    if len(compact) == 11 and birth > today:
        # stdnum picks the century from the two-digit year alone; a date later this
        # year belongs to the century before.
        birth = birth.replace(year=birth.year - 100)
    if birth > today:
        raise InvalidNumber("future")
    century = str(birth.year)[:2]
    full = digits if len(digits) == 12 else century + digits
    return f"{full[:8]}-{full[8:]}"


def normalize_orgnr(value: str) -> str:
    try:
        return orgnr.format(orgnr.validate(value))
    except StdnumError as exc:
        raise InvalidNumber(str(exc)) from exc


def normalize_postnummer(value: str) -> str:
    try:
        return postnummer.format(postnummer.validate(value))
    except StdnumError as exc:
        raise InvalidNumber(str(exc)) from exc
