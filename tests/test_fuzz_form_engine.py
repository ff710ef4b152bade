"""Hypothesis over the form engine, for every field type: any answer at all — text, numbers,
NaN, lists, objects, bytes as files — never makes it raise, and every refusal names a field
of the form with a message in Swedish. Through the marshmallow schema (generated
definitions and every real one in services/), through the web form's steps, and through
the API. Derandomised, so CI sees the same inputs every run."""

import html
import io
import json
import re
from datetime import date

import pytest
from api_support import (
    ANONYMOUS,
    FELANMALAN,
    FORSKOLEPLATS,
    SKOLSKJUTS,
    VARMEPUMP,
    member_file,
    submissions,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from identity_support import TOLVAN, sign_in
from test_form_engine import ENGLISH, FILE_BYTES, field, load, option, upload
from werkzeug.datastructures import FileStorage

from samverkan.catalogue.definition_schema import AUTOCOMPLETE
from samverkan.catalogue.engine import ServiceForm
from samverkan.catalogue.fields import FIELD_TYPES
from samverkan.catalogue.loader import load_definitions
from samverkan.catalogue.uploads import IncomingFile, StoredFile, safe_display_name
from samverkan.settings import PROJECT_ROOT

FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Through HTTP each example costs requests, so fewer: this module stays near 20 s.
FUZZ_HTTP = settings(FUZZ, max_examples=12)
FUZZ_STEP = settings(FUZZ, max_examples=8)
_, DEFINITIONS, _ = load_definitions(PROJECT_ROOT / "services")
ARVIKA_SETTINGS = {
    slug: service.get("settings", {}) for slug, service in member_file("arvika")["services"].items()
}
PARKERINGSTILLSTAND = {
    "applicant_personnummer": "19811228-9874",
    "applicant_name": "Anna Berg",
    "street_address": "Storgatan 1",
    "postal_code": "67131",
    "city": "Arvika",
    "phone": "070-123 45 67",
    "permit_kind": "driver",
    "medical_certificate": upload("intyg.pdf", FILE_BYTES["pdf"]()),
    "confirm": True,
}
# Who the e-ID says is asking (prefilled, read-only on the web; the API refuses the service).
REGISTERUTDRAG = {
    "personnummer": "19121212-1212",
    "name": "Tolvan Tolvansson",
    "areas": ["alla"],
    "delivery": "post",
}
GOOD = {
    "synpunkter": ANONYMOUS,
    "registerutdrag": REGISTERUTDRAG,
    "felanmalan": FELANMALAN,
    "forskoleplats": FORSKOLEPLATS,
    "varmepump": VARMEPUMP,
    "skolskjuts": SKOLSKJUTS,
    "parkeringstillstand": PARKERINGSTILLSTAND,
}

# -- what a client might send ---------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**4000), max_value=10**4000),
    st.floats(),  # NaN and infinity included
    st.text(),
    st.dates().map(date.isoformat),
    st.sampled_from(["ja", "on", "nej", "true", "19811228-9874", "652 25", "2120001850", "12"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
kinds_of_bytes = st.one_of(
    st.binary(max_size=128),
    st.sampled_from(sorted(FILE_BYTES)).map(lambda kind: FILE_BYTES[kind]()),
    st.sampled_from(sorted(FILE_BYTES)).flatmap(
        lambda kind: st.binary(max_size=64).map(lambda tail: FILE_BYTES[kind]() + tail)
    ),
)
# A file name as a multipart header can carry it (a line break or a quote would end it).
filenames = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\\r\n'), max_size=30
)
api_files = st.one_of(
    st.builds(upload, st.text(), kinds_of_bytes),
    st.fixed_dictionaries({"filename": json_values, "content_base64": json_values}),
)
form_files = st.builds(
    lambda data, name: FileStorage(io.BytesIO(data), filename=name), kinds_of_bytes, filenames
)
engine_values = st.one_of(json_values, api_files, form_files)


def assert_refusals_name_fields(form: ServiceForm, raw: dict, result) -> None:
    """Each refusal is keyed by a field of the form (or a name that was sent), with
    messages in Swedish; what passed is storable and reads back the same."""
    for name, messages in result.errors.items():
        assert name in form.fields or name in raw, name
        assert messages, name
        for message in messages:
            assert isinstance(message, str) and message.strip(), (name, message)
            assert not ENGLISH.search(message), (name, message)
        assert name not in result.answers
    assert set(result.answers) <= set(form.fields)
    stored = {
        name: _as_stored(value) if isinstance(value, IncomingFile) else value
        for name, value in result.answers.items()
    }
    as_json = form.to_json(stored)
    assert form.from_json(json.loads(json.dumps(as_json, allow_nan=False))) == stored
    form.summary(stored)  # the check-answers page and the receipt can show it


def _as_stored(incoming: IncomingFile) -> StoredFile:
    return StoredFile(
        filename=safe_display_name(incoming.filename),
        storage_name="x." + incoming.kind,
        content_type=incoming.content_type,
        size=len(incoming.data),
        sha256="0" * 64,
    )


# -- generated definitions: every field type, with the keys it may carry --------------------

OPTIONS = [option("buss"), option("taxi"), option("egen")]


@st.composite
def field_specs(draw, type_: str, name: str) -> dict:
    keys: dict = {"required": draw(st.booleans())}
    if type_ in ("text", "textarea"):
        keys["max_length"] = draw(st.integers(1, 20000))
    if type_ in ("choice", "multichoice"):
        keys["options"] = draw(st.lists(st.sampled_from(OPTIONS), min_size=1, unique_by=str))
    if type_ == "multichoice" and draw(st.booleans()):
        keys["max_choices"] = draw(st.integers(1, 4))
    if type_ == "number":
        low, high = sorted(draw(st.lists(st.integers(-(10**9), 10**9), min_size=2, max_size=2)))
        keys.update(
            draw(st.sampled_from([{}, {"min": low}, {"max": high}, {"min": low, "max": high}]))
        )
    if type_ == "date" and draw(st.booleans()):
        keys["range"] = draw(st.sampled_from(["future", "past"]))
    if type_ == "file":
        keys["accept"] = draw(
            st.lists(st.sampled_from(sorted(FILE_BYTES)), min_size=1, unique=True)
        )
        keys["max_size_mb"] = draw(st.integers(1, 15))
    if type_ in ("text", "textarea", "date") and draw(st.booleans()):
        keys["autocomplete"] = draw(st.sampled_from(AUTOCOMPLETE))
    return field(name, type_, **keys)


@st.composite
def forms_with(draw, type_: str) -> ServiceForm:
    """A definition whose first field is of `type_`, with others after it, some of them
    shown only for some answer to the first."""
    first = draw(field_specs(type_, "forsta"))
    others = []
    for index in range(draw(st.integers(0, 3))):
        spec = draw(field_specs(draw(st.sampled_from(sorted(FIELD_TYPES))), f"falt_{index}"))
        if type_ == "consent" and draw(st.booleans()):
            spec["show_if"] = {"field": "forsta", "equals": draw(st.booleans())}
        elif type_ == "choice" and draw(st.booleans()):
            spec["show_if"] = {"field": "forsta", "equals": first["options"][0]["value"]}
        elif type_ == "multichoice" and draw(st.booleans()):
            spec["show_if"] = {"field": "forsta", "any_of": [first["options"][0]["value"]]}
        others.append(spec)
    steps = (
        [[first, *others]] if draw(st.booleans()) else [[first], others] if others else [[first]]
    )
    return ServiceForm(load(*steps))


@pytest.mark.parametrize("type_", sorted(FIELD_TYPES))
@FUZZ
@given(data=st.data())
def test_any_answers_to_a_generated_form_give_values_or_field_messages(type_, data):
    form = data.draw(forms_with(type_), label="form")
    names = st.sampled_from(sorted(form.fields)) | st.text(max_size=8)
    raw = data.draw(st.dictionaries(names, engine_values, max_size=6), label="answers")
    assert_refusals_name_fields(form, raw, form.validate_all(raw))
    for step in form.steps:  # as the web form validates: a step at a time, earlier as context
        assert_refusals_name_fields(form, raw, form.validate(step["fields"], raw, raw))


# -- every real definition, with a member's settings --------------------------------------------


@pytest.mark.parametrize("slug", sorted(DEFINITIONS))
@FUZZ
@given(data=st.data())
def test_any_answers_to_a_real_service_give_values_or_field_messages(slug, data):
    form = ServiceForm(DEFINITIONS[slug].content, ARVIKA_SETTINGS.get(slug, {}))
    raw = dict(GOOD[slug])
    for name in data.draw(st.lists(st.sampled_from(sorted(form.fields)), max_size=4), label="f"):
        raw[name] = data.draw(engine_values, label=name)
    raw.update(data.draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)))
    assert_refusals_name_fields(form, raw, form.validate_all(raw))


