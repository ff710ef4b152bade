from marshmallow import EXCLUDE, Schema, fields, validate


class SignInSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # the CSRF token and the button travel with the form

    email = fields.Email(
        required=True,
        validate=validate.Length(max=254),
        error_messages={
            "required": "Fyll i din e-postadress.",
            "invalid": "Ange en giltig e-postadress, till exempel namn@kommun.se.",
        },
    )
    password = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200, error="Fyll i ditt lösenord."),
        error_messages={"required": "Fyll i ditt lösenord."},
    )
