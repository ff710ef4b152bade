"""Loading a period's cost pools from a TOML file (`flask --app wsgi costs import FILE`).

The format (README, "Cost sharing"; config/costs-example.toml is a full example):

    period = "2026"                       # a year, or a month: "2026-03"

    [[pools]]
    name = "Plattformens drift och licenser"
    category = "platform"                 # platform | development | shared_service
    amount = "1 250 000,00"               # kronor as text: "1 250 000,00" or "1250000.00"
    key = { kind = "equal" }              # equal | population | usage | percentages | hybrid
    participants = "all"                  # every member taking part in the period, or slugs
    pro_rata = false                      # true: members joining or leaving pay by days

    [pools.participant.arvika]            # optional, per participant
    percentage = "6.25"                   # percentages keys
    population = 25682                    # a figure for the key's year, if not the recorded
    joined_on = 2026-07-01                # pro rata pools only
    left_on = 2026-12-31

Reading is in two steps: `read_file` checks the file on its own (no database); `apply`
checks it against the members and writes it. Every error names the file, the pool (by
number and name) and the field, and nothing is written unless the whole file is right.
Pools are matched by period and name, so importing the same file again changes nothing.
"""

import datetime
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from marshmallow import (
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)
from sqlalchemy import orm

from samverkan.catalogue.definition_schema import flatten_errors
from samverkan.costs import allocation
from samverkan.costs.membership import member_during, shares_by_default
from samverkan.costs.models import (
    CATEGORIES,
    KEYS,
    MAX_POOL_ORE,
    CostPool,
    PoolParticipant,
    pool_name,
)
from samverkan.costs.runs import period_bounds
from samverkan.db import utcnow
from samverkan.tenancy.models import Tenant

# Kronor with an optional decimal part of one or two digits; thousands may be grouped with
# spaces ("1 250 000,00") but nothing else, so "1.250.000" is refused rather than guessed.
# [0-9], not \d: \d takes any script's digits ("١٢٣").
AMOUNT = re.compile(r"^(?P<kronor>[0-9]{1,3}(?: [0-9]{3})+|[0-9]+)(?:[.,](?P<ore>[0-9]{1,2}))?$")
PERCENT = re.compile(r"^[0-9]{1,3}(?:[.,][0-9]{1,6})?$")
SLUG = re.compile(r"^[a-z][a-z0-9-]{1,39}$")


class CostsFileError(ValueError):
    """A file that cannot be imported; `errors` lists every problem, each naming its place."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_kronor(text: str) -> int:
    """ "1 250 000,00" or "1250000.00" (or "12,5 kr") → öre, exactly. ValueError if not."""
    cleaned = str(text).replace("\u00a0", " ").replace("\u202f", " ").strip()
    cleaned = re.sub(r"\s*kr$", "", cleaned)
    match = AMOUNT.match(cleaned)
    if not match:
        raise ValueError(
            f'\'{text}\' is not an amount in kronor: write e.g. "1 250 000,00" or "1250000.00"'
        )
    ore = match["ore"] or "0"
    return int(match["kronor"].replace(" ", "")) * 100 + int(ore.ljust(2, "0"))


class KronorField(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool | float):
            raise ValidationError(
                'write the amount as text, e.g. "1 250 000,00": a TOML number with decimals '
                "is not exact"
            )
        if isinstance(value, int):
            ore = value * 100
        elif isinstance(value, str):
            try:
                ore = parse_kronor(value)
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc
        else:
            raise ValidationError('write the amount as text, e.g. "1 250 000,00"')
        if ore < 0:
            raise ValidationError("an amount cannot be negative")
        if ore > MAX_POOL_ORE:
            raise ValidationError("the amount is too large; check the number of digits")
        return ore


class PercentField(fields.Field):
    """A percentage as text or a whole number: "6.25", "12,5", 30 → "6.25", "12.5", "30"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool | float):
            raise ValidationError('write the percentage as text, e.g. "6.25"')
        text = str(value).strip().removesuffix("%").strip()
        if not isinstance(value, int | str) or not PERCENT.match(text):
            raise ValidationError(f"'{value}' is not a percentage: write e.g. \"6.25\"")
        number = Decimal(text.replace(",", "."))
        if number > 100:
            raise ValidationError(f"'{value}' is over 100 %")
        return format(number.normalize(), "f")