def test_the_good_answers_used_here_are_good():
    for slug, answers in GOOD.items():
        form = ServiceForm(DEFINITIONS[slug].content, ARVIKA_SETTINGS.get(slug, {}))
        assert form.validate_all(answers).errors == {}, slug
    assert set(GOOD) == set(DEFINITIONS)


# -- the API ---------------------------------------------------------------------------------


@pytest.fixture
def unlimited(app, monkeypatch):
    """The fuzzer posts faster than any citizen: lift the per-address limit for it."""
    monkeypatch.setitem(app.config, "SUBMISSIONS_PER_ADDRESS", "100000 per minute")
    monkeypatch.setitem(app.config, "SUBMISSIONS_PER_MEMBER", "100000 per minute")


@pytest.mark.parametrize("slug", sorted(DEFINITIONS))
@FUZZ_HTTP
@given(data=st.data())
def test_any_json_answers_to_the_api_get_201_or_422_naming_fields(client, unlimited, slug, data):
    names = _field_names(slug)
    body = dict(GOOD[slug])
    for name in data.draw(st.lists(st.sampled_from(names), max_size=4), label="fields"):
        body[name] = data.draw(st.one_of(json_values, api_files), label=name)
    body.update(data.draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)))
    response = client.post(submissions("arvika", slug), json=body)
    if DEFINITIONS[slug].content["login_required"]:  # only through the web form, signed in
        assert response.status_code in (400, 403), response.get_data(as_text=True)[:500]
        assert response.get_json()["message"]
        return
    assert response.status_code in (201, 400, 422), response.get_data(as_text=True)[:500]
    reply = response.get_json()
    if response.status_code == 400:  # e.g. a lone surrogate, which is not text at all
        assert reply["message"].startswith("Kroppen")
    if response.status_code == 422:
        assert reply["errors"]
        for name, messages in reply["errors"].items():
            assert name in names or name in body, name
            assert messages and all(m.strip() and not ENGLISH.search(m) for m in messages)


