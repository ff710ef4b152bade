"""The form engine without HTTP: definitions checked, answers validated and normalised.

Inline definitions go through DefinitionSchema, as the ones in services/ do, so every form
here is one the platform could really serve.
"""

import base64
import io
import json
import re
import struct
import zlib
from datetime import date, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError
from werkzeug.datastructures import FileStorage, MultiDict

from samverkan.catalogue import uploads
from samverkan.catalogue.definition_schema import DefinitionSchema, flatten_errors
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.fields import FIELD_TYPES
from samverkan.catalogue.loader import load_definitions
from samverkan.catalogue.uploads import IncomingFile, StoredFile
from samverkan.clock import swedish_today
from samverkan.settings import PROJECT_ROOT

REQUIRED = "Du måste fylla i det här fältet."
UNKNOWN = "Okänt fält: det finns inte i den här e-tjänsten."
HTML = "Texten får inte innehålla HTML-kod. Ta bort tecknet < eller skriv det som text."
PERSONNUMMER = (
    "Ange ett giltigt personnummer eller samordningsnummer med 10 eller 12 siffror, "
    "till exempel ÅÅÅÅMMDD-NNNN."
)
ORGNR = "Ange ett giltigt organisationsnummer med 10 siffror, till exempel NNNNNN-NNNN."
POSTNUMMER = "Ange ett postnummer med fem siffror, till exempel 123 45."
PHONE = "Ange ett telefonnummer med siffror, till exempel 070-123 45 67."
EMAIL = "Ange en giltig e-postadress, till exempel namn@exempel.se."
DATE = "Ange ett datum som ÅÅÅÅ-MM-DD, till exempel 2027-01-15."
INTEGER = "Ange ett heltal, till exempel 12."

# What marshmallow says when a message was not given in Swedish.
ENGLISH = re.compile(
    r"Not a valid|Missing data|may not be null|Unknown field|too large|Length must|"
    r"Must be|Shorter than|Longer than|Invalid|Field may"
)


# -- files a citizen might attach, made here byte by byte ---------------------------------


