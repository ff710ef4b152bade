"""API v1: answers that need correcting, and requests that are not answers at all:
each gets a clear 4xx in Swedish and stores nothing."""

import json

import pytest
from api_support import (
    ANONYMOUS,
    FELANMALAN,
    FILE_SHAPE,
    FORSKOLEPLATS,
    UNREAL_PERSONNUMMER,
    VARMEPUMP,
    WRONG_IMAGE,
    as_upload,
    nothing_stored,
    submissions,
    tiny_png,
)

# -- answers that need correcting (422) ----------------------------------------------------


def test_missing_required_answers_are_listed_per_field_in_form_order(app, client):
    response = client.post(submissions("arvika", "synpunkter"), json={})
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] == "Några svar behöver rättas."
    assert body["errors"] == {
        "kind": ["Välj ett av alternativen."],
        "area": ["Välj ett av alternativen."],
        "message": ["Du måste fylla i det här fältet."],
        "want_reply": ["Välj ett av alternativen."],
    }
    assert nothing_stored(app)


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_a_blank_required_answer_counts_as_missing(client, blank):
    response = client.post(
        submissions("arvika", "synpunkter"), json={**ANONYMOUS, "message": blank}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"message": ["Du måste fylla i det här fältet."]}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "guardian_personnummer",
            UNREAL_PERSONNUMMER,
            "Ange ett giltigt personnummer eller samordningsnummer med 10 eller 12 siffror, "
            "till exempel ÅÅÅÅMMDD-NNNN.",
        ),
        (
            "child_personnummer",
            "2023-01-15",
            "Ange ett giltigt personnummer eller samordningsnummer med 10 eller 12 siffror, "
            "till exempel ÅÅÅÅMMDD-NNNN.",
        ),
        ("postal_code", "07131", "Ange ett postnummer med fem siffror, till exempel 123 45."),
        ("postal_code", "6713", "Ange ett postnummer med fem siffror, till exempel 123 45."),
        ("email", "anna.exempel.se", "Ange en giltig e-postadress, till exempel namn@exempel.se."),
        ("phone", "ring mig", "Ange ett telefonnummer med siffror, till exempel 070-123 45 67."),
        ("start_date", "1/8 2030", "Ange ett datum som ÅÅÅÅ-MM-DD, till exempel 2027-01-15."),
        ("start_date", "2020-01-01", "Datumet måste vara i dag eller senare."),
        ("hours_per_week", "tolv", "Ange ett heltal, till exempel 12."),
        ("hours_per_week", 61, "Ange ett heltal mellan 1 och 60."),
        ("hours_per_week", True, "Ange ett heltal, till exempel 12."),
        ("preschool_wishes", "Förskoleområde norr", "Skicka alternativen som en lista."),
        ("preschool_wishes", ["Förskoleområde norr"] * 2, "Välj varje alternativ bara en gång."),
        ("preschool_wishes", ["Förskoleområde okänt"], "Välj bland alternativen."),
        ("confirm", False, "Du måste kryssa i rutan för att gå vidare."),
        ("child_name", ["Lilla", "Berg"], "Ogiltigt värde."),
        ("child_name", 42, "Ogiltigt värde."),
        ("child_name", "Lilla\x00Berg", "Texten innehåller otillåtna tecken."),
        ("child_name", "x" * 201, "Texten får vara högst 200 tecken."),
    ],
)
def test_a_wrong_answer_gets_a_swedish_message_naming_the_field(app, client, field, value, message):
    response = client.post(
        submissions("arvika", "forskoleplats"), json={**FORSKOLEPLATS, field: value}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {field: [message]}
    assert nothing_stored(app)


def test_a_wrong_orgnr_gets_a_swedish_message(app, client):
    response = client.post(
        submissions("arvika", "varmepump"), json={**VARMEPUMP, "owner_orgnr": "2120001851"}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "owner_orgnr": [
            "Ange ett giltigt organisationsnummer med 10 siffror, till exempel NNNNNN-NNNN."
        ]
    }
    assert nothing_stored(app)


def test_unknown_field_names_are_refused(app, client):
    answers = {**ANONYMOUS, "favourite_colour": "blå", "tenant": "kil"}
    response = client.post(submissions("arvika", "synpunkter"), json=answers)
    assert response.status_code == 422
    unknown = ["Okänt fält: det finns inte i den här e-tjänsten."]
    assert response.get_json()["errors"] == {"favourite_colour": unknown, "tenant": unknown}
    assert nothing_stored(app)


def test_a_choice_outside_the_options_is_refused(client):
    response = client.post(submissions("arvika", "synpunkter"), json={**ANONYMOUS, "kind": "hot"})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"kind": ["Välj ett av alternativen."]}