class TomlDate(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value
        raise ValidationError("write a date without quotes, like 2026-07-01")


class ParticipantsField(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if value == "all":
            return value
        if not isinstance(value, list) or not value:
            raise ValidationError('write "all" or a list of members, e.g. ["arvika", "eda"]')
        bad = [item for item in value if not isinstance(item, str) or not SLUG.match(item)]
        if bad:
            raise ValidationError(f'{bad[0]!r} is not a member\'s short name, like "arvika"')
        twice = sorted({item for item in value if value.count(item) > 1})
        if twice:
            raise ValidationError(f"{', '.join(twice)} is listed more than once")
        return value


class KeySchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(sorted(KEYS)))
    equal_percent = PercentField()  # hybrid: the part split equally
    rest = fields.String(validate=validate.OneOf([allocation.POPULATION, allocation.USAGE]))
    year = fields.Integer(strict=True, validate=validate.Range(min=1900, max=2100))
    service = fields.String(validate=validate.Regexp(r"^[a-z0-9-]{1,60}$"))

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def settings_fit_the_kind(self, data, original, **kwargs):
        # Presence is judged on what the file says, so a setting with a bad value is not
        # also reported as missing.
        kind = data.get("kind")
        if kind is None:
            return
        by_population = allocation.POPULATION in (kind, original.get("rest"))
        by_usage = allocation.USAGE in (kind, original.get("rest"))
        errors = {}
        if kind == allocation.HYBRID:
            needed = {
                "equal_percent": 'a hybrid key needs the part split equally, e.g. "30"',
                "rest": 'a hybrid key needs rest = "population" or "usage"',
            }
            errors = {name: [text] for name, text in needed.items() if name not in original}
        else:
            for name in ("equal_percent", "rest"):
                if name in original:
                    errors[name] = ["only a hybrid key has this setting"]
        if "year" in original and not by_population:
            errors["year"] = ["only a key by population has a year"]
        if "service" in original and not by_usage:
            errors["service"] = ["only a key by usage counts one e-service's cases"]
        if errors:
            raise ValidationError(errors)


class ParticipantSchema(Schema):
    percentage = PercentField()
    population = fields.Integer(strict=True, validate=validate.Range(min=0, max=2**31 - 1))
    joined_on = TomlDate()
    left_on = TomlDate()


class PoolSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    category = fields.String(required=True, validate=validate.OneOf(sorted(CATEGORIES)))
    description = fields.String(validate=validate.Length(max=2000))
    amount = KronorField(required=True)
    key = fields.Nested(KeySchema, load_default=lambda: {"kind": allocation.EQUAL})
    pro_rata = fields.Boolean(load_default=False)
    participants = ParticipantsField(required=True)
    participant = fields.Dict(
        keys=fields.String(), values=fields.Nested(ParticipantSchema), load_default=dict
    )


class FileSchema(Schema):
    class Meta:
        unknown = INCLUDE  # pools are checked one by one, to name each in its errors

    period = fields.Raw(required=True)
    pools = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))


@dataclass
class PoolPlan:
    """A pool as the file gives it, checked on its own."""

    number: int
    name: str
    category: str
    description: str | None
    amount_ore: int
    key: dict
    pro_rata: bool
    participants: str | list[str]
    each: dict[str, dict]


@dataclass
class CostsFile:
    label: str
    period: str
    pools: list[PoolPlan]


def _where(label: str, number: int, name) -> str:
    return f"{label}: pool {number}" + (f" ({name})" if isinstance(name, str) and name else "")


def read_file(path: Path, label: str | None = None) -> CostsFile:
    """The file read and checked on its own; CostsFileError lists every problem."""
    label = label or path.name
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise CostsFileError([f"{label}: cannot be read: {exc.strerror}"]) from exc
    try:
        # Notepad and Excel write UTF-8 with a byte order mark in front.
        text = content.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise CostsFileError(
            [f"{label}: line {line}: not UTF-8 text (saved as Windows-1252?): save it as UTF-8"]
        ) from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CostsFileError([f"{label}: not valid TOML: {exc}"]) from exc
    errors: list[str] = []
    try:
        top = FileSchema().load(raw)
    except ValidationError as exc:
        raise CostsFileError(
            [f"{label}: {where}: {message}" for where, message in flatten_errors(exc.messages)]
        ) from exc
    unknown = sorted(set(raw) - {"period", "pools"})
    errors += [f"{label}: {name}: unknown setting; a file has period and pools" for name in unknown]
    period = top["period"]
    if isinstance(period, int) and not isinstance(period, bool):
        period = str(period)
    try:
        if not isinstance(period, str):
            raise ValueError
        period_bounds(period)
    except ValueError:
        errors.append(f'{label}: period: write a year ("2026") or a month ("2026-03")')
    plans, names = [], {}
    for number, pool in enumerate(top["pools"], start=1):
        name = pool.get("name") if isinstance(pool, dict) else None
        where = _where(label, number, name)
        if not isinstance(pool, dict):
            errors.append(f"{where}: write each pool as a [[pools]] table")
            continue
        try:
            loaded = PoolSchema().load(pool)
        except ValidationError as exc:
            errors += [
                f"{where}: {path}: {message}" for path, message in flatten_errors(exc.messages)
            ]
            continue
        loaded["name"] = pool_name(loaded["name"])
        if not loaded["name"]:
            errors.append(f"{where}: name: write the pool's name")
            continue
        if loaded["name"].casefold() in names:
            errors.append(
                f"{where}: name: pool {names[loaded['name'].casefold()]} has the same name"
            )
            continue
        names[loaded["name"].casefold()] = number
        plans.append(
            PoolPlan(
                number=number,
                name=loaded["name"],
                category=loaded["category"],
                description=loaded.get("description"),
                amount_ore=loaded["amount"],
                key=loaded["key"],
                pro_rata=loaded["pro_rata"],
                participants=loaded["participants"],
                each=loaded["participant"],
            )
        )
    if errors:
        raise CostsFileError(errors)
    return CostsFile(label=label, period=period, pools=plans)


