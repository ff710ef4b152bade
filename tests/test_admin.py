"""A member's administrator at /<member>/admin/: the profile and logo, the e-services and
their settings, staff invitations, roles and removal, and the audit log — and that nobody
else gets in."""

import hashlib
import io
import os
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa
from api_support import tiny_png
from conftest import SET_UP_ACTIONS, count_all
from test_accounts import PASSWORD, create, sign_in
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from samverkan.accounts.models import Invitation, Membership, User
from samverkan.admin.schemas import ratio_text
from samverkan.audit.models import AuditEntry
from samverkan.catalogue.models import TenantService
from samverkan.colours import PANEL, contrast_ratio
from samverkan.database_roles import maintenance_session
from samverkan.tenancy.models import Tenant

ADMIN = "admin@arvika.example"
EDA_ADMIN = "admin@eda.example"
ANSWERS = {"kind": "fraga", "area": "annat", "message": "En fråga", "want_reply": "no"}
ADMIN_PAGES = [
    "/arvika/admin/",
    "/arvika/admin/profil",
    "/arvika/admin/e-tjanster",
    "/arvika/admin/e-tjanster/forskoleplats/installningar",
    "/arvika/admin/personal",
    "/arvika/admin/logg",
    "/arvika/admin/person",
]


@pytest.fixture
def admin(app, client, read_csrf):
    """A client signed in as Arvika's administrator."""
    assert create(app, ADMIN, role="tenant_admin").exit_code == 0
    assert sign_in(client, read_csrf, ADMIN).status_code == 303
    return client


def post_form(client, read_csrf, page_url, data, action=None, **kwargs):
    """Open a page for its CSRF token, then post the form (to the page or `action`)."""
    page = client.get(page_url)
    assert page.status_code == 200, page_url
    return client.post(
        action or page_url, data={"csrf_token": read_csrf(page.text), **data}, **kwargs
    )


def tenant_row(app, slug="arvika") -> Tenant:
    with app.app_context(), maintenance_session() as session:
        tenant = session.scalar(sa.select(Tenant).filter_by(slug=slug))
        session.expunge(tenant)
        return tenant


def service_row(app, slug: str, member="arvika") -> TenantService:
    with app.app_context(), maintenance_session() as session:
        service = session.scalar(
            sa.select(TenantService)
            .join(Tenant, Tenant.id == TenantService.tenant_id)
            .where(Tenant.slug == member, TenantService.service_slug == slug)
        )
        session.expunge(service)
        return service


def audit_actions(app, slug="arvika") -> list[str]:
    with app.app_context(), maintenance_session() as session:
        return list(
            session.scalars(
                sa.select(AuditEntry.action)
                .join(Tenant, Tenant.id == AuditEntry.tenant_id)
                .where(Tenant.slug == slug, AuditEntry.action.not_in(SET_UP_ACTIONS))
                .order_by(AuditEntry.id)
            )
        )


def profile_form(app, **changes) -> dict:
    tenant = tenant_row(app)
    fields = [
        "name",
        "short_name",
        "website",
        "email",
        "phone",
        "visiting_address",
        "primary_colour",
        "accent_colour",
        "privacy_notice",
        "accessibility_statement",
        "default_language",
    ]
    return {**{name: getattr(tenant, name) or "" for name in fields}, **changes}


def error_text(html: str) -> str:
    return " ".join(re.findall(r'class="error-message"[^>]*>(.*?)</p>', html, re.S))


# -- who gets in -----------------------------------------------------------------------------


def test_case_workers_get_403_and_anonymous_are_sent_to_sign_in(app, client, read_csrf):
    for url in ADMIN_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and "/arvika/staff/logga-in" in response.location
    assert create(app, "anna@arvika.example").exit_code == 0
    sign_in(client, read_csrf, "anna@arvika.example")
    assert client.get("/arvika/staff/").status_code == 200
    for url in ADMIN_PAGES:
        refused = client.get(url)
        # Told it is not for them: "no such page" sent them looking for a broken link.
        assert refused.status_code == 403, url
        assert "Ditt konto får inte göra det här." in refused.text
    inbox = client.get("/arvika/staff/")
    attempt = client.post(
        "/arvika/admin/e-tjanster/synpunkter/vaxla",
        data={"csrf_token": read_csrf(inbox.text), "enabled": "off"},
    )
    assert attempt.status_code == 403
    assert service_row(app, "synpunkter").enabled is True
    assert "Administration" not in inbox.text


def test_the_admin_of_eda_gets_404_at_arvika_and_changes_nothing(app, client, read_csrf):
    assert create(app, EDA_ADMIN, tenant="eda", role="tenant_admin").exit_code == 0
    assert create(app, "anna@arvika.example").exit_code == 0
    anna = user_id(app, "anna@arvika.example")
    sign_in(client, read_csrf, EDA_ADMIN, tenant="eda")
    own = client.get("/eda/admin/")
    assert own.status_code == 200
    token = read_csrf(own.text)
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 404, url
    before = tenant_row(app)
    attempts = {
        "/arvika/admin/profil": profile_form(app, name="Eda tog över"),
        "/arvika/admin/profil/logotyp/ta-bort": {},
        "/arvika/admin/e-tjanster/synpunkter/vaxla": {"enabled": "off"},
        "/arvika/admin/e-tjanster/varmepump/installningar": {"fee": "1"},
        "/arvika/admin/personal/inbjudan": {
            "name": "Insmugglad",
            "email": "spion@eda.example",
            "role": "tenant_admin",
        },
        f"/arvika/admin/personal/{anna}/roll": {"role": "tenant_admin"},
        f"/arvika/admin/personal/{anna}/ta-bort": {},
    }
    for url, data in attempts.items():
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 404, url
    assert client.get(f"/arvika/admin/personal/{anna}/ta-bort").status_code == 404
    after = tenant_row(app)
    # As it was (an earlier test may have saved Arvika's profile: tests/test_languages.py).
    assert (after.name, after.profile_edited_at) == (before.name, before.profile_edited_at)
    assert service_row(app, "synpunkter").enabled is True
    assert service_row(app, "varmepump").edited_at is None
    assert count_all(app, "invitations") == 0
    assert memberships(app, "arvika") == {"anna@arvika.example": "case_worker"}
    assert audit_actions(app) == []


