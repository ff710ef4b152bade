"""Swedish identity numbers, checked with python-stdnum.

stdnum knows personnummer, organisationsnummer and postnummer. It refuses
samordningsnummer (day of month + 60), so those are checked here: the same Luhn digit
over the same ten digits, and a real date once 60 is taken off the day.
"""

from datetime import date

from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.se import orgnr, personnummer, postnummer
from stdnum.util import isdigits

from samverkan.clock import swedish_today

# SCB's county codes (länskoder), as they have been since 1998, when Skåne (12) and Västra
# Götaland (14) took the place of the counties before them: a region's code, and the first
# two digits of each of its municipalities' codes (Värmland 17, Arvika 1784).
COUNTY_CODES = frozenset(
    {"01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13", "14"}
    | {"17", "18", "19", "20", "21", "22", "23", "24", "25"}
)


class InvalidNumber(ValueError):
    pass


def normalize_personnummer(value: str, today: date | None = None) -> str:
    """Return the number as YYYYMMDD-NNNN, or raise InvalidNumber.

    Accepts 10 or 12 digits, with or without '-' or '+' before the last four. With ten
    digits the century is the latest one that puts the birth date on or before `today`;
    '+' means the person has turned 100 (from the year they turn 100), one century more.
    """
    today = today or swedish_today()
    compact = personnummer.compact(value)
    if len(compact) not in (11, 13) or compact[-5] not in "-+":
        raise InvalidNumber("length")
    digits = compact[:-5] + compact[-4:]
    if not isdigits(digits):  # ASCII digits only: int() would take other scripts' digits
        raise InvalidNumber("format")
    if len(digits) == 12:
        year = int(digits[:4])
    else:
        year = today.year - (today.year - int(digits[:2])) % 100
        if compact[-5] == "+":
            year -= 100
    month, day = int(digits[-8:-6]), int(digits[-6:-4])
    if day > 60:  # samordningsnummer: the day is the birth day plus 60
        day -= 60
    try:
        birth = date(year, month, day)
    except ValueError as exc:
        raise InvalidNumber("date") from exc
    if len(digits) == 10 and birth > today:  # later this year: the century before
        birth = _century_before(birth)
    if birth > today:
        raise InvalidNumber("future")
    try:
        luhn.validate(digits[-10:])
    except StdnumError as exc:
        raise InvalidNumber(str(exc)) from exc
    full = digits if len(digits) == 12 else f"{birth.year:04d}"[:2] + digits
    return f"{full[:8]}-{full[8:]}"


def _century_before(birth: date) -> date:
    try:
        return birth.replace(year=birth.year - 100)
    except ValueError:  # 29 February in a year that is not a leap year
        raise InvalidNumber("date") from None


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