# -- Against the members, and written ------------------------------------------------------


@dataclass
class ImportReport:
    period: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    not_in_file: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def lines(self) -> list[str]:
        out = [f"created    {name}" for name in self.created]
        out += [f"updated    {name}" for name in self.updated]
        out += [f"unchanged  {name}" for name in self.unchanged]
        out += [
            f"note: '{name}' ({self.period}) is not in the file and was left as it is"
            for name in self.not_in_file
        ]
        return out


def _counts(key: dict, figure: str) -> bool:
    return key["kind"] == figure or (key["kind"] == allocation.HYBRID and key.get("rest") == figure)


# A participant's figure the pool's key would not read: refused rather than ignored, since
# whoever wrote it meant it to count.
_FIGURE_RULES = {
    "percentage": (
        lambda key: key["kind"] == allocation.PERCENTAGES,
        'counts only with key.kind = "percentages"',
    ),
    "population": (
        lambda key: _counts(key, allocation.POPULATION),
        'counts only with a population key (kind = "population", or "hybrid" with '
        'rest = "population")',
    ),
}


def _key_settings(key: dict) -> dict:
    return {name: key[name] for name in ("equal_percent", "rest", "year", "service") if name in key}


def _participant_rows(
    plan: PoolPlan, tenants: dict[str, Tenant], start, end, where: str, errors: list[str]
) -> dict[int, dict]:
    """tenant id → the participant's columns, or errors naming each problem."""
    if plan.participants == "all":
        slugs = [slug for slug, t in tenants.items() if shares_by_default(t, start, end)]
    else:
        slugs = list(plan.participants)
        for slug in slugs:
            if slug not in tenants:
                errors.append(f"{where}: participants: there is no member '{slug}'")
            elif not member_during(tenants[slug], start, end):
                tenant = tenants[slug]
                dates = [
                    f"member since {tenant.member_since}"
                    if tenant.member_since and tenant.member_since > end
                    else "",
                    f"left on {tenant.left_on}" if tenant.left_on else "",
                ]
                errors.append(
                    f"{where}: participants: '{slug}' was not a member during the period "
                    f"{start} – {end} ({', '.join(filter(None, dates)) or 'closed'})"
                )
    for slug in plan.each:
        if slug not in slugs:
            errors.append(
                f"{where}: participant.{slug}: '{slug}' is not among the pool's participants"
            )
    rows = {}
    for slug in slugs:
        if slug not in tenants:
            continue
        tenant, given = tenants[slug], plan.each.get(slug, {})
        place = f"{where}: participant.{slug}"
        for figure, rule in _FIGURE_RULES.items():
            if given.get(figure) is not None and not rule[0](plan.key):
                errors.append(f"{place}: {figure}: {rule[1]}")
        joined, left = given.get("joined_on"), given.get("left_on")
        if (joined or left) and not plan.pro_rata:
            errors.append(
                f"{place}: joined_on and left_on count only in a pool with pro_rata = true"
            )
        for name, day in (("joined_on", joined), ("left_on", left)):
            if day and not start <= day <= end:
                errors.append(f"{place}: {name}: {day} is outside the period {start} – {end}")
        if joined and left and joined > left:
            errors.append(f"{place}: left_on: {left} is before joined_on {joined}")
        if plan.pro_rata:
            # A member that joined or left within the period pays for its days by default.
            if joined is None and tenant.member_since and start < tenant.member_since <= end:
                joined = tenant.member_since
            if left is None and tenant.left_on and start <= tenant.left_on < end:
                left = tenant.left_on
        rows[tenant.id] = {
            "percentage": given.get("percentage"),
            "population": given.get("population"),
            "joined_on": joined,
            "left_on": left,
        }
    return rows