def test_script_in_a_text_answer_is_refused_stored_nowhere_and_not_echoed(app, client):
    script = "<script>alert(1)</script>"
    response = client.post(
        submissions("arvika", "synpunkter"), json={**ANONYMOUS, "message": script}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "message": [
            "Texten får inte innehålla HTML-kod. Ta bort tecknet < eller skriv det som text."
        ]
    }
    assert "<script" not in response.get_data(as_text=True)
    assert nothing_stored(app)


def test_script_in_a_field_name_is_not_echoed_back(app, client):
    response = client.post(
        submissions("arvika", "synpunkter"), json={**ANONYMOUS, "<script>alert(1)</script>": "x"}
    )
    assert response.status_code == 422
    assert nothing_stored(app)
    assert "<script" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (as_upload("karta.pdf", b"just some text, not a PDF"), WRONG_IMAGE),
        (as_upload("bild.png", b"MZ\x90\x00 not an image"), WRONG_IMAGE),
        (as_upload("bild.png", b""), "Filen är tom. Välj en fil med innehåll."),
        (
            {"filename": "bild.png", "content_base64": "inte base64!"},
            "Filens innehåll är inte giltig base64.",
        ),
        ("bild.png", FILE_SHAPE),
        ({**as_upload("bild.png", tiny_png()), "path": "/tmp"}, FILE_SHAPE),
    ],
    ids=["text-named-pdf", "exe-named-png", "empty", "bad-base64", "bare-string", "extra-key"],
)
def test_a_file_that_is_not_an_allowed_image_is_refused(app, client, upload, message):
    response = client.post(
        submissions("arvika", "felanmalan"), json={**FELANMALAN, "photo": upload}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"photo": [message]}
    assert nothing_stored(app)


def test_a_text_file_named_pdf_is_refused_where_pdf_is_allowed(app, client):
    answers = {**VARMEPUMP, "site_plan": as_upload("plan.pdf", b"%PDX not really a PDF")}
    response = client.post(submissions("arvika", "varmepump"), json=answers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "site_plan": ["Filen måste vara av typen PDF, JPEG eller PNG."]
    }
    assert nothing_stored(app)


def test_a_fractional_number_is_refused_not_truncated(app, client):
    answers = {**FORSKOLEPLATS, "hours_per_week": 12.7}
    response = client.post(submissions("arvika", "forskoleplats"), json=answers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "hours_per_week": ["Ange ett heltal, till exempel 12."]
    }
    assert nothing_stored(app)


