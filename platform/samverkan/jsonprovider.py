"""JSON as the API sends it: < > & escaped, so a client's text echoed back in an error
can never be read as markup, whatever a browser guesses the content to be."""

from flask.json.provider import DefaultJSONProvider


class SafeJSONProvider(DefaultJSONProvider):
    sort_keys = False  # fields in the order the schemas declare them
    ensure_ascii = False

    def dumps(self, obj, **kwargs) -> str:
        text = super().dumps(obj, **kwargs)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
