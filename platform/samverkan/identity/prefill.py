"""What a signed-in citizen's e-ID fills in on a form: fields whose definition says
`prefill = "personnummer"` or `"name"`. Those answers are read-only: whatever a browser
sends for them is replaced by the e-ID's values, on every step and again at submitting."""

from samverkan.catalogue.engine import ServiceForm
from samverkan.identity.models import CitizenSession
from samverkan.identity.persons import PERSONNUMMER


def needs_sign_in(form: ServiceForm) -> bool:
    return bool(form.definition.get("login_required"))


def lacks_what_the_form_needs(form: ServiceForm, person: CitizenSession) -> bool:
    """An e-service that needs e-ID and asks the e-ID for a personnummer, with someone whose
    e-ID has none (a foreign eIDAS user): typing one in would pass off a number nobody
    vouched for as the e-ID's, so they cannot use it."""
    wanted = {spec.get("prefill") for spec in form.all_fields()}
    return (
        needs_sign_in(form) and "personnummer" in wanted and person.identifier_kind != PERSONNUMMER
    )


def prefilled_answers(form: ServiceForm, person: CitizenSession | None) -> dict[str, str]:
    """{field name: value} for the fields this person's e-ID can fill in. A foreign e-ID
    user has no personnummer: that field stays theirs to fill in."""
    if person is None:
        return {}
    known = {
        "personnummer": person.identifier if person.identifier_kind == PERSONNUMMER else None,
        "name": person.display_name,
    }
    return {
        spec["name"]: known[spec["prefill"]]
        for spec in form.all_fields()
        if spec.get("prefill") and known.get(spec["prefill"])
    }