def png_1x1() -> bytes:
    """A real one-pixel grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")  # filter byte, then one grey pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg_1x1() -> bytes:
    """A real one-pixel grey baseline JPEG (decodes to a single pixel of value 128)."""

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload

    jfif = segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    quant = segment(0xDB, b"\x00" + bytes([1] * 64))
    frame = segment(0xC0, struct.pack(">BHHB", 8, 1, 1, 1) + b"\x01\x11\x00")
    # One code of length 1 in each Huffman table: DC category 0, and AC end-of-block.
    dc_table = segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")
    ac_table = segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    scan_header = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    scan = b"\x3f"  # DC difference 0 ("0"), end of block ("0"), padded with ones
    return (
        b"\xff\xd8" + jfif + quant + frame + dc_table + ac_table + scan_header + scan + b"\xff\xd9"
    )


def pdf_minimal() -> bytes:
    """A PDF with a catalogue and an empty page tree."""
    return (
        b"%PDF-1.4\n"
        b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def gif_1x1() -> bytes:
    return b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


FILE_BYTES = {"pdf": pdf_minimal, "png": png_1x1, "jpeg": jpeg_1x1}


def upload(filename: str, data: bytes) -> dict:
    """A file as the API sends it."""
    return {"filename": filename, "content_base64": base64.b64encode(data).decode()}


# -- definitions ------------------------------------------------------------------------


def local(sv: str) -> dict:
    return {"sv": sv, "en": f"{sv} (en)"}


def field(name: str, type_: str, **keys) -> dict:
    return {"name": name, "type": type_, "label": local(name.capitalize()), **keys}


def option(value: str) -> dict:
    return {"value": value, "label": local(value.capitalize())}


def raw_definition(*steps: list[dict], settings: dict | None = None) -> dict:
    """A definition as it would be read from TOML: one step per list of fields."""
    raw = {
        "slug": "prov",
        "version": 1,
        "category": "prov",
        "audience": "all",
        "retention_years": 2,
        "title": local("Prov"),
        "summary": local("En e-tjänst att pröva med."),
        "next_steps": local("Vi hör av oss."),
        "steps": [
            {"id": f"steg-{i}", "title": local(f"Steg {i}"), "fields": fields}
            for i, fields in enumerate(steps, start=1)
        ],
    }
    if settings is not None:
        raw["settings"] = settings
    return raw


def load(*steps: list[dict], settings: dict | None = None) -> dict:
    return DefinitionSchema().load(raw_definition(*steps, settings=settings))


def make_form(*steps: list[dict], settings=None, member_settings=None) -> ServiceForm:
    return ServiceForm(load(*steps, settings=settings), member_settings)


def definition_errors(raw: dict) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        DefinitionSchema().load(raw)
    return flatten_errors(caught.value.messages)


TRANSPORT = [option("buss"), option("taxi"), option("egen")]

# Keys each type needs (or that make its limits visible) in the one-field forms below.
TYPE_KEYS = {
    "text": {"max_length": 20},
    "textarea": {"max_length": 50},
    "email": {},
    "phone": {},
    "personnummer": {},
    "orgnr": {},
    "postnummer": {},
    "date": {},
    "number": {"min": 1, "max": 60},
    "choice": {"options": TRANSPORT},
    "multichoice": {"options": TRANSPORT, "max_choices": 2},
    "consent": {},
    "file": {"accept": ["pdf", "png", "jpeg"], "max_size_mb": 1},
}


def one_field_form(type_: str, required: bool = True, **keys) -> ServiceForm:
    spec = field("svar", type_, required=required, **{**TYPE_KEYS[type_], **keys})
    return make_form([spec])


def answer(type_: str, value, required: bool = True, **keys):
    """Validate one answer to a one-field form; the result as the engine gives it."""
    return one_field_form(type_, required, **keys).validate_all({"svar": value})


def assert_refused(result, message: str) -> None:
    assert result.errors == {"svar": [message]}
    assert "svar" not in result.answers


def test_every_field_type_is_covered_here():
    assert set(TYPE_KEYS) == set(FIELD_TYPES)


# -- a valid answer passes and is normalised ---------------------------------------------


@pytest.mark.parametrize(
    ("type_", "value", "stored"),
    [
        ("text", "  Anna Svensson  ", "Anna Svensson"),
        ("text", "3 < 5 och <3", "3 < 5 och <3"),
        ("textarea", " Rad ett\nRad två\tmed tabb ", "Rad ett\nRad två\tmed tabb"),
        ("email", "anna.svensson@karlstad.se", "anna.svensson@karlstad.se"),
        ("phone", " 070-123 45 67 ", "070-123 45 67"),
        ("phone", "+46 (0)54-540 00 00", "+46 (0)54-540 00 00"),
        ("personnummer", "8112289874", "19811228-9874"),
        ("personnummer", " 19811228-9874 ", "19811228-9874"),
        ("personnummer", "701063-2391", "19701063-2391"),
        ("orgnr", "2120001850", "212000-1850"),
        ("postnummer", "65225", "652 25"),
        ("postnummer", "652 25", "652 25"),
        ("date", "2027-01-15", date(2027, 1, 15)),
        ("number", "12", 12),
        ("number", 60, 60),
        ("number", "1", 1),
        ("choice", "taxi", "taxi"),
        ("multichoice", ["taxi", "buss"], ["taxi", "buss"]),
        ("consent", "on", True),
        ("consent", True, True),
        ("consent", "ja", True),
    ],
)
def test_valid_answer_is_accepted_and_stored_in_normal_form(type_, value, stored):
    result = answer(type_, value)
    assert result.errors == {}
    assert result.answers == {"svar": stored}


@pytest.mark.parametrize("kind", ["pdf", "png", "jpeg"])
def test_file_whose_content_is_an_allowed_kind_is_accepted(kind):
    data = FILE_BYTES[kind]()
    result = answer("file", upload(f"bilaga.{kind}", data))
    assert result.errors == {}
    assert result.answers == {"svar": IncomingFile(filename=f"bilaga.{kind}", data=data, kind=kind)}


def test_file_kind_comes_from_content_not_from_the_file_name():
    result = answer("file", upload("foto.png", pdf_minimal()), accept=["pdf"])
    assert result.answers["svar"].kind == "pdf"
    assert result.answers["svar"].content_type == "application/pdf"


def test_file_from_a_form_post_is_accepted():
    storage = FileStorage(stream=io.BytesIO(png_1x1()), filename="karta.png")
    result = answer("file", storage)
    assert result.errors == {}
    assert result.answers["svar"].kind == "png"
    assert result.answers["svar"].data == png_1x1()


def test_file_already_stored_passes_unchanged():
    stored = StoredFile("intyg.pdf", "abc.pdf", "application/pdf", 125, "0" * 64)
    assert answer("file", stored).answers == {"svar": stored}


def test_date_in_the_future_range_may_be_today_or_later():
    today = swedish_today()
    for day in (today, today + timedelta(days=400)):
        assert answer("date", day.isoformat(), range="future").answers == {"svar": day}


def test_date_in_the_past_range_may_be_today_or_earlier():
    today = swedish_today()
    for day in (today, date(1950, 1, 1)):
        assert answer("date", day.isoformat(), range="past").answers == {"svar": day}


def test_number_from_a_form_may_be_written_with_spaces():
    spec = field("antal", "number", min=1, max=5000)
    form = make_form([spec])
    raw = FIELD_TYPES["number"].from_form(spec, MultiDict({"antal": "1 000"}), MultiDict())
    assert form.validate_all({"antal": raw}).answers == {"antal": 1000}


def test_multichoice_options_from_a_member_setting_use_the_text_as_value():
    form = make_form(
        [field("skolor", "multichoice", options_setting="skolor", max_choices=2)],
        settings={"skolor": {"type": "list", "required": True, "label": local("Skolor")}},
        member_settings={"skolor": ["Herrhagsskolan", "Kronoparksskolan", "Nyedsskolan"]},
    )
    result = form.validate_all({"skolor": ["Nyedsskolan", "Herrhagsskolan"]})
    assert result.errors == {}
    assert result.answers == {"skolor": ["Nyedsskolan", "Herrhagsskolan"]}
    assert form.validate_all({"skolor": ["Sundsta"]}).errors == {
        "skolor": ["Välj bland alternativen."]
    }


def test_multichoice_from_a_setting_the_member_has_not_filled_accepts_nothing():
    form = make_form(
        [field("skolor", "multichoice", options_setting="skolor")],
        settings={"skolor": {"type": "list", "required": True, "label": local("Skolor")}},
    )
    assert form.validate_all({"skolor": ["Nyedsskolan"]}).errors == {
        "skolor": ["Välj bland alternativen."]
    }


# -- an invalid answer is refused with a Swedish message ---------------------------------


@pytest.mark.parametrize(
    ("type_", "value", "message"),
    [
        ("text", "x" * 21, "Texten får vara högst 20 tecken."),
        ("text", "Anna\x00Svensson", "Texten innehåller otillåtna tecken."),
        ("text", ["Anna"], "Ogiltigt värde."),
        ("textarea", "x" * 51, "Texten får vara högst 50 tecken."),
        ("email", "anna.svensson.karlstad.se", EMAIL),
        ("email", "anna@", EMAIL),
        ("email", "a" * 60 + "@" + ("b" * 60 + ".") * 4 + "se", "E-postadressen är för lång."),
        ("phone", "ring mig", PHONE),
        ("phone", "070-12", PHONE),
        ("phone", "1234567890123456", PHONE),
        ("personnummer", "811228-9875", PERSONNUMMER),
        ("personnummer", "19810230-1234", PERSONNUMMER),
        ("personnummer", "811228", PERSONNUMMER),
        ("orgnr", "212000-1851", ORGNR),
        ("orgnr", "21200018", ORGNR),
        ("postnummer", "052 25", POSTNUMMER),
        ("postnummer", "6522", POSTNUMMER),
        ("date", "15/1 2027", DATE),
        ("date", "2027-02-30", DATE),
        ("number", "tolv", INTEGER),
        ("number", "12,5", INTEGER),
        ("number", True, INTEGER),
        ("number", "0", "Ange ett heltal mellan 1 och 60."),
        ("number", "61", "Ange ett heltal mellan 1 och 60."),
        ("choice", "cykel", "Välj ett av alternativen."),
        ("multichoice", ["cykel"], "Välj bland alternativen."),
        ("multichoice", ["taxi", "taxi"], "Välj varje alternativ bara en gång."),
        ("multichoice", ["taxi", "buss", "egen"], "Välj högst 2 alternativ."),
        ("multichoice", "taxi", "Skicka alternativen som en lista."),
        ("consent", "kanske", "Svara med sant eller falskt."),
        ("consent", False, "Du måste kryssa i rutan för att gå vidare."),
        ("consent", "nej", "Du måste kryssa i rutan för att gå vidare."),
    ],
)
def test_invalid_answer_is_refused_with_a_swedish_message(type_, value, message):
    assert_refused(answer(type_, value), message)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"min": 10}, "Ange ett heltal som är 10 eller större."),
        ({"max": 5}, "Ange ett heltal som är högst 5."),
    ],
)
def test_number_outside_a_one_sided_limit_names_the_limit(keys, message):
    form = make_form([field("svar", "number", **keys)])
    assert_refused(form.validate_all({"svar": "7" if "min" in keys else "6"}), message)


def test_date_before_today_is_refused_when_the_range_is_future():
    yesterday = (swedish_today() - timedelta(days=1)).isoformat()
    assert_refused(
        answer("date", yesterday, range="future"), "Datumet måste vara i dag eller senare."
    )


def test_date_after_today_is_refused_when_the_range_is_past():
    tomorrow = (swedish_today() + timedelta(days=1)).isoformat()
    assert_refused(answer("date", tomorrow, range="past"), "Datumet får inte vara i framtiden.")


def test_optional_consent_left_unticked_is_stored_as_no():
    assert answer("consent", "nej", required=False).answers == {"svar": False}


def test_number_with_decimals_from_the_api_is_refused_not_truncated():
    assert_refused(answer("number", 2.5), INTEGER)


def test_number_too_large_for_an_integer_gets_a_swedish_message():
    assert_refused(answer("number", float("inf")), INTEGER)


def test_multichoice_item_that_is_not_text_gets_a_swedish_message():
    result = answer("multichoice", [1])
    assert result.errors
    assert not ENGLISH.search(" ".join(result.errors["svar"]))


def test_email_with_surrounding_space_is_accepted_and_trimmed():
    assert answer("email", " anna@karlstad.se ").answers == {"svar": "anna@karlstad.se"}


@pytest.mark.parametrize(
    "value",
    [
        "<script>alert(1)</script>",
        "<b>fet</b>",
        "Klicka <a href='https://example.com'>här</a>",
        "</p>",
        "< img src=x onerror=alert(1)>",
        "<!-- kommentar -->",
        "<?php echo 1; ?>",
    ],
)
@pytest.mark.parametrize("type_", ["text", "textarea"])
def test_html_markup_in_text_is_refused(type_, value):
    assert_refused(answer(type_, value, max_length=200), HTML)


# -- files refused ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "accept", "message"),
    [
        (png_1x1(), ["pdf"], "Filen måste vara av typen PDF."),
        (pdf_minimal(), ["jpeg", "png"], "Filen måste vara av typen JPEG eller PNG."),
        (
            "Hej, det här är text.".encode(),
            ["pdf", "png"],
            "Filen måste vara av typen PDF eller PNG.",
        ),
        (gif_1x1(), ["pdf", "jpeg", "png"], "Filen måste vara av typen PDF, JPEG eller PNG."),
    ],
)
def test_file_whose_content_is_not_an_accepted_kind_is_refused(data, accept, message):
    assert_refused(answer("file", upload("intyg.pdf", data), accept=accept), message)


def test_file_of_exactly_the_size_limit_is_accepted():
    data = pdf_minimal().ljust(1024 * 1024, b"\n")
    assert answer("file", upload("stor.pdf", data)).errors == {}


@pytest.mark.parametrize("through", ["api", "form"])
def test_file_over_the_size_limit_is_refused_naming_the_limit(through):
    data = pdf_minimal().ljust(1024 * 1024 + 1, b"\n")
    value = (
        upload("stor.pdf", data)
        if through == "api"
        else FileStorage(stream=io.BytesIO(data), filename="stor.pdf")
    )
    assert_refused(answer("file", value), "Filen är för stor. Den får vara högst 1 MB.")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"filename": "a.pdf", "content_base64": "inte base64!"},
            "Filens innehåll är inte giltig base64.",
        ),
        ({"filename": "a.pdf", "content_base64": "åäö"}, "Filens innehåll är inte giltig base64."),
        (upload("tom.pdf", b""), "Filen är tom. Välj en fil med innehåll."),
        (
            {"filename": "a.pdf"},
            'Skicka filen som {"filename": "...", "content_base64": "..."}.',
        ),
        ("intyg.pdf", 'Skicka filen som {"filename": "...", "content_base64": "..."}.'),
    ],
)
def test_file_sent_in_the_wrong_shape_is_refused(value, message):
    assert_refused(answer("file", value), message)


# -- empty answers ----------------------------------------------------------------------

REQUIRED_MESSAGE = {
    "text": REQUIRED,
    "textarea": REQUIRED,
    "email": REQUIRED,
    "phone": REQUIRED,
    "personnummer": REQUIRED,
    "orgnr": REQUIRED,
    "postnummer": REQUIRED,
    "date": REQUIRED,
    "number": REQUIRED,
    "choice": "Välj ett av alternativen.",
    "multichoice": "Välj minst ett alternativ.",
    "consent": "Du måste kryssa i rutan för att gå vidare.",
    "file": "Välj en fil att ladda upp.",
}
EMPTY_VALUES = ["", None, []]


@pytest.mark.parametrize("empty", EMPTY_VALUES, ids=["blank", "null", "empty-list"])
@pytest.mark.parametrize("type_", sorted(FIELD_TYPES))
def test_required_field_left_empty_gets_a_swedish_required_message(type_, empty):
    assert_refused(answer(type_, empty), REQUIRED_MESSAGE[type_])


@pytest.mark.parametrize("type_", sorted(FIELD_TYPES))
def test_required_field_left_out_gets_a_swedish_required_message(type_):
    result = one_field_form(type_).validate_all({})
    assert result.errors == {"svar": [REQUIRED_MESSAGE[type_]]}


@pytest.mark.parametrize("empty", EMPTY_VALUES, ids=["blank", "null", "empty-list"])
@pytest.mark.parametrize("type_", sorted(FIELD_TYPES))
def test_optional_field_left_empty_is_no_answer_and_no_error(type_, empty):
    result = answer(type_, empty, required=False)
    assert result.errors == {}
    assert result.answers == {}


STRING_TYPES = [
    "text",
    "textarea",
    "email",
    "phone",
    "personnummer",
    "orgnr",
    "postnummer",
    "date",
    "number",
    "choice",
]


@pytest.mark.parametrize(
    "type_",
    [t for t in STRING_TYPES],
)
def test_required_field_answered_with_only_whitespace_gets_the_required_message(type_):
    assert_refused(answer(type_, " \t\n "), REQUIRED_MESSAGE[type_])


@pytest.mark.parametrize("type_", STRING_TYPES)
def test_optional_field_answered_with_only_whitespace_is_no_answer_and_no_error(type_):
    result = answer(type_, "   ", required=False)
    assert result.errors == {}
    assert result.answers == {}


# -- conditional fields -----------------------------------------------------------------

CONDITIONAL = [
    field("transport", "choice", options=TRANSPORT),
    field("taxi_reason", "textarea", show_if={"field": "transport", "equals": "taxi"}),
    field("pickup", "text", show_if={"field": "transport", "any_of": ["buss", "taxi"]}),
    field(
        "has_helper",
        "choice",
        options=[option("ja"), option("nej")],
        show_if={"field": "transport", "equals": "taxi"},
    ),
    field("helper_name", "text", show_if={"field": "has_helper", "equals": "ja"}),
    field(
        "helper_phone", "phone", required=False, show_if={"field": "helper_name", "any_of": ["Bo"]}
    ),
    field("wants_email", "consent", required=False),
    field("email", "email", show_if={"field": "wants_email", "equals": True}),
    field("needs", "multichoice", required=False, options=[option("rullstol"), option("annat")]),
    field("needs_other", "text", show_if={"field": "needs", "any_of": ["annat"]}),
]


@pytest.fixture
def conditional_form():
    return make_form(CONDITIONAL)


def test_field_shown_by_equals_is_required_when_its_condition_is_met(conditional_form):
    result = conditional_form.validate_all(
        {"transport": "taxi", "pickup": "Hemma", "has_helper": "nej"}
    )
    assert result.errors == {"taxi_reason": [REQUIRED]}


def test_field_hidden_by_equals_is_not_validated_and_its_answer_is_dropped(conditional_form):
    result = conditional_form.validate_all(
        {"transport": "egen", "taxi_reason": "<b>ogiltig</b>", "has_helper": "kanske"}
    )
    assert result.errors == {}
    assert result.answers == {"transport": "egen"}


@pytest.mark.parametrize("transport", ["buss", "taxi"])
def test_field_shown_by_any_of_is_validated_for_each_listed_answer(conditional_form, transport):
    result = conditional_form.validate_all(
        {"transport": transport, "taxi_reason": "Rullstol", "has_helper": "nej", "pickup": "<i>"}
    )
    assert result.errors == {"pickup": [HTML]}


def test_field_hidden_by_any_of_drops_its_answer(conditional_form):
    result = conditional_form.validate_all({"transport": "egen", "pickup": "Stora torget"})
    assert result.ok
    assert "pickup" not in result.answers


@pytest.mark.parametrize("ticked", ["on", True, "true", "ja"])
def test_field_shown_when_consent_is_ticked_is_validated(conditional_form, ticked):
    raw = {"transport": "egen", "wants_email": ticked, "email": "inte-en-adress"}
    assert conditional_form.validate_all(raw).errors == {"email": [EMAIL]}
    raw["email"] = "anna@karlstad.se"
    assert conditional_form.validate_all(raw).answers == {
        "transport": "egen",
        "wants_email": True,
        "email": "anna@karlstad.se",
    }


@pytest.mark.parametrize("unticked", [False, "nej", "false", None])
def test_field_shown_by_consent_is_dropped_when_consent_is_not_ticked(conditional_form, unticked):
    raw = {"transport": "egen", "wants_email": unticked, "email": "anna@karlstad.se"}
    result = conditional_form.validate_all(raw)
    assert result.ok
    assert "email" not in result.answers


def test_field_shown_by_a_multichoice_answer_appears_when_any_choice_matches(conditional_form):
    raw = {"transport": "egen", "needs": ["rullstol", "annat"]}
    assert conditional_form.validate_all(raw).errors == {"needs_other": [REQUIRED]}
    raw["needs"] = ["rullstol"]
    assert conditional_form.validate_all({**raw, "needs_other": "Hund"}).answers == {
        "transport": "egen",
        "needs": ["rullstol"],
    }


def test_chained_condition_requires_each_link_when_all_are_met(conditional_form):
    raw = {"transport": "taxi", "taxi_reason": "Rullstol", "pickup": "Hemma", "has_helper": "ja"}
    assert conditional_form.validate_all(raw).errors == {"helper_name": [REQUIRED]}
    raw.update(helper_name="Bo", helper_phone="070-123 45 67")
    assert conditional_form.validate_all(raw).answers == raw


def test_chained_condition_hides_the_whole_chain_when_the_first_link_is_hidden(conditional_form):
    # The stale answers still say "ja" and "Bo", but has_helper is hidden, so all go.
    raw = {
        "transport": "buss",
        "pickup": "Hemma",
        "has_helper": "ja",
        "helper_name": "Bo",
        "helper_phone": "inte ett nummer",
    }
    result = conditional_form.validate_all(raw)
    assert result.errors == {}
    assert result.answers == {"transport": "buss", "pickup": "Hemma"}


def test_condition_on_an_earlier_step_is_read_from_the_answers_so_far():
    form = make_form(
        [field("transport", "choice", options=TRANSPORT)],
        [field("taxi_reason", "text", show_if={"field": "transport", "equals": "taxi"})],
    )
    second = form.steps[1]["fields"]
    assert form.validate(second, {}, context={"transport": "taxi"}).errors == {
        "taxi_reason": [REQUIRED]
    }
    hidden = form.validate(second, {"taxi_reason": "Rullstol"}, context={"transport": "buss"})
    assert hidden.ok
    assert hidden.answers == {}


def test_condition_on_a_number_field_works_for_text_from_a_form_post():
    form = make_form(
        [
            field("children", "number", min=0, max=10),
            field("third_child", "text", show_if={"field": "children", "equals": 3}),
        ]
    )
    assert form.validate_all({"children": 3, "third_child": "Ella"}).answers["third_child"]
    result = form.validate_all({"children": "3", "third_child": "Ella"})
    assert result.answers == {"children": 3, "third_child": "Ella"}


# -- whole submissions ------------------------------------------------------------------


def test_unknown_field_is_refused_by_validate_all_and_the_rest_still_validated():
    form = one_field_form("text")
    result = form.validate_all({"svar": "Anna", "personnummer": "19811228-9874"})
    assert result.errors == {"personnummer": [UNKNOWN]}
    assert result.answers == {"svar": "Anna"}


def test_unknown_fields_in_one_step_post_are_ignored_not_refused():
    form = one_field_form("text")
    result = form.validate(form.all_fields(), {"svar": "Anna", "csrf_token": "abc"})
    assert result.ok
    assert result.answers == {"svar": "Anna"}


def test_errors_come_back_in_definition_order_whatever_order_they_were_sent_in():
    form = make_form(
        [field("zeta", "email"), field("alfa", "number", min=1)],
        [field("mitt", "postnummer"), field("beta", "choice", options=TRANSPORT)],
    )
    raw = {"okand": 1, "beta": "cykel", "mitt": "0", "alfa": "noll", "zeta": "nej"}
    assert list(form.validate_all(raw).errors) == ["zeta", "alfa", "mitt", "beta", "okand"]


def test_answers_survive_a_round_trip_through_json(tmp_path):
    form = make_form(
        [
            field("namn", "text"),
            field("start", "date"),
            field("antal", "number", min=1, max=60),
            field("val", "multichoice", options=TRANSPORT),
            field("ok", "consent"),
            field("intyg", "file"),
        ]
    )
    result = form.validate_all(
        {
            "namn": "Anna",
            "start": "2027-08-16",
            "antal": "40",
            "val": ["taxi"],
            "ok": "on",
            "intyg": upload("intyg.pdf", pdf_minimal()),
        }
    )
    assert result.ok
    answers = {**result.answers, "intyg": uploads.store(tmp_path, 1, result.answers["intyg"])}

    stored = json.loads(json.dumps(form.to_json(answers)))

    assert stored["start"] == "2027-08-16"
    assert stored["intyg"]["file"]["filename"] == "intyg.pdf"
    assert form.from_json(stored) == answers
    assert form.from_json(stored)["start"] == date(2027, 8, 16)


def test_stored_answers_for_fields_no_longer_in_the_definition_are_left_out():
    form = one_field_form("date")
    assert form.from_json({"svar": "2027-01-15", "borttagen": "x"}) == {"svar": date(2027, 1, 15)}
    assert form.to_json({"svar": date(2027, 1, 15), "borttagen": "x"}) == {"svar": "2027-01-15"}


# -- the real services/ -----------------------------------------------------------------

SERVICES = PROJECT_ROOT / "services"


@pytest.fixture(scope="module")
def real_definitions():
    _, definitions, errors = load_definitions(SERVICES)
    assert errors == []
    return {slug: loaded.content for slug, loaded in definitions.items()}


def member_settings(definition: dict) -> dict:
    """What a member fills in: a few schools for every list setting."""
    return {
        name: ["Alfa förskola", "Beta förskola", "Gamma förskola", "Delta förskola"]
        for name, spec in definition["settings"].items()
        if spec["type"] == "list"
    }


def valid_answer(form: ServiceForm, spec: dict):
    """An answer a careful citizen would give to this field."""
    today = swedish_today()
    options = [value for value, _ in form.options(spec)]
    return {
        "text": "Anna Svensson",
        "textarea": "Det finns en grop vid busshållplatsen.",
        "email": "anna@karlstad.se",
        "phone": "070-123 45 67",
        "personnummer": "811228-9874",
        "orgnr": "2120001850",
        "postnummer": "65225",
        "date": {"future": today + timedelta(days=30), "past": today - timedelta(days=30)}.get(
            spec.get("range"), today
        ).isoformat(),
        "number": str(spec.get("min", 1)),
        "choice": options[0] if options else None,
        "multichoice": options[:1],
        "consent": "on",
        "file": upload("bilaga", FILE_BYTES[spec.get("accept", ["pdf"])[0]]()),
    }[spec["type"]]


# The starter e-services in services/, each tested below.
STARTER_SERVICES = (
    "felanmalan",
    "forskoleplats",
    "parkeringstillstand",
    "registerutdrag",
    "skolskjuts",
    "synpunkter",
    "varmepump",
)


def test_every_real_service_definition_loads_without_errors(real_definitions):
    assert set(real_definitions) == set(STARTER_SERVICES)


@pytest.mark.parametrize("slug", STARTER_SERVICES)
def test_every_real_service_accepts_a_complete_careful_submission(real_definitions, slug):
    definition = real_definitions[slug]
    form = ServiceForm(definition, member_settings(definition))
    raw = {spec["name"]: valid_answer(form, spec) for spec in form.all_fields()}
    result = form.validate_all(raw)
    assert result.errors == {}
    shown = [spec["name"] for spec in form.visible(form.all_fields(), raw)]
    assert list(result.answers) == shown


@pytest.mark.parametrize("slug", STARTER_SERVICES)
def test_every_real_service_asks_for_each_unconditional_required_field_in_order(
    real_definitions, slug
):
    definition = real_definitions[slug]
    form = ServiceForm(definition, member_settings(definition))
    errors = form.validate_all({}).errors
    expected = [s["name"] for s in form.all_fields() if s["required"] and "show_if" not in s]
    assert list(errors) == expected
    for messages in errors.values():
        assert len(messages) == 1
        assert messages[0] in REQUIRED_MESSAGE.values()


def test_varmepump_asks_a_company_for_orgnr_and_drops_a_personnummer(real_definitions):
    form = ServiceForm(real_definitions["varmepump"])
    step = form.step("agare")["fields"]
    raw = {
        "owner_type": "company",
        "owner_personnummer": "811228-9874",
        "owner_orgnr": "2120001850",
    }
    result = form.validate(step, raw)
    assert result.answers["owner_orgnr"] == "212000-1850"
    assert "owner_personnummer" not in result.answers
    private = form.validate(step, {"owner_type": "private", "owner_orgnr": "2120001850"})
    assert private.errors["owner_personnummer"] == [REQUIRED]
    assert "owner_orgnr" not in private.answers


def test_forskoleplats_allows_at_most_three_preschool_wishes(real_definitions):
    definition = real_definitions["forskoleplats"]
    form = ServiceForm(definition, member_settings(definition))
    spec = form.fields["preschool_wishes"]
    four = ["Alfa förskola", "Beta förskola", "Gamma förskola", "Delta förskola"]
    assert form.validate([spec], {"preschool_wishes": four}).errors == {
        "preschool_wishes": ["Välj högst 3 alternativ."]
    }
    assert form.validate([spec], {"preschool_wishes": four[:3]}).ok


# -- definitions that are refused -------------------------------------------------------


def test_minimal_definition_loads_with_defaults():
    content = load([field("namn", "text")])
    assert content["login_required"] is False
    assert content["settings"] == {}
    assert content["steps"][0]["fields"][0]["required"] is True


def test_definition_with_a_field_name_used_twice_is_refused():
    raw = raw_definition([field("namn", "text")], [field("namn", "email")])
    assert definition_errors(raw) == [
        ("steps[1].fields[0].name", "field name 'namn' is used twice")
    ]


def test_definition_with_a_step_id_used_twice_is_refused():
    raw = raw_definition([field("a", "text")], [field("b", "text")])
    raw["steps"][1]["id"] = raw["steps"][0]["id"]
    assert definition_errors(raw) == [("steps[1].id", "step id 'steg-1' is used twice")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            [
                field("b", "text", show_if={"field": "a", "equals": "taxi"}),
                field("a", "choice", options=TRANSPORT),
            ],
            "'a' is not a field that comes before 'b'",
        ),
        (
            [field("b", "text", show_if={"field": "finns_inte", "equals": "taxi"})],
            "'finns_inte' is not a field that comes before 'b'",
        ),
        (
            [field("b", "text", show_if={"field": "b", "equals": "x"})],
            "'b' is not a field that comes before 'b'",
        ),
    ],
    ids=["later", "unknown", "itself"],
)
def test_show_if_must_point_at_an_earlier_field(fields, message):
    position = next(i for i, spec in enumerate(fields) if spec["name"] == "b")
    assert definition_errors(raw_definition(fields)) == [
        (f"steps[0].fields[{position}].show_if.field", message)
    ]


@pytest.mark.parametrize(
    "condition",
    [{"field": "a", "equals": "cykel"}, {"field": "a", "any_of": ["taxi", "cykel"]}],
)
def test_show_if_naming_an_option_the_field_does_not_have_is_refused(condition):
    raw = raw_definition(
        [field("a", "choice", options=TRANSPORT), field("b", "text", show_if=condition)]
    )
    assert definition_errors(raw) == [
        ("steps[0].fields[1].show_if.field", "'a' has no option cykel")
    ]


def test_show_if_on_a_consent_field_must_compare_with_true_or_false():
    raw = raw_definition(
        [field("ok", "consent"), field("b", "text", show_if={"field": "ok", "equals": "ja"})]
    )
    assert definition_errors(raw) == [
        ("steps[0].fields[1].show_if.field", "a consent field is compared with true or false")
    ]


def test_show_if_with_both_equals_and_any_of_is_refused():
    condition = {"field": "a", "equals": "taxi", "any_of": ["taxi"]}
    raw = raw_definition(
        [field("a", "choice", options=TRANSPORT), field("b", "text", show_if=condition)]
    )
    assert definition_errors(raw) == [
        ("steps[0].fields[1].show_if", "give exactly one of 'equals' or 'any_of'")
    ]


@pytest.mark.parametrize(
    "settings",
    [None, {"skolor": {"type": "text", "label": local("Skolor")}}],
    ids=["missing", "not-a-list"],
)
def test_options_setting_must_name_a_list_setting_of_the_definition(settings):
    raw = raw_definition([field("val", "multichoice", options_setting="skolor")], settings=settings)
    assert definition_errors(raw) == [
        (
            "steps[0].fields[0].options_setting",
            "'skolor' is not a setting of type 'list' in [settings]",
        )
    ]


@pytest.mark.parametrize(
    ("type_", "key", "value"),
    [
        ("text", "max_choices", 2),
        ("text", "options", TRANSPORT),
        ("choice", "max_choices", 2),
        ("number", "max_length", 10),
        ("text", "min", 1),
        ("date", "max", 1),
        ("text", "unit", local("timmar")),
        ("number", "range", "future"),
        ("text", "accept", ["pdf"]),
        ("date", "max_size_mb", 5),
    ],
)
def test_key_meant_for_another_field_type_is_refused(type_, key, value):
    raw = raw_definition([field("a", type_, **{key: value})])
    assert (f"steps[0].fields[0].{key}", f"not allowed for a field of type '{type_}'") in (
        definition_errors(raw)
    )


@pytest.mark.parametrize(
    ("where", "path"),
    [("definition", "titel"), ("step", "steps[0].titel"), ("field", "steps[0].fields[0].requird")],
)
def test_misspelt_key_is_refused_as_unknown(where, path):
    raw = raw_definition([field("a", "text")])
    target = {"definition": raw, "step": raw["steps"][0], "field": raw["steps"][0]["fields"][0]}
    target[where][path.rsplit(".", 1)[-1]] = True
    assert definition_errors(raw) == [(path, "Unknown field.")]


def test_misspelt_condition_key_is_refused():
    raw = raw_definition(
        [
            field("a", "choice", options=TRANSPORT),
            field("b", "text", show_if={"field": "a", "equal": "taxi"}),
        ]
    )
    assert ("steps[0].fields[1].show_if.equal", "Unknown field.") in definition_errors(raw)


@pytest.mark.parametrize(
    ("keys", "path", "message"),
    [
        ({"type": "choice"}, "options", "give exactly one of 'options' or 'options_setting'"),
        (
            {"type": "choice", "options": TRANSPORT + TRANSPORT[:1]},
            "options",
            "option values must be unique",
        ),
        ({"type": "number", "min": 5, "max": 1}, "min", "must not be greater than 'max'"),
        (
            {"type": "textfalt"},
            "type",
            "Must be one of: text, textarea, email, phone, personnummer, "
            "orgnr, postnummer, date, number, choice, multichoice, consent, file.",
        ),
    ],
)
def test_field_whose_keys_do_not_fit_together_is_refused(keys, path, message):
    raw = raw_definition([{**field("a", "text"), **keys}])
    assert definition_errors(raw) == [(f"steps[0].fields[0].{path}", message)]


# -- load_definitions on a services folder ----------------------------------------------

CATEGORIES_TOML = """
[prov]
title = { sv = "Prov", en = "Trial" }
"""


def definition_toml(fields: str, slug: str = "prov", category: str = "prov") -> str:
    return f"""
