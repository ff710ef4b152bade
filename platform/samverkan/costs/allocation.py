"""Splitting one pool between its participants, exactly, in integer öre.

Each participant's weight under the key is an exact fraction; the weights sum to 1. The
exact share is amount × weight; every share is its floor, and the öre left over go one by
one to the largest remainders (the largest-remainder, or Hamilton, method) with a fixed
tie-break: the participant's sort key (the member's SCB code), so the result never
depends on the order participants are listed in. The shares sum to the amount, and each
is within one öre of its exact value.

Pure functions, no database: the same inputs give the same shares, today or in ten years.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction

EQUAL = "equal"
POPULATION = "population"
USAGE = "usage"
PERCENTAGES = "percentages"
HYBRID = "hybrid"


class AllocationError(ValueError):
    """A pool that cannot be split as given; `field` says what to correct."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Participant:
    key: str  # stable and unique: the tie-break (SCB code)
    name: str
    population: int | None = None
    usage: int | None = None  # cases in the period
    percentage: str | None = None  # "6.25"
    days: int | None = None  # days taking part, when the pool is pro rata


@dataclass(frozen=True)
class Key:
    kind: str
    equal_percent: str | None = None  # hybrid: the part split equally, "30"
    rest: str | None = None  # hybrid: POPULATION or USAGE for the rest
    pro_rata: bool = False
    period_days: int | None = None


@dataclass(frozen=True)
class Share:
    key: str
    name: str
    weight: Fraction
    amount_ore: int
    exact_ore: Fraction = field(compare=False)


def days_in_period(start: date, end: date) -> int:
    """Days from start to end, both included."""
    return (end - start).days + 1


def _percent(text: str | None, what: str) -> Fraction:
    if text is None or not str(text).strip():
        raise AllocationError(what, "Procentsatsen saknas.")
    try:
        value = Decimal(str(text).replace(",", ".").strip())
    except (InvalidOperation, ValueError) as exc:
        raise AllocationError(what, f"'{text}' är inte en procentsats.") from exc
    if not value.is_finite() or value < 0:
        raise AllocationError(what, f"'{text}' är inte en procentsats.")
    return Fraction(value) / 100


def _proportional(participants, figure: str, label: str, none: str) -> dict[str, Fraction]:
    values = {}
    for p in participants:
        value = getattr(p, figure)
        if value is None or value < 0:
            raise AllocationError(figure, f"{p.name} saknar {label}.")
        values[p.key] = value
    total = sum(values.values())
    if total == 0:
        raise AllocationError(
            figure, f"Ingen deltagare har {none} att fördela efter; välj en annan nyckel."
        )
    return {k: Fraction(v, total) for k, v in values.items()}


def _equal(participants) -> dict[str, Fraction]:
    return {p.key: Fraction(1, len(participants)) for p in participants}


def weights(participants: list[Participant], key: Key) -> dict[str, Fraction]:
    """Each participant's exact part of the pool under the key (they sum to 1)."""
    if not participants:
        raise AllocationError("participants", "Poolen har inga deltagare.")
    keys = [p.key for p in participants]
    if len(set(keys)) != len(keys):
        raise AllocationError("participants", "Samma deltagare finns med två gånger.")
    if key.kind == EQUAL:
        base = _equal(participants)
    elif key.kind == POPULATION:
        base = _proportional(participants, "population", "folkmängd", "någon folkmängd")
    elif key.kind == USAGE:
        base = _proportional(
            participants, "usage", "ärenden under perioden", "några ärenden under perioden"
        )
    elif key.kind == PERCENTAGES:
        for p in participants:
            if p.percentage is None or not str(p.percentage).strip():
                raise AllocationError("percentage", f"{p.name} saknar procentsats.")
        base = {p.key: _percent(p.percentage, "percentage") for p in participants}
        total = sum(base.values())
        if total != 1:
            shown = f"{float(total * 100):.4f}".rstrip("0").rstrip(".").replace(".", ",")
            raise AllocationError(
                "percentage", f"Procentsatserna summerar till {shown} %, inte 100 %."
            )
    elif key.kind == HYBRID:
        equal_part = _percent(key.equal_percent, "equal_percent")
        if equal_part > 1:
            raise AllocationError("equal_percent", "Den lika delen kan inte vara över 100 %.")
        if key.rest not in (POPULATION, USAGE):
            raise AllocationError("rest", "Välj folkmängd eller användning för resten.")
        if equal_part == 1:
            base = _equal(participants)
        else:
            rest = weights(participants, Key(kind=key.rest))
            base = {
                k: equal_part * Fraction(1, len(participants)) + (1 - equal_part) * rest[k]
                for k in rest
            }
    else:
        raise AllocationError("key", f"Okänd fördelningsnyckel '{key.kind}'.")
    if key.pro_rata:
        base = _pro_rata(participants, key, base)
    return base


def _pro_rata(participants, key: Key, base: dict[str, Fraction]) -> dict[str, Fraction]:
    """A member that took part only some of the period carries its key weight for those
    days; the others carry the rest, so the pool is still covered in full."""
    if not key.period_days or key.period_days < 1:
        raise AllocationError("period", "Perioden saknar längd.")
    scaled = {}
    for p in participants:
        days = key.period_days if p.days is None else p.days
        if not 0 <= days <= key.period_days:
            raise AllocationError(
                "days", f"{p.name}: {days} dagar ryms inte i periodens {key.period_days}."
            )
        scaled[p.key] = base[p.key] * Fraction(days, key.period_days)
    total = sum(scaled.values())
    if total == 0:
        raise AllocationError("days", "Ingen deltagare var med någon dag under perioden.")
    return {k: v / total for k, v in scaled.items()}


def split(amount_ore: int, weights_by_key: dict[str, Fraction]) -> dict[str, int]:
    """The largest-remainder split of a whole number of öre by exact weights."""
    if amount_ore < 0:
        raise AllocationError("amount", "Beloppet kan inte vara negativt.")
    exact = {k: amount_ore * w for k, w in weights_by_key.items()}
    floors = {k: v.numerator // v.denominator for k, v in exact.items()}
    left = amount_ore - sum(floors.values())
    # Largest remainder first; equal remainders in the participants' key order.
    order = sorted(exact, key=lambda k: (-(exact[k] - floors[k]), k))
    for k in order[:left]:
        floors[k] += 1
    return floors


def allocate(amount_ore: int, participants: list[Participant], key: Key) -> list[Share]:
    """The pool split between its participants, in their key order."""
    if not isinstance(amount_ore, int) or isinstance(amount_ore, bool):
        raise AllocationError("amount", "Beloppet ska vara ett helt antal öre.")
    by_key = weights(participants, key)
    amounts = split(amount_ore, by_key)
    names = {p.key: p.name for p in participants}
    return [
        Share(k, names[k], by_key[k], amounts[k], amount_ore * by_key[k]) for k in sorted(by_key)
    ]
