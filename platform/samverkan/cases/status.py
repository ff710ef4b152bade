"""The workflow a case moves through, with the words a citizen reads."""

import functools

RECEIVED = "received"
IN_PROGRESS = "in_progress"
WAITING = "waiting_for_citizen"
DECIDED = "decided"
CLOSED = "closed"

LABELS = {
    RECEIVED: {"sv": "Mottaget", "en": "Received"},
    IN_PROGRESS: {"sv": "Under handläggning", "en": "In progress"},
    WAITING: {"sv": "Väntar på komplettering från dig", "en": "Waiting for you"},
    DECIDED: {"sv": "Beslut fattat", "en": "Decided"},
    CLOSED: {"sv": "Avslutat", "en": "Closed"},
}


def label(status: str, lang: str = "sv") -> str:
    return LABELS.get(status, {}).get(lang, status)


@functools.cache
def choices(lang: str = "sv") -> tuple[tuple[str, str], ...]:
    """(status, label in `lang`) of every status, in their order: a filter's choices."""
    return tuple((status, label(status, lang)) for status in ALL)


# Where a case may go from each status. Closed is final: retention counts from closing.
TRANSITIONS = {
    RECEIVED: (IN_PROGRESS, WAITING, DECIDED, CLOSED),
    IN_PROGRESS: (WAITING, DECIDED, CLOSED),
    WAITING: (IN_PROGRESS, DECIDED, CLOSED),
    DECIDED: (IN_PROGRESS, CLOSED),
    CLOSED: (),
}
ALL = tuple(LABELS)


def allowed_next(status: str) -> tuple[str, ...]:
    return TRANSITIONS.get(status, ())