slug = "{slug}"
version = 1
category = "{category}"
audience = "all"
retention_years = 2
title = {{ sv = "Prov", en = "Trial" }}
summary = {{ sv = "En e-tjänst att pröva med.", en = "A service to try." }}
next_steps = {{ sv = "Vi hör av oss.", en = "We will be in touch." }}

[[steps]]
id = "forsta"
title = {{ sv = "Första", en = "First" }}
{fields}
"""


def text_field(name: str, extra: str = "") -> str:
    return f"""
[[steps.fields]]
name = "{name}"
type = "text"
label = {{ sv = "{name}", en = "{name}" }}
{extra}
"""


def services_folder(tmp_path, definitions: dict[str, str | None], categories=CATEGORIES_TOML):
    root = tmp_path / "services"
    root.mkdir()
    if categories is not None:
        (root / "categories.toml").write_text(categories, encoding="utf-8")
    for folder, text in definitions.items():
        (root / folder).mkdir()
        if text is not None:
            (root / folder / "definition.toml").write_text(text, encoding="utf-8")
    return root


def test_valid_services_folder_loads_every_definition(tmp_path):
    root = services_folder(tmp_path, {"prov": definition_toml(text_field("namn"))})
    categories, definitions, errors = load_definitions(root)
    assert errors == []
    assert set(categories) == {"prov"}
    assert definitions["prov"].content["steps"][0]["fields"][0]["name"] == "namn"
    assert definitions["prov"].path == root / "prov" / "definition.toml"


def test_error_in_a_definition_names_the_file_and_the_field_path(tmp_path):
    fields = text_field("namn") + text_field("namn")
    root = services_folder(tmp_path, {"prov": definition_toml(fields)})
    _, definitions, errors = load_definitions(root)
    assert definitions == {}
    assert errors == [
        "services/prov/definition.toml: steps[0].fields[1].name: field name 'namn' is used twice"
    ]


def test_typo_in_a_definition_is_reported_with_file_and_field_path(tmp_path):
    fields = text_field("namn", extra="max_lenght = 20")
    root = services_folder(tmp_path, {"prov": definition_toml(fields)})
    _, _, errors = load_definitions(root)
    assert errors == [
        "services/prov/definition.toml: steps[0].fields[0].max_lenght: Unknown field."
    ]


def test_every_broken_file_is_reported_and_the_good_ones_still_load(tmp_path):
    root = services_folder(
        tmp_path,
        {
            "bra": definition_toml(text_field("namn"), slug="bra"),
            "fel-typ": definition_toml(text_field("namn", extra="max_choices = 2"), slug="fel-typ"),
            "trasig": "slug = 'trasig\n",
            "tom": None,
        },
    )
    _, definitions, errors = load_definitions(root)
    assert set(definitions) == {"bra"}
    assert errors[0] == (
        "services/fel-typ/definition.toml: steps[0].fields[0].max_choices: "
        "not allowed for a field of type 'text'"
    )
    assert errors[1] == (
        "services/tom/definition.toml: missing; every e-service folder needs a definition.toml"
    )
    assert errors[2].startswith("services/trasig/definition.toml: not valid TOML: ")
    assert len(errors) == 3


def test_definition_whose_slug_differs_from_its_folder_is_refused(tmp_path):
    root = services_folder(tmp_path, {"prov": definition_toml(text_field("namn"), slug="annan")})
    _, definitions, errors = load_definitions(root)
    assert definitions == {}
    assert errors == ["services/prov/definition.toml: slug: 'annan' differs from the folder name"]


def test_definition_in_an_unknown_category_is_refused(tmp_path):
    root = services_folder(
        tmp_path, {"prov": definition_toml(text_field("namn"), category="okand")}
    )
    _, _, errors = load_definitions(root)
    assert errors == [
        "services/prov/definition.toml: category: 'okand' is not in services/categories.toml"
    ]


def test_services_folder_without_categories_is_reported(tmp_path):
    root = services_folder(tmp_path, {}, categories=None)
    _, _, errors = load_definitions(root)
    assert errors == [
        "services/categories.toml: missing; it lists the categories e-services are grouped under"
    ]


def test_missing_services_folder_is_reported(tmp_path):
    _, _, errors = load_definitions(tmp_path / "finns-inte")
    assert errors == [f"{tmp_path / 'finns-inte'}: the services folder does not exist"]


# -- properties -------------------------------------------------------------------------

FORMS = {type_: one_field_form(type_) for type_ in sorted(FIELD_TYPES)}


def assert_value_or_swedish_errors(result) -> None:
    if result.errors:
        assert list(result.errors) == ["svar"]
        assert result.answers == {}
        for message in result.errors["svar"]:
            assert isinstance(message, str)
            assert message
            assert not ENGLISH.search(message)
    else:
        assert list(result.answers) == ["svar"]


@pytest.mark.parametrize(
    "type_",
    sorted(FIELD_TYPES),
)
@settings(max_examples=100, deadline=None)
@given(value=st.text())
@example(value="²81228-9874")
@example(value=" ")
@example(value="<b>")
def test_any_text_answer_gives_a_value_or_swedish_errors_and_never_raises(type_, value):
    assert_value_or_swedish_errors(FORMS[type_].validate_all({"svar": value}))


@settings(max_examples=100, deadline=None)
@given(
    value=st.one_of(
        st.fixed_dictionaries({"filename": st.text(), "content_base64": st.text()}),
        st.builds(upload, st.text(), st.binary(max_size=64)),
        st.builds(
            upload, st.text(), st.sampled_from(list(FILE_BYTES)).map(lambda k: FILE_BYTES[k]())
        ),
    )
)
def test_any_file_payload_gives_a_file_or_swedish_errors_and_never_raises(value):
    assert_value_or_swedish_errors(FORMS["file"].validate_all({"svar": value}))


def test_a_line_break_counts_as_one_character_as_the_browser_counts_it():
    """Browsers post a textarea's line breaks as CRLF but count each as one towards its
    maxlength: 48 letters and two line breaks fill a field of 50, and are stored with LF."""
    text = "x" * 16 + "\r\n" + "y" * 16 + "\r\n" + "z" * 16
    result = answer("textarea", text)
    assert result.ok, result.errors
    assert result.answers["svar"] == text.replace("\r\n", "\n")
    assert_refused(answer("textarea", text + "!"), "Texten får vara högst 50 tecken.")


def test_a_numbers_unit_is_shown_in_the_language_asked_for():
    form = one_field_form("number", unit={"sv": "timmar", "en": "hours"})
    assert form.summary({"svar": 25}, "en")[0]["rows"][0]["value"] == "25 hours"
    assert form.summary({"svar": 25})[0]["rows"][0]["value"] == "25 timmar"


def test_a_date_answer_is_written_as_the_pages_other_dates():
    """Swedish pages show it as typed (how dates are written in Sweden), English pages
    in words, as every other date on them."""
    form = one_field_form("date")
    assert form.summary({"svar": date(2027, 3, 1)})[0]["rows"][0]["value"] == "2027-03-01"
    assert form.summary({"svar": date(2027, 3, 1)}, "en")[0]["rows"][0]["value"] == "1 March 2027"


def test_a_fields_unit_is_heard_with_its_input(app):
    """The unit shown after the input (meter) is in its description, not only seen."""
    spec = {
        "name": "depth",
        "type": "number",
        "label": {"sv": "Hur djupt?"},
        "hint": {"sv": "Ungefär."},
        "required": True,
        "unit": {"sv": "meter"},
    }
    form = ServiceForm({"steps": [{"id": "s", "title": {"sv": "S"}, "fields": [spec]}]}, {})
    with app.test_request_context("/arvika/"):
        macro = app.jinja_env.get_template("catalogue/fields.html").module.field
        html = str(macro(form.steps[0]["fields"][0], form, {}, {}, ["depth"]))
    assert 'aria-describedby="f-depth-hint f-depth-unit"' in html
    assert '<span class="unit" id="f-depth-unit">meter</span>' in html


@pytest.mark.parametrize("want_reply", ["yes", " yes", "yes  "])
def test_a_space_in_an_answer_does_not_skip_the_question_it_opens(app, want_reply):
    """ " yes" is stored as "yes": the e-mail address that "yes" asks for is required."""
    _, definitions, _ = load_definitions(PROJECT_ROOT / "services")
    form = ServiceForm(definitions["synpunkter"].content, {})
    answers = {"kind": "klagomal", "area": "annat", "message": "Svara mig"}
    with app.test_request_context("/"):
        result = form.validate_all({**answers, "want_reply": want_reply})
    assert not result.ok and list(result.errors) == ["email"]


@pytest.mark.parametrize("written", ["20270501", "2027-W18-1", "2027-5-1", "2027-05-01T00:00"])
def test_a_date_is_taken_only_as_written_yyyy_mm_dd(app, written):
    """As the message and the API's document say; fromisoformat alone takes more."""
    spec = {"name": "day", "type": "date", "label": {"sv": "Dag"}, "required": True}
    steps = [{"id": "s", "title": {"sv": "S"}, "fields": [spec]}]
    form = ServiceForm({"slug": "prov", "steps": steps}, {})
    with app.test_request_context("/"):
        assert form.validate(form.all_fields(), {"day": "2027-05-01"}).ok
        refused = form.validate(form.all_fields(), {"day": written})
    assert refused.errors == {"day": ["Ange ett datum som ÅÅÅÅ-MM-DD, till exempel 2027-01-15."]}


@pytest.mark.parametrize("sent", [1, 0, 1.0])
def test_a_number_is_no_answer_to_a_consent_box(app, sent):
    """1 == True in Python: the JSON number 1 was taken as a ticked box."""
    spec = {"name": "ok", "type": "consent", "label": {"sv": "Jag intygar"}, "required": True}
    steps = [{"id": "s", "title": {"sv": "S"}, "fields": [spec]}]
    form = ServiceForm({"slug": "prov", "steps": steps}, {})
    with app.test_request_context("/"):
        assert form.validate(form.all_fields(), {"ok": True}).ok
        refused = form.validate(form.all_fields(), {"ok": sent})
    assert refused.errors == {"ok": ["Svara med sant eller falskt."]}