def test_every_admin_page_is_not_cached_and_the_overview_counts(admin):
    for url in ADMIN_PAGES:
        page = admin.get(url)
        assert page.status_code == 200, url
        assert page.headers["Cache-Control"] == "no-store"
    overview = admin.get("/arvika/admin/")
    assert "7 av 7 e-tjänster är påslagna" in overview.text
    assert "1 person arbetar här" in overview.text
    for section in ("profil", "e-tjanster", "personal", "logg"):
        assert f'href="/arvika/admin/{section}"' in overview.text


# -- the profile -----------------------------------------------------------------------------


def opened_stamp(html: str) -> str:
    return re.search(r'name="opened" value="([^"]*)"', html).group(1)


def shown_values(html: str) -> dict[str, str]:
    """The profile form's fields as `html` shows them (inputs; text areas)."""
    found = {
        name: unescape(value)
        for name, value in re.findall(r'<input[^>]* name="([a-z_]+)"[^>]* value="([^"]*)"', html)
    }
    for name, text in re.findall(
        r'<textarea[^>]* name="([a-z_]+)"[^>]*>(.*?)</textarea>', html, re.S
    ):
        found[name] = unescape(text)
    return found


def save_profile_from(app, client, read_csrf, page: str, opened=None, **changes):
    """The profile form sent from `page`: what it shows (as a browser would send it, with
    its CSRF token, stamp and the profile as it was opened) and the changes typed in."""
    fields = profile_form(app)
    shown = shown_values(page)
    was = dict(re.findall(r'name="(was-[a-z_]+)" value="([^"]*)"', page))
    return client.post(
        "/arvika/admin/profil",
        data={
            **{name: shown.get(name, value) for name, value in fields.items()},
            **{name: unescape(value) for name, value in was.items()},
            **changes,
            "csrf_token": read_csrf(page),
            "opened": opened_stamp(page) if opened is None else opened,
        },
    )


def test_a_profile_saved_from_a_page_opened_before_anothers_save_is_merged_with_theirs(
    app, client, admin, read_csrf, resync
):
    """Two administrators with the profile open: the later save from the older page
    silently undid the earlier one (and the log named the wrong person for it). Then it was
    refused, but saved again it still undid the other's change, which the page never
    showed: now what only they changed is taken in, and a field both changed is flagged."""
    assert create(app, "bo@arvika.example", role="tenant_admin").exit_code == 0
    other = app.test_client()
    assert sign_in(other, read_csrf, "bo@arvika.example").status_code == 303
    mine = client.get("/arvika/admin/profil").text
    opened = opened_stamp(mine)
    theirs = other.get("/arvika/admin/profil").text
    saved = save_profile_from(
        app, other, read_csrf, theirs, phone="0570-816 00", name="Arvika kommunförvaltning"
    )
    assert saved.status_code == 303
    # A typo to fix first: the page shown again is still the page opened before theirs.
    typo = save_profile_from(app, client, read_csrf, mine, email="ingen-adress")
    assert typo.status_code == 422
    assert opened_stamp(typo.text) == opened
    late = save_profile_from(
        app, client, read_csrf, typo.text, email="kontakt@arvika.se", name="Arvika kommun!"
    )
    assert late.status_code == 409
    page = unescape(late.text)
    assert "Någon annan har sparat profilen sedan du öppnade sidan" in page
    shown = shown_values(late.text)
    assert shown["phone"] == "0570-816 00"  # theirs, taken in
    assert shown["email"] == "kontakt@arvika.se"  # mine, kept
    assert shown["name"] == "Arvika kommun!"  # both changed: mine shown, theirs named
    assert "Sparat av någon annan: Arvika kommunförvaltning" in page
    assert 'id="f-name-error"' in late.text and 'id="f-phone-error"' not in late.text
    row = tenant_row(app)
    assert (row.name, row.phone, row.email) == ("Arvika kommunförvaltning", "0570-816 00", None)
    # Saved again from that page (its new stamp): a decision made knowing.
    again = save_profile_from(app, client, read_csrf, late.text)
    assert again.status_code == 303
    row = tenant_row(app)
    assert (row.name, row.phone, row.email) == (
        "Arvika kommun!",
        "0570-816 00",
        "kontakt@arvika.se",
    )


def test_the_profile_is_saved_and_shown_to_citizens(app, client, admin, read_csrf, resync):
    """On PostgreSQL this runs as the application role: column grants and row-level security
    let it update these columns of its own member (test_row_level_security has the refusals)."""
    form = profile_form(
        app,
        name="Arvika kommun – e-tjänster",
        short_name="Arvika",
        email="kontakt@arvika.se",
        phone="0570-816 00",
        visiting_address="Ågatan 31, Arvika",
        primary_colour="#1d4f91",
        accent_colour="#f2c230",
        privacy_notice="Vi behandlar dina uppgifter enligt GDPR.\n\nFråga <dataskydd>.",
        accessibility_statement="Webbplatsen uppfyller WCAG 2.1 AA.",
    )
    response = post_form(client, read_csrf, "/arvika/admin/profil", form)
    assert response.status_code == 303 and response.location == "/arvika/admin/profil"
    assert "Profilen är sparad." in client.get(response.location).text
    stored = tenant_row(app)
    assert stored.name == "Arvika kommun – e-tjänster"
    assert stored.primary_colour == "#1d4f91" and stored.phone == "0570-816 00"
    assert stored.profile_edited_at is not None
    home = client.get("/arvika/")
    assert "Arvika kommun – e-tjänster" in home.text and "kontakt@arvika.se" in home.text
    assert "--brand: #1d4f91" in client.get("/arvika/theme.css").text
    assert 'href="/arvika/integritet"' in home.text
    assert 'href="/arvika/tillganglighet"' in home.text
    privacy = client.get("/arvika/integritet")
    assert "<p>Vi behandlar dina uppgifter enligt GDPR.</p>" in privacy.text
    assert "<p>Fråga &lt;dataskydd&gt;.</p>" in privacy.text  # plain text, escaped
    assert "WCAG 2.1 AA" in client.get("/arvika/tillganglighet").text
    # Eda has written none: its pages say what the platform does, without a text of its own.
    eda = client.get("/eda/integritet")
    assert eda.status_code == 200 and "Mer från Eda kommun" not in eda.text
    assert audit_actions(app) == ["profile.changed"]
    # Emptying an optional field stores nothing, not an empty string.
    post_form(client, read_csrf, "/arvika/admin/profil", {**form, "privacy_notice": "  "})
    assert tenant_row(app).privacy_notice is None
    assert "enligt GDPR" not in client.get("/arvika/integritet").text


