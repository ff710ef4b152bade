"""What the outbox can deliver to. A part before the @ with å, ä, ö or any other letter
outside ASCII needs SMTPUTF8, which the delivery does not ask for and many receiving
servers refuse: such a mail only fails in the outbox, where nobody who typed the address
sees it. So it is refused where it is typed, with the reason."""

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, validate

NOT_DELIVERABLE = _l(
    "Skriv delen före @ utan å, ä, ö och andra tecken utanför a–z: vi kan inte skicka e-post dit."
)


def deliverable(address: str) -> bool:
    """Whether the outbox can send to this (well-formed) address."""
    local, _, _ = address.rpartition("@")
    return local.isascii()


class Deliverable(validate.Validator):
    """marshmallow: refuses an address the outbox cannot send to."""

    def __call__(self, value: str) -> str:
        if isinstance(value, str) and "@" in value and not deliverable(value):
            raise ValidationError(str(NOT_DELIVERABLE))
        return value