def _check_key(plan: PoolPlan, rows: dict[int, dict], by_id: dict[int, Tenant], where, errors):
    """What can be known before the allocation: the key's settings, agreed percentages that
    sum to 100 %, a population figure for the key's year. Cases are counted when it runs."""
    key, year = plan.key, plan.key.get("year")
    participants = []
    for tenant_id, row in rows.items():
        tenant = by_id[tenant_id]
        population = row["population"]
        if population is None and year in (None, tenant.population_year):
            population = tenant.population_count
        participants.append(
            allocation.Participant(
                key=tenant.scb_code,
                name=tenant.name,
                population=population,
                usage=1,  # a stand-in: the real counts come from the period's cases
                percentage=row["percentage"],
            )
        )
    splitting = allocation.Key(
        kind=key["kind"], equal_percent=key.get("equal_percent"), rest=key.get("rest")
    )
    try:
        if allocation.counts_population(splitting):
            allocation.population_counted_once(
                [p.key for p in participants], [p.name for p in participants]
            )
        allocation.weights(participants, splitting)
    except allocation.AllocationError as exc:
        hint = ""
        if exc.field == "population" and year:
            hint = (
                f" (the key counts population {year}: give it as participant.<member>.population)"
            )
        on = "participants" if exc.field == "participants" else "key"
        errors.append(f"{where}: {on}: {exc.message}{hint}")


def apply(session: orm.Session, costs_file: CostsFile) -> ImportReport:
    """Check the file against the members and write its pools (flushed, not committed).
    `session` is the hub's across-members session. CostsFileError lists every problem, and
    then nothing has been written."""
    start, end = period_bounds(costs_file.period)
    members = session.scalars(sa.select(Tenant).order_by(Tenant.scb_code)).all()
    tenants = {t.slug: t for t in members}
    by_id = {t.id: t for t in members}
    errors: list[str] = []
    planned = []
    for plan in costs_file.pools:
        where = _where(costs_file.label, plan.number, plan.name)
        found = len(errors)
        rows = _participant_rows(plan, tenants, start, end, where, errors)
        if not rows and len(errors) == found:
            errors.append(f"{where}: participants: no member takes part in {costs_file.period}")
        if len(errors) == found:
            _check_key(plan, rows, by_id, where, errors)
        planned.append((plan, rows))
    if errors:
        raise CostsFileError(errors)

    # By name as read (spaces and case aside): a name written a little differently is the
    # same pool, renamed, not a second one charged beside it.
    existing: dict[str, CostPool] = {}
    for pool in session.scalars(sa.select(CostPool).where(CostPool.period == costs_file.period)):
        key = pool_name(pool.name).casefold()
        if key in existing:  # two pools stored before names were compared this way
            errors.append(
                f"{costs_file.label}: the period's pools '{existing[key].name}' and "
                f"'{pool.name}' have names that read as one: rename one in the hub's pages"
            )
        existing[key] = pool
    if errors:
        raise CostsFileError(errors)
    report = ImportReport(period=costs_file.period)
    for plan, rows in planned:
        values = {
            "category": plan.category,
            "description": plan.description,
            "amount_ore": plan.amount_ore,
            "key_kind": plan.key["kind"],
            "key_settings": _key_settings(plan.key),
            "pro_rata": plan.pro_rata,
        }
        pool = existing.pop(plan.name.casefold(), None)
        if pool is not None and pool.name != plan.name:
            pool.name = plan.name
            values_changed = True
        else:
            values_changed = False
        if pool is None:
            pool = CostPool(period=costs_file.period, name=plan.name, **values)
            pool.participants = [PoolParticipant(tenant_id=tid, **row) for tid, row in rows.items()]
            session.add(pool)
            report.created.append(plan.name)
            continue
        changed = values_changed
        for name, value in values.items():
            if getattr(pool, name) != value:
                setattr(pool, name, value)
                changed = True
        current = {p.tenant_id: p for p in pool.participants}
        for tenant_id, participant in current.items():
            if tenant_id not in rows:
                pool.participants.remove(participant)
                changed = True
        for tenant_id, row in rows.items():
            participant = current.get(tenant_id)
            if participant is None:
                pool.participants.append(PoolParticipant(tenant_id=tenant_id, **row))
                changed = True
                continue
            for name, value in row.items():
                if getattr(participant, name) != value:
                    setattr(participant, name, value)
                    changed = True
        if changed:  # a participant's change alone too: runs.pools_changed_since reads it
            pool.updated_at = utcnow()
        (report.updated if changed else report.unchanged).append(plan.name)
    report.not_in_file = sorted(pool.name for pool in existing.values())
    session.flush()
    return report