def test_a_colour_pair_that_fails_contrast_is_refused_with_the_ratio(
    app, client, admin, read_csrf, resync
):
    pale = "#e8a0b4"
    response = post_form(
        client, read_csrf, "/arvika/admin/profil", profile_form(app, primary_colour=pale)
    )
    assert response.status_code == 422
    measured = ratio_text(contrast_ratio(pale, "#ffffff"))
    assert measured == "2,0:1"
    assert f"Kontrasten mot vit text är {measured}; den ska vara minst 4,5:1." in response.text
    assert 'class="error-summary"' in response.text and 'href="#f-primary_colour"' in response.text
    # Readable under white text, but not as a link on the grey panels.
    grey = "#767676"
    on_panel = post_form(
        client, read_csrf, "/arvika/admin/profil", profile_form(app, primary_colour=grey)
    )
    assert on_panel.status_code == 422
    assert contrast_ratio(grey, "#ffffff") >= 4.5
    expected = ratio_text(contrast_ratio(grey, PANEL))
    assert f"Kontrasten mot den ljusgrå bakgrunden ({PANEL}) är {expected}" in on_panel.text
    assert tenant_row(app).primary_colour == "#7a1f3d"
    assert tenant_row(app).profile_edited_at is None
    assert audit_actions(app) == []
    # The summary lists the fields in the form's order, though the contrast is checked
    # after each field's own check.
    both = post_form(
        client,
        read_csrf,
        "/arvika/admin/profil",
        profile_form(app, primary_colour=pale, accent_colour="gult"),
    )
    summary = both.text[both.text.index('class="error-summary"') :]
    assert summary.index('href="#f-primary_colour"') < summary.index('href="#f-accent_colour"')


def test_bad_profile_fields_are_each_explained(app, client, admin, read_csrf, resync):
    response = post_form(
        client,
        read_csrf,
        "/arvika/admin/profil",
        profile_form(
            app,
            name="",
            website="http://www.arvika.se",
            email="inte-en-adress",
            phone="ring oss",
            accent_colour="rosa",
        ),
    )
    assert response.status_code == 422
    errors = error_text(response.text)
    assert "Fyll i namnet." in errors
    assert "Skriv webbadressen med https://" in errors
    assert "Skriv e-postadressen som namn@kommun.se." in errors
    assert "Skriv telefonnumret med siffror" in errors
    assert "Skriv accentfärgen som #rrggbb" in errors
    for name in ("name", "website", "email", "phone", "accent_colour"):
        assert f'aria-describedby="f-{name}-error"' in response.text or (
            f'aria-describedby="f-{name}-hint f-{name}-error"' in response.text
        )
    assert 'value="rosa"' in response.text  # what was typed stays for correcting
    assert tenant_row(app).website == "https://www.arvika.se"
    # One mistake, one message: "abc" is not digits, and saying it is too short as well
    # only sends the administrator to fix two things.
    short = post_form(client, read_csrf, "/arvika/admin/profil", profile_form(app, phone="abc"))
    assert "Skriv telefonnumret med siffror" in error_text(short.text)
    assert "Telefonnumret ska vara" not in error_text(short.text)


def test_an_english_page_writes_the_contrast_ratio_with_a_decimal_point(
    app, client, admin, read_csrf, resync
):
    client.get("/sprak/en?next=/arvika/admin/profil")
    page = post_form(
        client, read_csrf, "/arvika/admin/profil", profile_form(app, primary_colour="#e8a0b4")
    )
    assert page.status_code == 422
    assert "2.0:1" in page.text and "4.5:1" in page.text
    assert "2,0:1" not in page.text


# -- the logo --------------------------------------------------------------------------------


