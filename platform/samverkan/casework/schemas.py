"""The case page's forms, validated at the boundary. The workflow's own rules (which status
may follow which, when a message is needed) are checked in operations.py."""

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from samverkan.casework.operations import (
    COMPLETION_TOO_LONG,
    MESSAGE_MAX,
    MESSAGE_TOO_LONG,
    NOTE_TOO_LONG,
)
from samverkan.catalogue.fields import CONTROL, UploadField
from samverkan.catalogue.uploads import FILE_KINDS
from samverkan.translatable import N_

MAX_ID = 2**31 - 1
NOT_TEXT = N_("Texten innehåller otillåtna tecken.")


def printable(text: str | None) -> None:
    """A message or note goes to the citizen's page and e-mail, and to PostgreSQL: no
    control characters (a NUL is no text there, an escape sequence none anywhere)."""
    if text and CONTROL.search(text):
        raise ValidationError(NOT_TEXT)


class _Form(Schema):
    class Meta:
        unknown = EXCLUDE  # the CSRF token travels with every form


def _seen_assignee(value: str) -> int | None:
    """Who the page showed: empty for nobody, else an account's id."""
    value = value.strip()
    if value == "":
        return None
    if value.isdigit() and len(value) <= 10 and int(value) <= MAX_ID:
        return int(value)
    raise ValidationError(N_("Välj en handläggare i listan."), "assignee")


class AssignSchema(_Form):
    """'me', a colleague's id, or empty for nobody; and who the page showed (a page made
    before the field was added sends none: "unknown", unchecked)."""

    assignee = fields.Raw(load_default=None)
    seen_assignee = fields.Raw(load_default="unknown", allow_none=True)

    @pre_load
    def _choice(self, data, **kwargs):
        data = dict(data)
        if "seen_assignee" in data:
            data["seen_assignee"] = _seen_assignee(str(data["seen_assignee"]))
        # "Ta ärendet själv" is its own button: sent beside the list, whatever it shows.
        value = "me" if data.pop("ta_sjalv", None) else str(data.get("assignee") or "").strip()
        if value in ("", "me"):
            data["assignee"] = value or None
        elif value.isdigit() and len(value) <= 10 and int(value) <= MAX_ID:
            data["assignee"] = int(value)
        else:
            raise ValidationError(N_("Välj en handläggare i listan."), "assignee")
        return data


class TransitionSchema(_Form):
    status = fields.String(
        required=True,
        # Longer than any status: a tampered form, answered as any unknown status is.
        validate=validate.Length(max=30, error=N_("Välj en ny status i listan.")),
        error_messages={"required": N_("Välj en ny status.")},
    )
    message = fields.String(
        load_default=None,
        validate=[validate.Length(max=MESSAGE_MAX, error=MESSAGE_TOO_LONG), printable],
    )
    # The status the page showed: a change from a page another has overtaken is refused.
    seen_status = fields.String(
        load_default=None,
        validate=validate.Length(max=30, error=N_("Välj en ny status i listan.")),
    )
    seen_news = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=MAX_ID, error=N_("Välj en ny status i listan.")),
        error_messages={"invalid": N_("Välj en ny status i listan.")},
    )

    @pre_load
    def _unseen_is_unchecked(self, data, **kwargs):
        """A page that sent no view of the case (an empty field) is not checked against."""
        return {k: v for k, v in data.items() if not (k.startswith("seen_") and v == "")}


class NoteSchema(_Form):
    note = fields.String(
        required=True,
        validate=[validate.Length(max=MESSAGE_MAX, error=NOTE_TOO_LONG), printable],
        error_messages={"required": N_("Skriv anteckningen.")},
    )


# What a citizen may attach to a completion: as many files as a document and a photo or
# two need, each of the kinds every e-service takes (fields.html says so beside the field).
COMPLETION_FILES_MAX = 5
COMPLETION_FILE_MB = 10
# The limit in words, for the catalogue: a literal (tests/test_completion_files.py checks
# that it names COMPLETION_FILES_MAX).
TOO_MANY_FILES = N_("Du kan bifoga högst 5 filer.")


class CompletionSchema(_Form):
    """The citizen's completion from the status page: text, files or both (operations
    refuses neither). Each file is checked as a form's file field checks its file."""

    completion = fields.String(
        load_default="",
        validate=[validate.Length(max=MESSAGE_MAX, error=COMPLETION_TOO_LONG), printable],
    )
    completion_files = fields.List(
        UploadField(accept=list(FILE_KINDS), max_bytes=COMPLETION_FILE_MB * 1024 * 1024),
        load_default=list,
    )

    @pre_load
    def _not_too_many(self, data, **kwargs):
        """Counted before any file is read or scanned."""
        if len(data.get("completion_files") or ()) > COMPLETION_FILES_MAX:
            raise ValidationError(TOO_MANY_FILES, "completion_files")
        return data
