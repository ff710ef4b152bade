"""N_, in a module that imports nothing: the models and the audit log mark texts with it,
and samverkan.i18n (which imports the access checks, which import them) cannot be
imported from there."""


def N_(text: str) -> str:
    """gettext's customary no-op marker: a Swedish text for the catalogues (pybabel
    extracts N_ as it does _) that stays Swedish where it is made, since the API answers
    in Swedish; a page that shows it translates it then (gettext)."""
    return text
