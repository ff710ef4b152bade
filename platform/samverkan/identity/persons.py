"""Who a signed-in citizen is, from their provider's ID token, and the key that links them
to the cases they send.

The ID token is a boundary like a form: its claims are checked with marshmallow before
anything is kept. The personnummer comes from the configured claim (oidc-sweden's
personalIdentityNumber by default); a foreign eIDAS user has none, and is known by the
provider's identifier for them instead.
"""

import functools
import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from samverkan.catalogue import swedish

PERSONNUMMER = "personnummer"
FOREIGN = "foreign"
NAME_LENGTH = validate.Length(max=200)


class UnusableIdentity(Exception):
    """The provider's answer does not say who the person is in a way we can use."""


@dataclass(frozen=True)
class Identity:
    kind: str  # PERSONNUMMER or FOREIGN
    identifier: str  # YYYYMMDD-NNNN, or the provider's identifier for a foreign user
    name: str | None
    given_name: str | None
    family_name: str | None


@functools.cache
def _claims_schema(personnummer_claim: str, foreign_claim: str) -> Schema:
    class Claims(Schema):
        class Meta:
            unknown = EXCLUDE

        personnummer = fields.String(data_key=personnummer_claim, load_default=None)
        foreign_id = fields.String(
            data_key=foreign_claim, load_default=None, validate=validate.Length(1, 200)
        )
        name = fields.String(load_default=None, validate=NAME_LENGTH)
        given_name = fields.String(load_default=None, validate=NAME_LENGTH)
        family_name = fields.String(load_default=None, validate=NAME_LENGTH)

        @validates_schema
        def _someone(self, data, **kwargs):
            if not data.get("personnummer") and not data.get("foreign_id"):
                raise ValidationError(f"neither {personnummer_claim} nor {foreign_claim}")

    return Claims()


def identity_from_claims(claims: dict) -> Identity:
    """The person the verified ID token's claims name. Raises UnusableIdentity."""
    config = current_app.config
    schema = _claims_schema(
        config["CITIZEN_OIDC_PERSONNUMMER_CLAIM"], config["CITIZEN_OIDC_FOREIGN_ID_CLAIM"]
    )
    try:
        data = schema.load(dict(claims))
    except ValidationError as exc:
        # The messages name claims, never their values.
        raise UnusableIdentity(", ".join(sorted(exc.messages))) from exc
    names = {key: data[key] for key in ("name", "given_name", "family_name")}
    if data["personnummer"]:
        if len(data["personnummer"]) != 12:
            # The profile sends twelve digits: a shorter one would need a guessed century.
            raise UnusableIdentity("the personnummer is not 12 digits")
        try:
            number = swedish.normalize_personnummer(data["personnummer"])
        except swedish.InvalidNumber as exc:
            raise UnusableIdentity("the personnummer is not valid") from exc
        return Identity(kind=PERSONNUMMER, identifier=number, **names)
    return Identity(kind=FOREIGN, identifier=data["foreign_id"], **names)


def person_key(identity: Identity) -> str:
    """A keyed digest (HMAC-SHA256, PERSON_KEY_SECRET) that is the same for the same person
    at every sign-in: their personnummer whichever e-ID they used, or a foreign user's
    identifier at their provider. Without the key it cannot be turned back into either."""
    if identity.kind == PERSONNUMMER:
        subject = f"{PERSONNUMMER}:{identity.identifier}"
    else:
        subject = f"{FOREIGN}:{current_app.config['CITIZEN_OIDC_ISSUER']}:{identity.identifier}"
    secret = current_app.config["PERSON_KEY_SECRET"].encode()
    return hmac.new(secret, subject.encode(), hashlib.sha256).hexdigest()
