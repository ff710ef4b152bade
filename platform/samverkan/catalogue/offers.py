"""Which kinds of member an e-service is for: a definition's `offered_to`.

Left out, an e-service is the municipalities': every one in the catalogue so far is
(preschool places, school transport, parking permits, street faults), and a region joins
for services of its own (FACTS.md: Region Värmland for e-health). A member switches on
only what is offered to its kind: a region taking school-transport applications would
have citizens send them where no one handles them, and be counted for their use.
"""

from samverkan.tenancy.models import MUNICIPALITY, REGION

DEFAULT_OFFERED_TO = (MUNICIPALITY,)
# The kinds in the hub's (Swedish) words: "en region", "för kommuner".
KIND_WORDS = {MUNICIPALITY: "kommun", REGION: "region"}
KINDS_PLURAL = {MUNICIPALITY: "kommuner", REGION: "regioner"}


def offered_to(definition: dict) -> tuple[str, ...]:
    """The kinds of member that may switch on the e-service `definition` (its content)."""
    return tuple(definition.get("offered_to") or DEFAULT_OFFERED_TO)


def offered_for(definition: dict, kind: str) -> bool:
    return kind in offered_to(definition)


def only_for_text(definition: dict) -> str:
    """'kommuner', 'regioner' or 'kommuner och regioner': whom it is offered to."""
    return " och ".join(KINDS_PLURAL[kind] for kind in offered_to(definition))