def upload_logo(client, read_csrf, content: bytes, filename="logo.png"):
    page = client.get("/arvika/admin/profil")
    # Encoded in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart(
        {"csrf_token": read_csrf(page.text), "logo": FileStorage(io.BytesIO(content), filename)}
    )
    return client.post(
        "/arvika/admin/profil/logotyp",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_a_logo_is_stored_privately_and_served_as_its_sniffed_type(
    app, client, admin, read_csrf, resync, upload_root
):
    response = upload_logo(client, read_csrf, tiny_png(), filename="logo.svg")
    assert response.status_code == 303
    tenant = tenant_row(app)
    assert tenant.logo_content_type == "image/png"
    assert tenant.profile_edited_at is None  # the files never set a logo: nothing to keep apart
    first = upload_root / str(tenant.id) / tenant.logo_storage_name
    assert first.read_bytes() == tiny_png()
    logo = client.get("/arvika/logotyp")
    assert logo.status_code == 200 and logo.data == tiny_png()
    assert logo.mimetype == "image/png"  # what the content is, not what the name said
    assert logo.headers["X-Content-Type-Options"] == "nosniff"
    # The view's own stricter policy, not replaced or joined by the pages' one.
    assert logo.headers.getlist("Content-Security-Policy") == ["default-src 'none'; sandbox"]
    assert logo.headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert logo.headers["Referrer-Policy"] == "same-origin"  # the others still added
    assert "max-age=300" in logo.headers["Cache-Control"]
    logo.close()
    home = client.get("/arvika/")
    assert '<img class="site-logo" src="/arvika/logotyp" alt="Arvika kommun">' in home.text
    # A new logo replaces the old file; removing it leaves no file and no logo.
    assert upload_logo(client, read_csrf, tiny_png()).status_code == 303
    assert not first.exists()
    second = upload_root / str(tenant.id) / tenant_row(app).logo_storage_name
    assert second.exists()
    removed = post_form(
        client, read_csrf, "/arvika/admin/profil", {}, action="/arvika/admin/profil/logotyp/ta-bort"
    )
    assert removed.status_code == 303
    assert not second.exists()
    assert client.get("/arvika/logotyp").status_code == 404
    assert client.get("/eda/logotyp").status_code == 404
    assert audit_actions(app) == ["profile.changed"] * 3


def test_a_logo_that_is_not_a_png_jpeg_or_webp_or_too_big_is_refused(
    app, client, admin, read_csrf, resync, upload_root
):
    folder = upload_root / str(tenant_row(app).id)
    # Files an earlier test left there (tests/test_uploads.py) are not this test's.
    earlier = set(folder.glob("logo-*"))
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    refused = upload_logo(client, read_csrf, svg, filename="logo.png")
    assert refused.status_code == 422
    assert "Logotypen ska vara en PNG-, JPEG- eller WebP-bild." in refused.text
    big = upload_logo(client, read_csrf, tiny_png() + b"\0" * (1024 * 1024))
    assert big.status_code == 422 and "högst 1 MB" in big.text
    empty = upload_logo(client, read_csrf, b"", filename="")
    assert empty.status_code == 422 and "Välj en bildfil" in empty.text
    # A PNG by its first bytes, cut short: it would show as a broken image in the header.
    whole = png_of_size(200, 100, noise=True)
    cut = upload_logo(client, read_csrf, whole[: len(whole) // 2])
    assert cut.status_code == 422
    assert "Logotypen går inte att visa: bildfilen är skadad eller ofullständig." in unescape(
        cut.text
    )
    # Small as a file, vast as an image: refused by its header, never decoded.
    vast = png_of_size(5000, 300)
    assert len(vast) < 1024 * 1024
    wide = upload_logo(client, read_csrf, vast)
    assert wide.status_code == 422
    assert "Logotypen är 5000 × 300 pixlar: den får vara högst 4000 pixlar åt varje håll." in (
        unescape(wide.text)
    )
    assert tenant_row(app).logo_storage_name is None
    assert set(folder.glob("logo-*")) == earlier  # nothing refused was written
    assert upload_logo(client, read_csrf, png_of_size(400, 100)).status_code == 303


def png_of_size(width: int, height: int, noise: bool = False) -> bytes:
    """A white PNG of that size, or one of noise (which does not compress: its pixel data
    is most of the file). Pillow is the app's own dependency."""
    from PIL import Image

    out = io.BytesIO()
    if noise:
        image = Image.frombytes("L", (width, height), os.urandom(width * height))
    else:
        image = Image.new("L", (width, height), 255)
    image.save(out, format="PNG")
    return out.getvalue()


# -- e-services ------------------------------------------------------------------------------


def test_services_are_listed_and_switched_off_and_on(app, client, admin, read_csrf, resync):
    page = admin.get("/arvika/admin/e-tjanster")
    for title in (
        "Synpunkter och klagomål",
        "Ansökan om förskoleplats",
        "Anmälan om installation av värmepump",
    ):
        assert title in page.text
    assert page.text.count('value="off"') == 7
    off = post_form(
        client,
        read_csrf,
        "/arvika/admin/e-tjanster",
        {"enabled": "off"},
        action="/arvika/admin/e-tjanster/synpunkter/vaxla",
    )
    assert off.status_code == 303
    service = service_row(app, "synpunkter")
    assert service.enabled is False and service.edited_at is not None
    assert client.get("/arvika/e/synpunkter").status_code == 404
    assert "6 av 7" in admin.get("/arvika/admin/").text
    on = post_form(
        client,
        read_csrf,
        "/arvika/admin/e-tjanster",
        {"enabled": "on"},
        action="/arvika/admin/e-tjanster/synpunkter/vaxla",
    )
    assert on.status_code == 303
    assert client.get("/arvika/e/synpunkter").status_code == 200
    assert service_row(app, "synpunkter", member="eda").edited_at is None
    assert audit_actions(app) == ["service.changed", "service.changed"]
    assert admin.get("/arvika/admin/e-tjanster/finns-inte/installningar").status_code == 404


def test_a_service_is_not_switched_on_without_its_required_settings(
    app, client, admin, read_csrf, resync
):
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(TenantService)
            .where(
                TenantService.service_slug == "forskoleplats",
                TenantService.tenant_id == tenant_row(app).id,
            )
            .values(enabled=False, settings={})
        )
        session.commit()
    response = post_form(
        client,
        read_csrf,
        "/arvika/admin/e-tjanster",
        {"enabled": "on"},
        action="/arvika/admin/e-tjanster/forskoleplats/vaxla",
    )
    assert response.status_code == 422
    assert "Fyll i inställningarna först (förskolor att välja bland)" in response.text
    assert service_row(app, "forskoleplats").enabled is False


def test_settings_are_checked_per_field_in_swedish(app, client, admin, read_csrf, resync):
    url = "/arvika/admin/e-tjanster/forskoleplats/installningar"
    page = admin.get(url)
    assert "Förskoleområde norr" in page.text  # the stored list, one per line
    response = post_form(client, read_csrf, url, {"intro": "x" * 4001, "preschools": " \n "})
    assert response.status_code == 422
    errors = error_text(response.text)
    assert "Inledande text får vara högst 4000 tecken." in errors
    assert "Fyll i förskolor att välja bland." in errors
    assert 'href="#f-preschools"' in response.text
    fee = post_form(
        client, read_csrf, "/arvika/admin/e-tjanster/varmepump/installningar", {"fee": "tvåhundra"}
    )
    assert fee.status_code == 422
    assert "Skriv avgift i kronor med siffror, till exempel 250 eller 250,50." in fee.text
    # A preschool twice would be offered twice to every parent.
    twice = post_form(client, read_csrf, url, {"preschools": "Solrosen\nBlåklockan\nsolrosen "})
    assert twice.status_code == 422
    assert "solrosen står två gånger i förskolor att välja bland." in error_text(twice.text)
    assert service_row(app, "forskoleplats").edited_at is None
    assert audit_actions(app) == []


def test_settings_are_saved_and_used_by_the_form(app, client, admin, read_csrf, resync):
    saved = post_form(
        client,
        read_csrf,
        "/arvika/admin/e-tjanster/forskoleplats/installningar",
        {"intro": "Välkommen!", "preschools": "Solrosen\n\n  Blåklockan \n"},
    )
    assert saved.status_code == 303
    service = service_row(app, "forskoleplats")
    assert service.settings == {"intro": "Välkommen!", "preschools": ["Solrosen", "Blåklockan"]}
    assert service.edited_at is not None
    step = client.get("/arvika/e/forskoleplats")
    assert "Välkommen!" in step.text
    fee = post_form(
        client, read_csrf, "/arvika/admin/e-tjanster/varmepump/installningar", {"fee": "1 250,5"}
    )
    assert fee.status_code == 303
    assert service_row(app, "varmepump").settings == {"fee": 125050}
    assert "1\xa0250,50\xa0kr" in client.get("/arvika/e/varmepump").text
    assert 'value="1250,50"' in admin.get("/arvika/admin/e-tjanster/varmepump/installningar").text
    assert audit_actions(app) == ["service.changed", "service.changed"]


# -- staff: invitations ----------------------------------------------------------------------


def invite(client, read_csrf, email, role="case_worker", name="Nils Nyman"):
    return post_form(
        client,
        read_csrf,
        "/arvika/admin/personal",
        {"name": name, "email": email, "role": role},
        action="/arvika/admin/personal/inbjudan",
    )


def mail_bodies(app, email: str) -> list[str]:
    with app.app_context(), maintenance_session() as session:
        return list(
            session.execute(
                sa.text("SELECT body FROM outbox_messages WHERE recipient = :r ORDER BY id"),
                {"r": email},
            ).scalars()
        )


def invitation_link(app, email: str) -> str:
    links = [
        re.search(r"http://localhost(/\S+/staff/inbjudan/\S+)", b).group(1)
        for b in mail_bodies(app, email)
    ]
    assert links, f"no invitation mail to {email}"
    return links[-1]


def user_id(app, email: str) -> int:
    with app.app_context(), maintenance_session() as session:
        return session.scalar(sa.select(User.id).filter_by(email=email))


def memberships(app, slug: str) -> dict[str, str]:
    with app.app_context(), maintenance_session() as session:
        rows = session.execute(
            sa.select(User.email, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Tenant.slug == slug)
        )
        return {email: role for email, role in rows}


def test_an_invitee_without_an_account_chooses_a_password_and_joins(app, client, admin, read_csrf):
    sent = invite(client, read_csrf, "Nils@Arvika.example")
    assert sent.status_code == 303
    assert "Inbjudan skickad till nils@arvika.example." in admin.get(sent.location).text
    link = invitation_link(app, "nils@arvika.example")
    token = link.rsplit("/", 1)[1]
    # The mail cannot say whether the address has an account (at another member, perhaps):
    # it tells both what to do, rather than "choose a password" to someone who has one.
    [body] = mail_bodies(app, "nils@arvika.example")
    assert "Har du redan ett konto i Samverkan loggar du in med ditt lösenord där" in body
    assert "annars väljer du ett lösenord" in body
    with app.app_context(), maintenance_session() as session:
        stored = session.scalar(sa.select(Invitation))
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert timedelta(days=6) < stored.expires_at - datetime.now(UTC) <= timedelta(days=7)
    assert "Nils Nyman" in admin.get("/arvika/admin/personal").text  # pending

    invitee = app.test_client()
    page = invitee.get(link)
    assert page.status_code == 200 and "Välj ett lösenord" in page.text
    form = {"csrf_token": read_csrf(page.text), "name": "Nils Nyman"}
    differ = invitee.post(link, data={**form, "password": PASSWORD, "password_again": "annat"})
    assert differ.status_code == 422 and "Lösenorden är inte lika." in differ.text
    short = invitee.post(link, data={**form, "password": "kort", "password_again": "kort"})
    assert short.status_code == 422 and "Lösenordet ska vara 12–200 tecken." in short.text
    assert count_all(app, "users") == 1
    joined = invitee.post(link, data={**form, "password": PASSWORD, "password_again": PASSWORD})
    assert joined.status_code == 303 and joined.location == "/arvika/staff/logga-in"
    assert (
        "Klart! Du arbetar nu hos Arvika kommun som handläggare."
        in invitee.get(joined.location).text
    )
    assert memberships(app, "arvika")["nils@arvika.example"] == "case_worker"
    assert sign_in(invitee, read_csrf, "nils@arvika.example").status_code == 303
    assert "staff.joined" in audit_actions(app)
    used = app.test_client().get(link)
    assert used.status_code == 404 and "Inbjudan gäller inte." in used.text


def test_an_existing_account_joins_with_its_own_password_which_stays(app, client, admin, read_csrf):
    assert create(app, "bo@eda.example", tenant="eda").exit_code == 0
    before = tenant_password(app, "bo@eda.example")
    # The administrator learns nothing about whether the address has an account.
    answers = []
    for email in ("bo@eda.example", "ny@arvika.example"):
        sent = invite(client, read_csrf, email, role="tenant_admin")
        page = admin.get(sent.location)
        # The CSRF token carries a timestamp: it differs between pages, so it is left out.
        text = re.sub(r'name="csrf_token" value="[^"]+"', "", page.text)
        answers.append((sent.status_code, text.replace(email, "ADDRESS").split("<h1>")[0]))
    assert answers[0] == answers[1]
    assert "Inbjudan skickad till ADDRESS." in answers[0][1]
    link = invitation_link(app, "bo@eda.example")
    invitee = app.test_client()
    page = invitee.get(link)
    assert "Du har redan ett konto" in page.text and "Välj ett lösenord" not in page.text
    token = read_csrf(page.text)
    new_password = "ett-helt-nytt-lösenord"
    wrong = invitee.post(
        link,
        data={"csrf_token": token, "password": new_password, "password_again": new_password},
    )
    assert wrong.status_code == 422 and "Fel lösenord." in wrong.text
    assert tenant_password(app, "bo@eda.example") == before
    assert "bo@eda.example" not in memberships(app, "arvika")
    right = invitee.post(link, data={"csrf_token": token, "password": PASSWORD})
    assert right.status_code == 303
    assert tenant_password(app, "bo@eda.example") == before
    assert memberships(app, "arvika")["bo@eda.example"] == "tenant_admin"
    assert memberships(app, "eda")["bo@eda.example"] == "case_worker"
    assert sign_in(app.test_client(), read_csrf, "bo@eda.example").status_code == 303


def tenant_password(app, email: str) -> str:
    with app.app_context(), maintenance_session() as session:
        return session.scalar(sa.select(User.password_hash).filter_by(email=email))


def test_an_invitation_opens_only_at_its_member_and_only_until_it_expires(
    app, client, admin, read_csrf
):
    invite(client, read_csrf, "nils@arvika.example")
    link = invitation_link(app, "nils@arvika.example")
    stranger = app.test_client()
    assert stranger.get(link.replace("/arvika/", "/eda/")).status_code == 404
    page = stranger.get(link)
    refused = stranger.post(
        link.replace("/arvika/", "/eda/"),
        data={
            "csrf_token": read_csrf(page.text),
            "name": "Nils",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert refused.status_code == 404 and count_all(app, "users") == 1
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Invitation).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        session.commit()
    expired = stranger.get(link)
    assert expired.status_code == 404 and "gått ut" in expired.text
    assert stranger.get("/arvika/staff/inbjudan/" + "A" * 43).status_code == 404


def test_a_pending_invitation_can_be_withdrawn_and_its_link_stops_working(
    app, client, admin, read_csrf
):
    """A mistyped address stayed valid for seven days with no way to take it back."""
    invite(client, read_csrf, "nils@arvika.exampel")
    link = invitation_link(app, "nils@arvika.exampel")
    page = client.get("/arvika/admin/personal").text
    action = re.search(r'action="(/arvika/admin/personal/inbjudan/\d+/dra-tillbaka)"', page).group(
        1
    )
    assert "Dra tillbaka" in page and "inbjudan till nils@arvika.exampel" in page
    # Another member's administrator cannot withdraw it.
    assert create(app, EDA_ADMIN, tenant="eda", role="tenant_admin").exit_code == 0
    eda = app.test_client()
    sign_in(eda, read_csrf, EDA_ADMIN, tenant="eda")
    eda_token = read_csrf(eda.get("/eda/admin/personal").text)
    assert (
        eda.post(action.replace("/arvika/", "/eda/"), data={"csrf_token": eda_token}).status_code
        == 404
    )
    withdrawn = client.post(action, data={"csrf_token": read_csrf(page)})
    assert withdrawn.status_code == 303
    after = client.get("/arvika/admin/personal").text
    assert "Inbjudan till nils@arvika.exampel är tillbakadragen." in after
    assert "Väntande inbjudningar" not in after
    assert app.test_client().get(link).status_code == 404
    assert client.post(action, data={"csrf_token": read_csrf(after)}).status_code == 404
    assert "staff.invitation_withdrawn" in audit_actions(app)


def test_bad_invitations_are_explained_and_send_nothing(app, client, admin, read_csrf):
    response = invite(client, read_csrf, "inte-en-adress", role="chef", name="")
    assert response.status_code == 422
    errors = error_text(response.text)
    assert "Fyll i namnet." in errors
    assert "Skriv e-postadressen som namn@kommun.se." in errors
    assert "Välj administratör eller handläggare." in errors
    assert count_all(app, "invitations") == 0 and count_all(app, "outbox_messages") == 0


# -- staff: roles and removal ----------------------------------------------------------------


def change_role(client, read_csrf, user: int, role: str):
    """The staff page's role form for one person, sent."""
    return post_form(
        client,
        read_csrf,
        "/arvika/admin/personal",
        {"role": role},
        action=f"/arvika/admin/personal/{user}/roll",
    )


def test_the_last_administrator_cannot_demote_or_remove_themself(app, client, admin, read_csrf):
    me = user_id(app, ADMIN)
    demote = change_role(client, read_csrf, me, "case_worker")
    assert demote.status_code == 422 and "minst en administratör" in demote.text
    leave = post_form(client, read_csrf, f"/arvika/admin/personal/{me}/ta-bort", {})
    assert leave.status_code == 422 and "minst en administratör" in leave.text
    assert memberships(app, "arvika") == {ADMIN: "tenant_admin"}
    # With a second administrator, roles can move.
    assert create(app, "anna@arvika.example").exit_code == 0
    anna = user_id(app, "anna@arvika.example")
    promoted = change_role(client, read_csrf, anna, "tenant_admin")
    assert promoted.status_code == 303
    bad = change_role(client, read_csrf, anna, "chef")
    assert bad.status_code == 422 and "Välj administratör eller handläggare." in bad.text
    assert memberships(app, "arvika")["anna@arvika.example"] == "tenant_admin"
    # Now there is another administrator, stepping down is allowed, and it takes effect.
    stepped_down = change_role(client, read_csrf, me, "case_worker")
    assert stepped_down.status_code == 303 and stepped_down.location == "/arvika/staff/"
    assert client.get("/arvika/admin/personal").status_code == 403
    assert audit_actions(app) == ["staff.role_changed", "staff.role_changed"]


def test_a_deactivated_administrator_does_not_count_and_cannot_be_promoted(
    app, client, admin, read_csrf
):
    """Two administrators, one leaves and is deactivated: the other is now the last one
    who can sign in, and a deactivated account is no way round that rule."""
    me = user_id(app, ADMIN)
    assert create(app, "anna@arvika.example", role="tenant_admin").exit_code == 0
    assert create(app, "bo@arvika.example").exit_code == 0
    for email in ("anna@arvika.example", "bo@arvika.example"):
        assert app.test_cli_runner().invoke(args=["users", "deactivate", email]).exit_code == 0
    demote = change_role(client, read_csrf, me, "case_worker")
    assert demote.status_code == 422 and "minst en administratör" in demote.text
    bo = user_id(app, "bo@arvika.example")
    promote = change_role(client, read_csrf, bo, "tenant_admin")
    assert promote.status_code == 422
    assert "Kontot är avstängt och kan inte få en ny roll." in promote.text
    assert memberships(app, "arvika") == {
        ADMIN: "tenant_admin",
        "anna@arvika.example": "tenant_admin",
        "bo@arvika.example": "case_worker",
    }
    # The deactivated administrator can be taken off: the rule counts only who can sign in.
    anna = user_id(app, "anna@arvika.example")
    assert (
        post_form(client, read_csrf, f"/arvika/admin/personal/{anna}/ta-bort", {}).status_code
        == 303
    )
    assert "anna@arvika.example" not in memberships(app, "arvika")


def test_removing_a_membership_ends_their_sessions_and_frees_their_cases(
    app, client, admin, read_csrf
):
    assert create(app, "anna@arvika.example").exit_code == 0
    anna_client = app.test_client()
    sign_in(anna_client, read_csrf, "anna@arvika.example")
    reference = client.post(
        "/api/v1/tenants/arvika/services/synpunkter/submissions", json=ANSWERS
    ).get_json()["reference"]
    case_page = anna_client.get(f"/arvika/staff/arenden/{reference}")
    taken = anna_client.post(
        f"/arvika/staff/arenden/{reference}/tilldela",
        data={"csrf_token": read_csrf(case_page.text), "assignee": "me"},
    )
    assert taken.status_code == 303
    cookie = anna_client.get_cookie("session").value
    anna = user_id(app, "anna@arvika.example")
    confirm = admin.get(f"/arvika/admin/personal/{anna}/ta-bort")
    assert "Ta bort Anna Handläggare?" in confirm.text
    removed = client.post(
        f"/arvika/admin/personal/{anna}/ta-bort", data={"csrf_token": read_csrf(confirm.text)}
    )
    assert removed.status_code == 303
    replay = app.test_client()
    replay.set_cookie("session", cookie, domain="localhost")
    assert replay.get("/arvika/staff/").status_code == 302  # signed out, on the server
    assert "anna@arvika.example" not in memberships(app, "arvika")
    with app.app_context(), maintenance_session() as session:
        assigned = session.execute(
            sa.text("SELECT assigned_to_id FROM cases WHERE reference = :r"), {"r": reference}
        ).scalar_one()
    assert assigned is None
    assert audit_actions(app)[-2:] == ["case.assigned", "staff.removed"]
    assert admin.get(f"/arvika/admin/personal/{anna}/ta-bort").status_code == 404


# -- the audit log ---------------------------------------------------------------------------


def test_the_log_is_narrowed_to_one_case_and_one_kind_of_entry(app, client, admin, read_csrf):
    """A data protection officer asked who saw Anna's case, or whether it went out in an
    export, read 50 entries a page of everything."""
    from test_casework import submit

    one, other = submit(client)["reference"], submit(client)["reference"]
    for reference in (one, other):
        client.get(f"/arvika/staff/arenden/{reference}")
    assert one in client.get("/arvika/staff/export.csv?service=synpunkter").text
    page = client.get(f"/arvika/admin/logg?avser={one}").text
    rows = re.findall(
        r"<tr>\s*<td>.*?</td>\s*<td>.*?</td>\s*<td>.*?</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>",
        page,
        re.S,
    )
    assert ("Visade ärende", one) in rows
    assert any(what.startswith("Exporten skickades") for what, _ in rows)  # it lists the case
    assert all(one in about or what.startswith("Exporten") for what, about in rows)
    assert other not in page.split("<table", 1)[1]
    only = client.get(f"/arvika/admin/logg?avser={one}&handling=case.viewed").text
    assert len(re.findall(r"Visade ärende", only.split("<table", 1)[1])) == 1
    none = client.get("/arvika/admin/logg?avser=ARV-1999-000001").text
    assert "Inga händelser stämmer med sökningen." in none
    # The filter offers what a member's log can hold: not the hub's own runs and reads.
    offered = client.get("/arvika/admin/logg").text
    assert 'value="hub.member_onboarded"' in offered and 'value="case.viewed"' in offered
    assert 'value="costs.allocated"' not in offered and 'value="hub.overview"' not in offered
    bad = client.get("/arvika/admin/logg?handling=case.stolen")
    assert bad.status_code == 422 and 'href="#f-handling"' in bad.text


def test_the_log_says_what_a_status_change_and_an_assignment_were(app, client, admin, read_csrf):
    """Every status change read "(? → ?)" and an assignment did not say to whom."""
    from test_casework import submit

    one = submit(client)["reference"]
    case = f"/arvika/staff/arenden/{one}"
    moved = post_form(client, read_csrf, case, {"status": "in_progress"}, action=f"{case}/status")
    assert moved.status_code == 303
    post_form(client, read_csrf, case, {"ta_sjalv": "1"}, action=f"{case}/tilldela")
    again = post_form(
        client, read_csrf, case, {"ta_sjalv": "1"}, action=f"{case}/tilldela", follow_redirects=True
    )
    assert "Ingen ändring: ärendet har redan den handläggaren." in again.text
    assert "Handläggaren är ändrad." not in again.text
    post_form(client, read_csrf, case, {"assignee": ""}, action=f"{case}/tilldela")
    page = client.get(f"/arvika/admin/logg?avser={one}").text
    assert "Mottaget → Under handläggning" in page
    assert "till Anna Handläggare" in page and "till ingen" in page
    assert "?" not in page.split("<table", 1)[1].split("</table>", 1)[0]
    assert audit_actions(app).count("case.assigned") == 2  # the second press wrote nothing
    kept = {"csrf_token": read_csrf(client.get(case).text), "status": "in_progress"}
    post_form(
        client,
        read_csrf,
        case,
        {**kept, "seen_status": "in_progress", "message": "Hej"},
        action=f"{case}/status",
    )
    page = client.get(f"/arvika/admin/logg?avser={one}").text
    assert "Skrev till den sökande" in page and "(Under handläggning)" in page
    assert "?" not in page.split("<table", 1)[1].split("</table>", 1)[0]
    client.get("/sprak/en")
    english = client.get(f"/arvika/admin/logg?avser={one}").text
    assert "Received → In progress" in english and "to nobody" in english


def test_the_log_shows_the_members_own_entries_newest_first(app, client, admin, read_csrf, resync):
    post_form(client, read_csrf, "/arvika/admin/profil", profile_form(app, short_name="Arvika!"))
    invite(client, read_csrf, "nils@arvika.example")
    eda_admin = app.test_client()
    assert create(app, EDA_ADMIN, tenant="eda", role="tenant_admin").exit_code == 0
    sign_in(eda_admin, read_csrf, EDA_ADMIN, tenant="eda")
    post_form(
        eda_admin,
        read_csrf,
        "/eda/admin/personal",
        {"name": "Eda-person", "email": "hemlig@eda.example", "role": "case_worker"},
        action="/eda/admin/personal/inbjudan",
    )
    log = admin.get("/arvika/admin/logg")
    assert log.status_code == 200
    rows = re.findall(
        r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", log.text, re.S
    )
    # The administrator's own account, made from the command line, is the oldest entry.
    assert [row[3] for row in rows] == [
        "Bjöd in medarbetare",
        "Ändrade profil",
        "Gav en roll från kommandoraden",
    ]
    # The command line, named in the page's words (it was stored 'cli').
    assert rows[-1][1] == "kommandoraden" and f"{ADMIN} (– → Administratör)" in log.text
    rows = rows[:-1]
    assert all(row[1] == ADMIN and row[2] == "127.0.0.1" for row in rows)
    assert " kl. " in rows[0][0]
    assert "arvika (kortnamn)" in log.text
    assert "nils@arvika.example (Handläggare)" in log.text
    assert "hemlig@eda.example" not in log.text
    assert "hemlig@eda.example" in eda_admin.get("/eda/admin/logg").text


def test_the_log_pages_with_a_keyset_cursor_without_gaps(app, admin):
    arvika = tenant_row(app).id
    moment = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    with app.app_context(), maintenance_session() as session:
        for n in range(120):
            session.add(
                AuditEntry(
                    tenant_id=arvika,
                    at=moment + timedelta(minutes=n // 3),  # three share each moment
                    actor="system",
                    action="case.viewed",
                    object_type="case",
                    object_ref=f"ARV-2026-{n:06d}",
                )
            )
        session.commit()
    seen, url = [], "/arvika/admin/logg"
    while url:
        page = admin.get(url)
        assert page.status_code == 200
        entries = page.text.split("<table", 1)[1]  # not the filter's example above it
        seen += re.findall(r"ARV-2026-\d{6}", entries)
        older = re.search(r'href="([^"]*cursor=[^"]*)"[^>]*>Äldre händelser', page.text)
        url = older and older.group(1).replace("&amp;", "&")
    assert seen == [f"ARV-2026-{n:06d}" for n in reversed(range(120))]
    assert admin.get("/arvika/admin/logg?cursor=trasig").status_code == 422


def test_an_invitation_never_changes_the_role_of_someone_already_here(
    app, client, admin, read_csrf
):
    """It would change nothing while looking as if it had: refused by its field, naming
    the role they have. One accepted by someone who joined meanwhile keeps their role,
    and the log says the role they hold."""
    refused = invite(client, read_csrf, ADMIN, role="case_worker")  # the only administrator
    assert refused.status_code == 422
    assert "arbetar redan här, som administratör" in error_text(refused.text)
    assert count_all(app, "invitations") == 0 and count_all(app, "outbox_messages") == 0
    assert invite(client, read_csrf, "bo@arvika.example", role="tenant_admin").status_code == 303
    link = invitation_link(app, "bo@arvika.example")
    assert create(app, "bo@arvika.example").exit_code == 0  # made a case worker meanwhile
    invitee = app.test_client()
    page = invitee.get(link)
    accepted = invitee.post(link, data={"csrf_token": read_csrf(page.text), "password": PASSWORD})
    assert accepted.status_code == 303
    assert memberships(app, "arvika")["bo@arvika.example"] == "case_worker"
    with app.app_context(), maintenance_session() as session:
        joined = session.scalar(
            sa.select(AuditEntry.detail).where(AuditEntry.action == "staff.joined")
        )
    assert joined["role"] == "case_worker"
    assert memberships(app, "arvika")[ADMIN] == "tenant_admin"
    assert client.get("/arvika/admin/").status_code == 200


def test_an_address_the_outbox_cannot_send_to_is_refused_where_it_is_typed(
    app, client, admin, read_csrf
):
    """'åsa.öst@arvika.se' was reported sent and failed in the outbox, unseen."""
    response = invite(client, read_csrf, "åsa.öst@arvika.se")
    assert response.status_code == 422
    assert "Skriv delen före @ utan å, ä, ö" in error_text(response.text)
    assert count_all(app, "invitations") == 0 and count_all(app, "outbox_messages") == 0
    cli = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "åsa@arvika.example",
            "--tenant",
            "arvika",
            "--role",
            "case_worker",
        ]
    )
    assert cli.exit_code == 1 and "ASCII before the @" in cli.output


def test_karlstads_administrators_cannot_touch_the_hubs_roles(app, client, read_csrf):
    assert create(app, "it@karlstad.example", tenant="karlstad", role="tenant_admin").exit_code == 0
    assert create(app, "navet@karlstad.example", tenant="karlstad", role="hub_admin").exit_code == 0
    assert sign_in(client, read_csrf, "it@karlstad.example", tenant="karlstad").status_code == 303
    staff_page = client.get("/karlstad/admin/personal")
    assert "navet@karlstad.example" not in staff_page.text
    with app.app_context(), maintenance_session() as session:
        hub_admin = session.scalar(sa.select(User.id).filter_by(email="navet@karlstad.example"))
    token = read_csrf(staff_page.text)
    demote = client.post(
        f"/karlstad/admin/personal/{hub_admin}/roll",
        data={"csrf_token": token, "role": "case_worker"},
    )
    remove = client.post(
        f"/karlstad/admin/personal/{hub_admin}/ta-bort", data={"csrf_token": token}
    )
    assert (demote.status_code, remove.status_code) == (404, 404)
    assert memberships(app, "karlstad")["navet@karlstad.example"] == "hub_admin"


def test_an_administrator_finds_a_persons_cases_by_personnummer(app, client, admin, read_csrf):
    """Article 15 in full: Mina ärenden finds what a person sent signed in with e-ID; a
    preschool application names a guardian's personnummer whoever sent it, and free text
    may too. The search is logged, the personnummer never."""
    import json

    from api_support import FORSKOLEPLATS
    from test_casework import submit

    named = submit(client, service="forskoleplats", answers=FORSKOLEPLATS)["reference"]
    said = {"kind": "fraga", "area": "annat", "want_reply": "no"}
    typed = submit(client, answers={**said, "message": "Mitt personnummer: 8112289874."})
    other = submit(client)["reference"]
    elsewhere = submit(client, member="eda", service="forskoleplats", answers=FORSKOLEPLATS)
    page = client.get("/arvika/admin/person")
    assert page.status_code == 200 and 'id="f-personnummer"' in page.text
    found = client.post(
        "/arvika/admin/person",
        data={"csrf_token": read_csrf(page.text), "personnummer": "811228-9874"},
    )
    assert found.status_code == 200
    listed = re.findall(r">([A-Z]{3}-\d{4}-\d{6})</a>", found.text)
    assert sorted(listed) == sorted([named, typed["reference"]])
    assert other not in found.text and elsewhere["reference"] not in found.text
    assert "personnumret i svaren" in found.text
    wrong = client.post(
        "/arvika/admin/person", data={"csrf_token": read_csrf(page.text), "personnummer": "123"}
    )
    assert wrong.status_code == 422 and "Skriv ett personnummer" in wrong.text
    with app.app_context(), maintenance_session() as session:
        [detail] = (
            session.execute(
                sa.text("SELECT detail FROM audit_log WHERE action = 'person.searched'")
            )
            .scalars()
            .all()
        )
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert sorted(detail["found"]) == sorted([named, typed["reference"]])
    assert "9874" not in json.dumps(detail)  # FORSKOLEPLATS's guardian: 19811228-9874
    log = client.get(f"/arvika/admin/logg?avser={named}").text
    assert "Sökte en persons ärenden" in log


def test_an_api_key_entry_is_described_by_its_label_and_owner(app):
    """Its object is the key's number ("2"), which tells a reader of the log nothing."""
    from samverkan.admin.log import describe

    entry = AuditEntry(
        action="token.created",
        object_ref="2",
        detail={"label": "Diariet", "user": "anna@arvika.example"},
    )
    with app.test_request_context("/arvika/admin/logg"):
        assert describe(entry) == "”Diariet”, anna@arvika.example"
