"""Error pages for people and error bodies for the API: clear words, never a stack trace."""

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

MESSAGES = {
    400: ("Felaktig begäran", "Det som skickades gick inte att tolka."),
    401: ("Inloggning krävs", "Du behöver logga in, eller skicka en giltig nyckel, för det här."),
    403: ("Inte tillåtet", "Ditt konto får inte göra det här."),
    404: ("Sidan finns inte", "Sidan du letar efter finns inte, eller så är adressen felstavad."),
    405: ("Metoden stöds inte", "Sidan kan inte användas på det sättet."),
    413: ("För stor förfrågan", "Det du skickade är för stort för att tas emot."),
    409: ("Konflikt", "Begäran krockar med något som redan finns."),
    429: (
        "För många försök",
        "Du har försökt för många gånger på kort tid. Vänta några minuter och försök igen.",
    ),
    415: ("Fel innehållstyp", "Skicka JSON med rubriken Content-Type: application/json."),
    500: ("Något gick fel", "Ett oväntat fel inträffade hos oss. Försök igen om en stund."),
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(code: int, message: str | None = None, description: str | None = None):
    title, default = MESSAGES.get(code, ("Fel", "Något gick fel."))
    text = message or default
    if wants_json():
        return jsonify({"error": title, "message": text}), code
    return render_template(
        "error.html", code=code, title=title, message=text, description=description
    ), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return error_response(
            400,
            "Formuläret hade gått ut eller kom inte från den här sidan. "
            "Gå tillbaka, ladda om sidan och försök igen.",
        )

    @app.errorhandler(SecurityError)
    def _untrusted_host(exc):
        # No page to render: every link on it would be built from the refused host.
        return (
            "Okänt värdnamn: adressen hör inte till den här tjänsten.\n",
            400,
            {"Content-Type": "text/plain; charset=utf-8"},
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        body, code = error_response(exc.code or 500)
        allow = [value for name, value in exc.get_headers() if name == "Allow"]
        return body, code, {"Allow": allow[0]} if allow else {}
