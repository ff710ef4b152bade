"""The workflow a case moves through, with the words a citizen reads and, where those would
read wrong to them, the words a case worker reads."""

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
# Staff pages and the staff API: "waiting for you" is the citizen's to read.
STAFF_LABELS = {
    **LABELS,
    WAITING: {"sv": "Väntar på komplettering", "en": "Waiting for the applicant"},
}


# What the platform itself writes into a case's history: stored in Swedish (the record),
# read in the reader's language. A case worker's own words are shown as written.
SUBMITTED_TEXT = "Ärendet har tagits emot och registrerats."
UNASSIGNED_TEXT = "Ingen handläggare tilldelad."
HISTORY_TEXTS = {
    SUBMITTED_TEXT: {"en": "The case has been received and registered."},
    UNASSIGNED_TEXT: {"en": "No case worker assigned."},
}
# "Tilldelat Anna Andersson.": a colleague's name after a fixed beginning.
ASSIGNED_TO = ("Tilldelat ", ".")
ASSIGNED_TO_WORDS = {"en": ("Assigned to ", ".")}


def assigned_text(name: str) -> str:
    return f"{ASSIGNED_TO[0]}{name}{ASSIGNED_TO[1]}"


def written_by_platform(message: str) -> bool:
    """A history text the platform wrote (history_text translates it), not one a person
    wrote, which stays in the language it was written in (Swedish)."""
    return message in HISTORY_TEXTS or (
        message.startswith(ASSIGNED_TO[0]) and message.endswith(ASSIGNED_TO[1])
    )


def history_text(message: str | None, lang: str = "sv") -> str | None:
    if message in HISTORY_TEXTS:
        return HISTORY_TEXTS[message].get(lang, message)
    words = ASSIGNED_TO_WORDS.get(lang)
    if (
        words
        and message
        and message.startswith(ASSIGNED_TO[0])
        and message.endswith(ASSIGNED_TO[1])
    ):
        return words[0] + message[len(ASSIGNED_TO[0]) : -len(ASSIGNED_TO[1])] + words[1]
    return message


def label(status: str, lang: str = "sv", *, staff: bool = False) -> str:
    return (STAFF_LABELS if staff else LABELS).get(status, {}).get(lang, status)


@functools.cache
def choices(lang: str = "sv") -> tuple[tuple[str, str], ...]:
    """(status, a case worker's label in `lang`) of every status, in their order: the
    inbox filter's choices."""
    return tuple((status, label(status, lang, staff=True)) for status in ALL)


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