def _field_names(slug: str) -> list[str]:
    return [spec["name"] for step in DEFINITIONS[slug].content["steps"] for spec in step["fields"]]


# -- the web form's steps ----------------------------------------------------------------------


def form_data(spec: dict, value) -> dict:
    """One answer as a browser posts it."""
    name = spec["name"]
    if spec["type"] == "file":
        data = FILE_BYTES["pdf"]() if value is not None else b""
        return {name: (io.BytesIO(data), "intyg.pdf")}
    if isinstance(value, bool):
        return {name: "ja"} if value else {}
    if isinstance(value, list):
        return {name: [str(item) for item in value]}
    return {name: str(value)}


def browser_values(spec: dict):
    """What a browser (or someone crafting posts) may send for a field."""
    text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
    if spec["type"] == "file":
        return st.builds(
            lambda data, name: {spec["name"]: (io.BytesIO(data), name)}, kinds_of_bytes, filenames
        )
    return st.one_of(
        st.just({}),
        text.map(lambda value: {spec["name"]: value}),
        st.lists(text, min_size=2, max_size=3).map(lambda values: {spec["name"]: values}),
    )


SUMMARY_ITEM = re.compile(r'<li><a href="#f-([a-z0-9_]+?)(?:-1)?">(.*?)</a></li>', re.S)


def read_csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


STEPS = [
    (slug, index, step["id"])
    for slug in sorted(DEFINITIONS)
    for index, step in enumerate(DEFINITIONS[slug].content["steps"])
]


@pytest.fixture
def walked(app) -> dict:
    """Browsers that have answered the steps before a step, one per step, kept across a
    test's examples (the draft stays in reach: later posts touch only that step)."""
    return {}


@pytest.mark.parametrize(("slug", "index", "step_id"), STEPS)
@FUZZ_STEP
@given(data=st.data())
def test_any_post_to_a_step_is_saved_or_refused_with_each_field_named(
    app, e_id_provider, walked, slug, index, step_id, data
):
    steps = DEFINITIONS[slug].content["steps"]
    if step_id not in walked:
        walked[step_id] = app.test_client()
        if DEFINITIONS[slug].content["login_required"]:
            sign_in(walked[step_id], e_id_provider, "tolvan", TOLVAN)
        for earlier in steps[:index]:
            answered = _post_step(walked[step_id], slug, earlier, _good_post(slug, earlier))
            assert answered.status_code == 303, answered.get_data(as_text=True)[:300]
    step = steps[index]
    posted: dict = {}
    for spec in step["fields"]:
        posted.update(data.draw(browser_values(spec), label=spec["name"]))
    posted.update(
        data.draw(st.dictionaries(st.text("abcxyz_", min_size=1, max_size=6), st.text()), label="x")
    )
    response = _post_step(walked[step_id], slug, step, posted)
    assert response.status_code in (303, 422), response.get_data(as_text=True)[:500]
    if response.status_code == 422:
        page = response.get_data(as_text=True)
        items = SUMMARY_ITEM.findall(page.split('id="error-summary"', 1)[1].split("</ul>", 1)[0])
        assert items, "a refusal lists what to correct"
        assert f"Det finns {len(items)} fel att rätta" in page
        labels = {spec["name"]: spec["label"]["sv"].rstrip(".:?") for spec in step["fields"]}
        for name, text in items:
            assert name in labels, name  # a field on this step
            label, _, messages = html.unescape(text).partition(" – ")
            assert label == labels[name]
            assert messages.strip() and not ENGLISH.search(messages)


def _good_post(slug: str, step: dict) -> dict:
    posted: dict = {}
    for spec in step["fields"]:
        if spec["name"] in GOOD[slug]:
            posted.update(form_data(spec, GOOD[slug][spec["name"]]))
    return posted


def _post_step(client, slug: str, step: dict, posted: dict):
    path = f"/arvika/e/{slug}/steg/{step['id']}"
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    return client.post(
        path,
        data={"csrf_token": read_csrf(page.get_data(as_text=True)), **posted},
        content_type="multipart/form-data",
    )
