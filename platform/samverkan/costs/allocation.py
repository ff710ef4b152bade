"""Splitting one pool between its participants, exactly, in integer öre.

Each participant's weight under the key is an exact fraction; the weights sum to 1. The
exact share is amount × weight; every share is its floor, and the öre left over go one by
one to the largest remainders (the largest-remainder, or Hamilton, method) with a fixed
tie-break: the participant's sort key (the member's SCB code), so the result never
depends on the order participants are listed in. The shares sum to the amount, and each
is within one öre of its exact value.

The arithmetic is in whole numbers: a pool's weights are integer numerators over one
common denominator, so each share's floor and remainder are one divmod and remainders
compare as integers. That is the same exact arithmetic as with fractions, without a gcd
per operation (Fraction arithmetic made 290 members × 1 000 pools take 20 s); a Fraction
is made only where a weight is shown or stored.

Pure functions, no database: the same inputs give the same shares, today or in ten years.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache
from itertools import repeat
from math import lcm
from operator import add, floordiv, gt, mod, mul

EQUAL = "equal"
POPULATION = "population"
USAGE = "usage"
PERCENTAGES = "percentages"
HYBRID = "hybrid"

# One participant figure ("population", "usage", "percentage", "days") for every
# participant, in the order they are listed: asked for only when the key needs it.
Figures = Callable[[str], Sequence]


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


class Shares(Sequence[Share]):
    """A pool's shares in key order, held as columns: a whole run is 290 000 shares, and
    a Share (with its weight as a Fraction) is made only when one is read. Each weight is
    numerators[i] / denominator, over the pool's common denominator (not reduced)."""

    __slots__ = ("amounts", "denominator", "keys", "names", "numerators", "pool_ore")

    def __init__(self, pool_ore, keys, names, amounts, numerators, denominator):
        self.pool_ore = pool_ore
        self.keys = keys
        self.names = names
        self.amounts = amounts
        self.numerators = numerators
        self.denominator = denominator

    def __len__(self) -> int:
        return len(self.keys)

    def _share(self, i: int) -> Share:
        weight = Fraction(self.numerators[i], self.denominator)
        return Share(self.keys[i], self.names[i], weight, self.amounts[i], self.pool_ore * weight)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._share(i) for i in range(len(self))[index]]
        return self._share(range(len(self))[index])

    def __iter__(self):
        return map(self._share, range(len(self)))

    def __eq__(self, other):
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None

    def __repr__(self) -> str:
        return f"Shares({list(self)!r})"


def days_in_period(start: date, end: date) -> int:
    """Days from start to end, both included."""
    return (end - start).days + 1


@lru_cache(maxsize=4096)  # a percentage key repeats the same few texts in every pool
def _percent_ratio(text: str) -> tuple[int, int]:
    value = Decimal(text.replace(",", ".").strip())
    if not value.is_finite() or value < 0:
        raise ValueError(text)
    numerator, denominator = value.as_integer_ratio()
    return numerator, denominator * 100


def _percent(text: str | None, what: str) -> tuple[int, int]:
    """A percentage as a fraction of the whole: (numerator, denominator)."""
    if text is None or not str(text).strip():
        raise AllocationError(what, "Procentsatsen saknas.")
    try:
        return _percent_ratio(str(text))
    except (InvalidOperation, ValueError) as exc:
        raise AllocationError(what, f"'{text}' är inte en procentsats.") from exc


def _proportional(names, values, figure: str, label: str, none: str) -> tuple[list[int], int]:
    values = list(values)
    if None in values or min(values) < 0:
        # Every one of them: fixed one by one, each run would name only the next.
        missing = [n for n, v in zip(names, values, strict=True) if v is None or v < 0]
        raise AllocationError(figure, f"{', '.join(missing)} saknar {label}.")
    total = sum(values)
    if total == 0:
        raise AllocationError(
            figure, f"Ingen deltagare har {none} att fördela efter; välj en annan nyckel."
        )
    return values, total