def test_a_number_too_large_for_a_float_gets_a_swedish_message(client):
    body = json.dumps(FORSKOLEPLATS).replace('"hours_per_week": 30', '"hours_per_week": 1e400')
    response = client.post(
        submissions("arvika", "forskoleplats"), data=body, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["hours_per_week"][0] in {
        "Ange ett heltal mellan 1 och 60.",
        "Ange ett heltal, till exempel 12.",
    }


def test_an_address_the_outbox_cannot_send_to_is_refused_by_its_field(client):
    """A receipt to 'åsa@…' would only fail in the outbox, where nobody sees it."""
    body = {**FORSKOLEPLATS, "email": "åsa.öst@exempel.se"}
    response = client.post(submissions("arvika", "forskoleplats"), json=body)
    assert response.status_code == 422
    assert response.get_json()["errors"]["email"] == [
        "Skriv delen före @ utan å, ä, ö och andra tecken utanför a–z: vi kan inte skicka "
        "e-post dit."
    ]
    accepted = client.post(
        submissions("arvika", "forskoleplats"), json={**FORSKOLEPLATS, "email": "asa@exempel.se"}
    )
    assert accepted.status_code == 201


# -- not found, and bodies that are not answers --------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/tenants/stockholm/services",
        "/api/v1/tenants/stockholm/services/synpunkter",
        "/api/v1/tenants/arvika/services/bygglov",
        "/api/v1/tenants/stockholm/cases/some-token",
    ],
)
def test_unknown_member_or_service_is_404_json(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert set(response.get_json()) == {"error", "message"}


@pytest.mark.parametrize(
    ("member", "service"), [("stockholm", "synpunkter"), ("arvika", "bygglov")]
)
def test_submitting_to_an_unknown_member_or_service_is_404_and_stores_nothing(
    app, client, member, service
):
    response = client.post(submissions(member, service), json=ANONYMOUS)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Sidan finns inte"
    assert nothing_stored(app)


def test_a_service_the_member_switched_off_is_gone_from_its_api(app, client, switched_off):
    listed = [s["slug"] for s in client.get("/api/v1/tenants/arvika/services").get_json()]
    assert switched_off not in listed
    assert "felanmalan" in listed
    assert client.get(f"/api/v1/tenants/arvika/services/{switched_off}").status_code == 404
    response = client.post(submissions("arvika", switched_off), json=ANONYMOUS)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert nothing_stored(app)
    # Other members keep it.
    assert client.post(submissions("kil", switched_off), json=ANONYMOUS).status_code == 201


def test_a_form_encoded_body_is_415(app, client):
    response = client.post(submissions("arvika", "synpunkter"), data=ANONYMOUS)
    assert response.status_code == 415
    assert response.get_json() == {
        "error": "Fel innehållstyp",
        "message": "Skicka JSON med rubriken Content-Type: application/json.",
    }
    assert nothing_stored(app)


def test_malformed_json_is_400(app, client):
    response = client.post(
        submissions("arvika", "synpunkter"),
        data='{"kind": "fraga",',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.get_json()["message"].startswith("Kroppen är inte giltig JSON")
    assert nothing_stored(app)


@pytest.mark.parametrize(
    "body", [[ANONYMOUS], "fraga", 42, None], ids=["array", "string", "number", "null"]
)
def test_json_that_is_not_an_object_is_400(app, client, body):
    response = client.post(
        submissions("arvika", "synpunkter"), data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["message"] == (
        "Kroppen ska vara ett JSON-objekt med svaren, fält för fält."
    )
    assert nothing_stored(app)


def test_a_body_that_is_not_utf8_is_400(app, client):
    body = json.dumps(ANONYMOUS).encode().replace(b"bygglov", b"bygglov \xff\xfe")
    response = client.post(
        submissions("arvika", "synpunkter"), data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert nothing_stored(app)


def test_deeply_nested_json_is_400_not_a_server_error(app, client):
    body = '{"message": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.post(
        submissions("arvika", "synpunkter"), data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert nothing_stored(app)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_json_constants_are_400(client, constant):
    body = json.dumps(FORSKOLEPLATS).replace(
        '"hours_per_week": 30', f'"hours_per_week": {constant}'
    )
    response = client.post(
        submissions("arvika", "forskoleplats"), data=body, content_type="application/json"
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        '{"kind": "fraga", "area": "annat", "message": "Hej \\ud83d", "want_reply": "no"}',
        '{"kind": "fraga", "area": "annat", "message": "Hej", "want_reply": "no", "\\ud83d": 1}',
    ],
    ids=["in-an-answer", "in-a-field-name"],
)
def test_a_broken_surrogate_is_refused_not_a_server_error(app, client, body):
    response = client.post(
        submissions("arvika", "synpunkter"), data=body, content_type="application/json"
    )
    assert response.status_code in (400, 422)
    assert nothing_stored(app)


def test_a_body_over_the_size_limit_is_413(app, client):
    too_big = app.config["MAX_CONTENT_LENGTH"] + 1
    assert too_big > 25 * 1024 * 1024
    response = client.post(
        submissions("arvika", "synpunkter"), data=b" " * too_big, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.get_json()["error"] == "För stor förfrågan"
    assert nothing_stored(app)


def test_a_get_on_submissions_is_405_json(client):
    response = client.get(submissions("arvika", "synpunkter"))
    assert response.status_code == 405
    assert response.get_json()["error"] == "Metoden stöds inte"


def test_a_405_says_which_methods_are_allowed(client):
    response = client.get(submissions("arvika", "synpunkter"))
    assert response.status_code == 405
    assert "POST" in response.headers.get("Allow", "")
