"""What the hub's cost pages accept: a pool (with its key and participants) and the key
comparison's query, checked by marshmallow with Swedish messages per field.

Amounts are entered in kronor as people write them ("1 250 000,00") and become integer
öre exactly; anything else (a float such as 1.5e6, three decimals, letters) is refused
with a message, never rounded.
"""

from dataclasses import dataclass
from datetime import date

from marshmallow import (
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from samverkan.catalogue.fields import WrittenDate
from samverkan.costs import allocation
from samverkan.costs.membership import member_during, membership_text
from samverkan.costs.models import CATEGORIES, KEYS, pool_name
from samverkan.costs.runs import period_bounds
from samverkan.costs.statements import amount_text
from samverkan.hub.costs_fields import (
    AMOUNT_EXAMPLE,
    Form,
    Kronor,
    Percent,
    WholeNumber,
    optional,
    period_field,
)


class PoolSchema(Form):
    period = period_field()
    name = fields.Function(
        deserialize=pool_name,  # a non-breaking or doubled space is no new name
        required=True,
        validate=validate.Length(min=2, max=200, error="Namnet ska vara 2–200 tecken."),
        error_messages={"required": "Fyll i poolens namn.", "null": "Fyll i poolens namn."},
    )
    category = fields.String(
        required=True,
        validate=validate.OneOf(tuple(CATEGORIES), error="Välj vad poolen betalar för."),
        error_messages={
            "required": "Välj vad poolen betalar för.",
            "null": "Välj vad poolen betalar för.",
        },
    )
    description = optional(
        fields.String(
            validate=validate.Length(max=2000, error="Beskrivningen får vara högst 2000 tecken.")
        )
    )
    amount = Kronor(
        required=True,
        error_messages={
            "required": "Fyll i beloppet i kronor.",
            "null": f"Fyll i beloppet i kronor, {AMOUNT_EXAMPLE}.",
        },
    )
    key_kind = fields.String(
        required=True,
        validate=validate.OneOf(tuple(KEYS), error="Välj en fördelningsnyckel."),
        error_messages={
            "required": "Välj en fördelningsnyckel.",
            "null": "Välj en fördelningsnyckel.",
        },
    )
    equal_percent = optional(Percent("den lika delen"))
    rest = optional(
        fields.String(
            validate=validate.OneOf(
                (allocation.POPULATION, allocation.USAGE),
                error="Välj folkmängd eller användning för resten.",
            )
        )
    )
    population_year = optional(WholeNumber("Skriv året som fyra siffror, till exempel 2023."))
    usage_service = optional(fields.String(validate=validate.Length(max=60)))
    pro_rata = fields.Boolean(
        load_default=False,
        allow_none=True,
        truthy={"ja"},
        falsy={"nej"},
        error_messages={"invalid": "Kryssa i rutan eller lämna den tom."},
    )

    def __init__(self, services: set[str], **kwargs):
        super().__init__(**kwargs)
        self.services = services

    @validates_schema(skip_on_field_errors=False)
    def _key_settings(self, data, **kwargs):
        errors = {}
        kind = data.get("key_kind")
        if kind == allocation.HYBRID:
            if _left_empty(data, "equal_percent"):
                errors["equal_percent"] = ["Fyll i hur stor del som delas lika, till exempel 30."]
            if _left_empty(data, "rest"):
                errors["rest"] = ["Välj folkmängd eller användning för resten."]
        year = data.get("population_year")
        if year is not None and not 1900 <= year <= 2100:
            errors["population_year"] = ["Skriv året som fyra siffror, till exempel 2023."]
        service = data.get("usage_service")
        if service is not None and service not in self.services:
            errors["usage_service"] = ["Välj en e-tjänst i listan, eller alla e-tjänster."]
        if errors:
            raise ValidationError(errors)


def _left_empty(data: dict, name: str) -> bool:
    """Given empty (a value that failed its own check is absent from `data`)."""
    return name in data and data[name] is None


class ParticipantSchema(Form):
    """One member's figures in a pool; the period is the pool's."""

    percentage = optional(Percent("procentsatsen"))
    population = optional(WholeNumber("Skriv folkmängden som ett heltal, till exempel 25 682."))
    joined_on = optional(WrittenDate(error_messages={"invalid": "Skriv datumet som ÅÅÅÅ-MM-DD."}))
    left_on = optional(WrittenDate(error_messages={"invalid": "Skriv datumet som ÅÅÅÅ-MM-DD."}))

    def __init__(self, bounds: tuple[date, date] | None, needs_percentage: bool, **kwargs):
        super().__init__(**kwargs)
        self.bounds = bounds
        self.needs_percentage = needs_percentage

    @validates_schema(skip_on_field_errors=False)
    def _within_period(self, data, **kwargs):
        errors = {}
        # A field that failed its own check is absent here: its message says enough.
        if self.needs_percentage and _left_empty(data, "percentage"):
            errors["percentage"] = ["Fyll i medlemmens procentsats."]
        if self.bounds is not None:
            start, end = self.bounds
            for name in ("joined_on", "left_on"):
                day = data.get(name)
                if day is not None and not start <= day <= end:
                    errors[name] = [
                        f"Datumet ska ligga inom perioden, {start.isoformat()}–{end.isoformat()}."
                    ]
        joined, left = data.get("joined_on"), data.get("left_on")
        if joined and left and left < joined and "left_on" not in errors:
            errors["left_on"] = ["Utträdet kan inte vara före inträdet."]
        if errors:
            raise ValidationError(errors)


PARTICIPANT_FIELDS = ("percentage", "population", "joined_on", "left_on")
# The participants' table shows every figure whatever the key: one the pool would not use
# is refused rather than dropped (an entry date without pro rata made a member that joined
# in June pay for the whole year, without a word).
UNUSED_FIGURE = {
    "percentage": "Procentsatsen används bara med fasta procentsatser: byt nyckel eller töm "
    "fältet.",
    "population": "Folkmängden används bara när nyckeln räknar folkmängd: byt nyckel eller "
    "töm fältet.",
    "joined_on": "Inträdet används bara vid pro rata: kryssa i Pro rata eller töm fältet.",
    "left_on": "Utträdet används bara vid pro rata: kryssa i Pro rata eller töm fältet.",
}
NOT_TAKING_PART = "Kryssa i medlemmen för att den ska dela på poolen, eller töm fältet."
POOL_FIELDS = tuple(PoolSchema(services=set()).fields)


@dataclass
class PoolForm:
    """A pool form as entered (texts, for showing again) and, when valid, as data."""

    entered: dict
    chosen: list[str]  # member slugs ticked as participants
    data: dict | None = None
    errors: dict | None = None


def field_name(name: str, slug: str) -> str:
    """The form field of one participant's figure, e.g. 'percentage-arvika'."""
    return f"{name}-{slug}"


def read_pool_form(form, members: list, services: set[str]) -> PoolForm:
    """Check a submitted pool form against the members that may take part. Errors are
    keyed by the form's own field names, so each sits by its field."""
    entered = {name: form.get(name, "") for name in POOL_FIELDS}
    by_slug = {m.slug: m for m in members}
    slugs = set(by_slug)
    chosen = [slug for slug in form.getlist("participants") if slug in slugs]
    for m in members:
        for name in PARTICIPANT_FIELDS:
            entered[field_name(name, m.slug)] = form.get(field_name(name, m.slug), "")
    errors: dict = {}
    data = {}
    # Settings and figures the chosen key does not use are neither checked nor kept (the
    # form shows them all when scripts are off).
    used = _used_settings(entered)
    try:
        data = PoolSchema(services=services).load(
            {k: (v if k in used else "") for k, v in entered.items() if k in POOL_FIELDS}
        )
    except ValidationError as exc:
        errors.update(exc.messages)
    unknown = set(form.getlist("participants")) - slugs
    if unknown:
        errors["participants"] = ["Välj bara bland medlemmarna i listan."]
    elif not chosen:
        errors["participants"] = ["Välj minst en deltagare."]
    bounds = None
    if "period" not in errors and entered["period"].strip():
        bounds = period_bounds(entered["period"].strip())
    if bounds is not None and "participants" not in errors:
        outside = [by_slug[s] for s in chosen if not member_during(by_slug[s], *bounds)]
        if outside:
            named = "; ".join(f"{m.name} ({membership_text(m)})" for m in outside)
            errors["participants"] = [
                f"Bara den som var medlem någon dag under perioden kan dela på den: {named}."
            ]
    if "participants" not in errors and {"population"} <= _used_settings(entered):
        try:
            allocation.population_counted_once(
                [by_slug[s].scb_code for s in chosen], [by_slug[s].name for s in chosen]
            )
        except allocation.AllocationError as exc:
            errors["participants"] = [exc.message]
    year = data.get("population_year")
    if bounds is not None and year is not None and year > bounds[1].year:
        errors["population_year"] = [
            f"Folkmängden kan inte räknas från ett år efter perioden ({bounds[1].year})."
        ]
    for member in members:
        for name in PARTICIPANT_FIELDS:
            if not entered[field_name(name, member.slug)].strip():
                continue
            if member.slug not in chosen:
                errors[field_name(name, member.slug)] = [NOT_TAKING_PART]
            elif name not in used:
                errors[field_name(name, member.slug)] = [UNUSED_FIGURE[name]]
    participants = {}
    for slug in chosen:
        figures = {
            name: entered[field_name(name, slug)] if name in used else ""
            for name in PARTICIPANT_FIELDS
        }
        try:
            participants[slug] = ParticipantSchema(
                bounds=bounds, needs_percentage="percentage" in used
            ).load(figures)
        except ValidationError as exc:
            for name, messages in exc.messages.items():
                errors[field_name(name, slug)] = messages
            continue
        for name, messages in _within_membership(by_slug[slug], participants[slug]).items():
            errors.setdefault(field_name(name, slug), messages)
    if errors:
        return PoolForm(entered, chosen, errors=errors)
    return PoolForm(entered, chosen, data=_keep_what_the_key_uses(data, participants))


def _within_membership(member, figures: dict) -> dict[str, list[str]]:
    """A pool's entry and exit dates lie within the member's membership: outside it a run
    would quietly count from the membership's own dates, or charge the member nothing."""
    errors = {}
    since, left = member.member_since, member.left_on
    for name, word in (("joined_on", "inträdet"), ("left_on", "utträdet")):
        day = figures.get(name)
        if day is None:
            continue
        if since and day < since:
            errors[name] = [
                f"{member.name} blev medlem {since.isoformat()}: {word} kan inte vara före det."
            ]
        elif left and day > left:
            errors[name] = [
                f"{member.name} lämnade samverkan {left.isoformat()}: {word} kan "
                "inte vara efter det."
            ]
    return errors


def _used_settings(entered: dict) -> set[str]:
    """The form fields the entered key reads (beside name, amount and the like)."""
    kind, rest = entered.get("key_kind", "").strip(), entered.get("rest", "").strip()
    used = set(POOL_FIELDS) - {"equal_percent", "rest", "population_year", "usage_service"}
    if kind == allocation.HYBRID:
        used |= {"equal_percent", "rest"}
    if kind == allocation.POPULATION or (kind == allocation.HYBRID and rest == "population"):
        used |= {"population_year", "population"}
    if kind == allocation.USAGE or (kind == allocation.HYBRID and rest == "usage"):
        used.add("usage_service")
    if kind == allocation.PERCENTAGES:
        used.add("percentage")
    if entered.get("pro_rata", "").strip() == "ja":
        used |= {"joined_on", "left_on"}
    return used


def _uses(data: dict, figure: str) -> bool:
    kind, rest = data["key_kind"], data.get("rest")
    return kind == figure or (kind == allocation.HYBRID and rest == figure)


def _keep_what_the_key_uses(data: dict, participants: dict) -> dict:
    """The pool as stored: settings and figures the key does not use are dropped, so what
    is stored is what an allocation will read."""
    kind = data["key_kind"]
    settings = {}
    if kind == allocation.HYBRID:
        settings.update(equal_percent=data["equal_percent"], rest=data["rest"])
    if _uses(data, allocation.POPULATION) and data.get("population_year") is not None:
        settings["year"] = data["population_year"]
    if _uses(data, allocation.USAGE):
        settings["service"] = data.get("usage_service")
    population = _uses(data, allocation.POPULATION)
    pro_rata = bool(data["pro_rata"])
    return {
        "period": data["period"],
        "name": data["name"],
        "category": data["category"],
        "description": data.get("description"),
        "amount_ore": data["amount"],
        "key_kind": kind,
        "key_settings": settings,
        "pro_rata": bool(data["pro_rata"]),
        "participants": {
            slug: {
                "percentage": figures["percentage"] if kind == allocation.PERCENTAGES else None,
                "population": figures["population"] if population else None,
                "joined_on": figures["joined_on"] if pro_rata else None,
                "left_on": figures["left_on"] if pro_rata else None,
            }
            for slug, figures in participants.items()
        },
    }


def pool_entered(pool) -> tuple[dict, list[str]]:
    """A stored pool as the form shows it."""
    settings = pool.key_settings or {}
    entered = {
        "period": pool.period,
        "name": pool.name,
        "category": pool.category,
        "description": pool.description or "",
        "amount": amount_text(pool.amount_ore),
        "key_kind": pool.key_kind,
        "equal_percent": (settings.get("equal_percent") or "").replace(".", ","),
        "rest": settings.get("rest") or "",
        "population_year": str(settings.get("year") or ""),
        "usage_service": settings.get("service") or "",
        "pro_rata": "ja" if pool.pro_rata else "",
    }
    chosen = []
    for p in pool.participants:
        chosen.append(p.tenant.slug)
        entered[field_name("percentage", p.tenant.slug)] = (p.percentage or "").replace(".", ",")
        entered[field_name("population", p.tenant.slug)] = (
            "" if p.population is None else str(p.population)
        )
        for name in ("joined_on", "left_on"):
            day = getattr(p, name)
            entered[field_name(name, p.tenant.slug)] = day.isoformat() if day else ""
    return entered, chosen


# -- the key comparison ------------------------------------------------------------------


COMPARABLE = {kind: label for kind, label in KEYS.items() if kind != allocation.PERCENTAGES}


def _key_choice(which: str) -> fields.String:
    message = f"Välj den {which} nyckeln: lika delar, folkmängd, användning eller hybrid."
    return fields.String(
        required=True,
        validate=validate.OneOf(tuple(COMPARABLE), error=message),
        error_messages={"required": message, "null": message},
    )


class CompareSchema(Form):
    """The comparison's query: an amount for the period split under two keys."""

    period = period_field()
    amount = Kronor(
        required=True,
        error_messages={
            "required": f"Fyll i ett belopp i kronor, {AMOUNT_EXAMPLE}.",
            "null": f"Fyll i ett belopp i kronor, {AMOUNT_EXAMPLE}.",
        },
    )
    a = _key_choice("första")
    b = _key_choice("andra")
    # For a hybrid key: the part split equally, and what the rest follows.
    equal_percent = Percent("den lika delen", load_default="30")
    rest = fields.String(
        load_default=allocation.POPULATION,
        validate=validate.OneOf(
            (allocation.POPULATION, allocation.USAGE),
            error="Välj folkmängd eller användning för resten.",
        ),
    )

    @pre_load
    def _hybrid_settings_only_for_hybrid(self, data, **kwargs):
        """A hybrid setting left empty, or sent with no hybrid key, takes its default."""
        hybrid = allocation.HYBRID in (data.get("a"), data.get("b"))
        return {
            k: v
            for k, v in data.items()
            if k not in ("equal_percent", "rest") or (hybrid and v is not None and str(v).strip())
        }

    @validates_schema
    def _two_keys(self, data, **kwargs):
        if data.get("a") and data.get("a") == data.get("b"):
            raise ValidationError({"b": ["Välj två olika nycklar att jämföra."]})

    @staticmethod
    def key(data: dict, which: str) -> allocation.Key:
        kind = data[which]
        if kind == allocation.HYBRID:
            return allocation.Key(kind, equal_percent=data["equal_percent"], rest=data["rest"])
        return allocation.Key(kind)