def _key_numerators(names, figures: Figures, key: Key) -> tuple[list[int], int]:
    """The key's weights as integer numerators over one denominator (they sum to it)."""
    n = len(names)
    if key.kind == EQUAL:
        return [1] * n, n
    if key.kind == POPULATION:
        return _proportional(
            names, figures("population"), "population", "folkmängd", "någon folkmängd"
        )
    if key.kind == USAGE:
        return _proportional(
            names,
            figures("usage"),
            "usage",
            "ärenden under perioden",
            "några ärenden under perioden",
        )
    if key.kind == PERCENTAGES:
        texts = figures("percentage")
        try:
            ratios = list(map(_percent_ratio, map(str, texts)))
        except (InvalidOperation, ValueError):
            # Say which: a missing figure first, then one that is not a percentage.
            for name, text in zip(names, texts, strict=True):
                if text is None or not str(text).strip():
                    raise AllocationError("percentage", f"{name} saknar procentsats.") from None
            ratios = [_percent(text, "percentage") for text in texts]
        denominator = lcm(*(d for _, d in ratios))
        numerators = [p * (denominator // d) for p, d in ratios]
        if sum(numerators) != denominator:
            total = Fraction(sum(numerators), denominator)
            shown = f"{float(total * 100):.4f}".rstrip("0").rstrip(".").replace(".", ",")
            raise AllocationError(
                "percentage", f"Procentsatserna summerar till {shown} %, inte 100 %."
            )
        return numerators, denominator
    if key.kind == HYBRID:
        equal, whole = _percent(key.equal_percent, "equal_percent")
        if equal > whole:
            raise AllocationError("equal_percent", "Den lika delen kan inte vara över 100 %.")
        if key.rest not in (POPULATION, USAGE):
            raise AllocationError("rest", "Välj folkmängd eller användning för resten.")
        if equal == whole:
            return [1] * n, n
        values, total = _key_numerators(names, figures, Key(kind=key.rest))
        # equal/whole ÷ n + (1 − equal/whole) × value/total, over whole × n × total
        equal_part, rest_part = equal * total, (whole - equal) * n
        numerators = map(add, repeat(equal_part), map(mul, repeat(rest_part), values))
        return list(numerators), whole * n * total
    raise AllocationError("key", f"Okänd fördelningsnyckel '{key.kind}'.")


def _pro_rata(names, figures: Figures, key: Key, numerators: list[int]) -> tuple[list[int], int]:
    """A member that took part only some of the period carries its key weight for those
    days; the others carry the rest, so the pool is still covered in full."""
    period = key.period_days
    if not period or period < 1:
        raise AllocationError("period", "Perioden saknar längd.")
    days = figures("days")
    if None in days:
        days = [period if d is None else d for d in days]
    if min(days) < 0 or max(days) > period:
        for name, d in zip(names, days, strict=True):
            if not 0 <= d <= period:
                raise AllocationError("days", f"{name}: {d} dagar ryms inte i periodens {period}.")
    scaled = list(map(mul, numerators, days))
    total = sum(scaled)
    if total == 0:
        raise AllocationError("days", "Ingen deltagare var med någon dag under perioden.")
    return scaled, total


def _weights(keys: Sequence[str], names, figures: Figures, key: Key) -> tuple[list[int], int]:
    """Each participant's exact part of the pool (numerators over a denominator, in the
    order listed); they sum to the denominator."""
    if not keys:
        raise AllocationError("participants", "Poolen har inga deltagare.")
    if len(set(keys)) != len(keys):
        raise AllocationError("participants", "Samma deltagare finns med två gånger.")
    numerators, denominator = _key_numerators(names, figures, key)
    if key.pro_rata:
        numerators, denominator = _pro_rata(names, figures, key, numerators)
    return numerators, denominator


def counts_population(key: Key) -> bool:
    return key.kind == POPULATION or (key.kind == HYBRID and key.rest == POPULATION)


def population_counted_once(keys: Sequence[str], names: Sequence[str]) -> None:
    """A key by population counts each inhabitant once. A participant whose key (SCB code)
    begins another's has that one's inhabitants among its own (a county's 17 and its
    municipality's 1780): together they would count them twice, and the county's share
    would be its municipalities' all over again. Checked where a pool is made and before
    a new run, not in the split itself: a stored run is reproduced as it was made."""
    order = sorted(range(len(keys)), key=keys.__getitem__)
    # In sorted order every code that begins with another comes right after it (or after
    # another that begins with it too).
    for outer, inner in zip(order, order[1:], strict=False):
        if keys[inner].startswith(keys[outer]):
            raise AllocationError(
                "participants",
                f"{names[outer]} och {names[inner]} kan inte dela efter folkmängd i samma "
                f"pool: {names[inner]}s invånare räknas också i {names[outer]}s. Ta med "
                "bara den ena, eller dela poolen med en annan nyckel.",
            )


def _figures_of(participants: Sequence[Participant]) -> Figures:
    return lambda figure: [getattr(p, figure) for p in participants]


def weights(participants: list[Participant], key: Key) -> dict[str, Fraction]:
    """Each participant's exact part of the pool under the key (they sum to 1)."""
    keys = [p.key for p in participants]
    numerators, denominator = _weights(
        keys, [p.name for p in participants], _figures_of(participants), key
    )
    return {k: Fraction(n, denominator) for k, n in zip(keys, numerators, strict=True)}


def _largest_remainder(amount_ore: int, numerators: Sequence[int], denominator: int) -> list[int]:
    """Öre per participant: the floors, then one öre each to the largest remainders;
    of equal remainders, the participant listed first (the lower key) comes first."""
    exact = list(map(mul, repeat(amount_ore), numerators))  # × denominator
    floors = list(map(floordiv, exact, repeat(denominator)))
    left = amount_ore - sum(floors)  # fewer than the participants: the weights sum to 1
    if not left:
        return floors
    remainders = list(map(mod, exact, repeat(denominator)))
    # The smallest remainder that still gets an öre: every larger one gets one, and so do
    # the first of those equal to it, as many as are left.
    cut = sorted(remainders, reverse=True)[left - 1]
    extra = list(map(gt, remainders, repeat(cut)))
    ties = left - sum(extra)
    for i, remainder in enumerate(remainders):
        if not ties:
            break
        if remainder == cut:
            extra[i] = True
            ties -= 1
    return list(map(add, floors, extra))


def allocate(amount_ore: int, participants: list[Participant], key: Key) -> Shares:
    """The pool split between its participants, in their key order."""
    return allocate_columns(
        amount_ore,
        key,
        [p.key for p in participants],
        [p.name for p in participants],
        _figures_of(participants),
    )


def allocate_columns(
    amount_ore: int, key: Key, keys: Sequence[str], names: Sequence[str], figures: Figures
) -> Shares:
    """As `allocate`, for participants given as columns (keys, names, and their figures
    by name, in the same order), so a stored run needs no object per participant."""
    if not isinstance(amount_ore, int) or isinstance(amount_ore, bool):
        raise AllocationError("amount", "Beloppet ska vara ett helt antal öre.")
    keys, names = list(keys), list(names)
    numerators, denominator = _weights(keys, names, figures, key)
    if amount_ore < 0:
        raise AllocationError("amount", "Beloppet kan inte vara negativt.")
    if sorted(keys) != keys:
        order = sorted(range(len(keys)), key=keys.__getitem__)
        keys, names = [keys[i] for i in order], [names[i] for i in order]
        numerators = [numerators[i] for i in order]
    amounts = _largest_remainder(amount_ore, numerators, denominator)
    return Shares(amount_ore, keys, names, amounts, numerators, denominator)
